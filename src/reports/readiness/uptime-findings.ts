import { humanDuration } from '../history.ts';
import type { Gap } from './readiness.ts';
import type { UptimeWatch } from './uptime.ts';

/** Whether the period's uptime is on record, and how long the bot was not running in it (clipped to the period and now). */
export interface UptimeSummary {
  /** The first `bot.started` in the ledger; null: the ledger was written by a version that did not record its lifecycle. */
  recorded_since: string | null;
  /** Not running with no clean stop recorded. */
  down_ms: number;
  /** Stopped cleanly. */
  stopped_ms: number;
}

interface Period {
  from: Date;
  to: Date;
  now: Date;
}

/** The bot_down, bot_stopped and checkpoint_overdue findings of the period, and its uptime summary. */
export function uptimeFindings(watch: UptimeWatch, { from, to, now }: Period): { gaps: Gap[]; summary: UptimeSummary } {
  const gaps: Gap[] = [];
  const summary: UptimeSummary = { recorded_since: watch.firstStarted?.at.toISOString() ?? null, down_ms: 0, stopped_ms: 0 };
  const overlap = (start: Date, end: Date) => Math.max(0, Math.min(end.getTime(), to.getTime(), now.getTime()) - Math.max(start.getTime(), from.getTime()));

  for (const down of watch.downtimesAsOf(now)) {
    const end = down.end ?? now;
    const inPeriod = overlap(down.start, end);
    if (inPeriod <= 0) continue;
    if (down.planned) summary.stopped_ms += inPeriod;
    else summary.down_ms += inPeriod;
    const length = end.getTime() - down.start.getTime();
    const span = down.end
      ? `from ${down.start.toISOString()} to ${down.end.toISOString()} (${humanDuration(length)})`
      : `from ${down.start.toISOString()}, and nothing is recorded since (as of ${now.toISOString()}, ${humanDuration(length)})`;
    const events = `the last event before is ${down.startSeq}${down.endSeq !== null ? ` and the next after is ${down.endSeq}` : ''}`;
    gaps.push({
      kind: down.planned ? 'bot_stopped' : 'bot_down',
      summary: down.planned
        ? `The bot was stopped cleanly ${span}: bot.stopping was recorded before and bot.started after (${events}).`
        : `The bot was not running ${span}, and no clean stop is recorded: a crash, the host down or the bot cut off from its database (${events}).`,
      seqs: [down.startSeq, ...(down.endSeq !== null ? [down.endSeq] : [])],
      at: down.start.toISOString(),
      start: down.start.toISOString(),
      end: end.toISOString(),
      duration_ms: length,
    });
  }

  for (const interval of watch.checkpointIntervalsAsOf(now)) {
    const until = interval.until ?? now;
    if (overlap(interval.since, until) <= 0) continue;
    const length = until.getTime() - interval.since.getTime();
    gaps.push({
      kind: 'checkpoint_overdue',
      summary: `No signed checkpoint for ${humanDuration(length)}: from ${interval.since.toISOString()} (event ${interval.sinceSeq}) ${
        interval.until ? `to the next at ${interval.until.toISOString()} (event ${interval.untilSeq})` : `to ${now.toISOString()}, and none since`
      }; while it runs the bot signs at least daily, so it was not running or its checkpoint worker was not working.`,
      seqs: [interval.sinceSeq, ...(interval.untilSeq !== null ? [interval.untilSeq] : [])],
      at: interval.since.toISOString(),
      start: interval.since.toISOString(),
      end: until.toISOString(),
      duration_ms: length,
    });
  }
  return { gaps, summary };
}

/** One line for the text and Markdown reports. */
export function uptimeLine(uptime: UptimeSummary, period: { from: string }): string {
  if (uptime.recorded_since === null) return 'Uptime: not recorded (no bot.started in the ledger: it was written by a version that did not record its starts and stops).';
  const before = uptime.recorded_since > period.from ? `not recorded before ${uptime.recorded_since} (the first bot.started); ` : '';
  const parts = [
    ...(uptime.down_ms > 0 ? [`${humanDuration(uptime.down_ms)} with no clean stop recorded`] : []),
    ...(uptime.stopped_ms > 0 ? [`${humanDuration(uptime.stopped_ms)} stopped cleanly`] : []),
  ];
  const off = parts.length === 0 ? 'running throughout the period as recorded' : `not running in the period for ${parts.join(' and ')}`;
  return `Uptime: ${before}${off}.`;
}
