import type { StoredEvent } from '../../ledger/event.ts';
import { MAX_UNCOVERED_MS } from '../../ledger/checkpoint-coverage.ts';

/** While it runs the bot records something (a heartbeat at least) every hour: a longer silence means it was not running. */
export const DOWNTIME_AFTER_MS = 2 * 3_600_000;

/** A stretch the bot was not running: no event between `start` and `end`. */
export interface Downtime {
  /** The last event before it. */
  start: Date;
  startSeq: number;
  /** The first event after it; null while the silence goes on (judged against now). */
  end: Date | null;
  endSeq: number | null;
  /** `bot.stopping` before it and `bot.started` after it: a clean, planned stop. */
  planned: boolean;
}

/** More than a day between signed checkpoints (or from the first start to the first checkpoint). */
export interface CheckpointInterval {
  since: Date;
  sinceSeq: number;
  /** The next checkpoint; null when none has come yet (judged against now). */
  until: Date | null;
  untilSeq: number | null;
}

type Mark = { at: Date; seq: number; kind: string };

/**
 * The control's own uptime, event by event in seq order, from the first `bot.started` on (before
 * it, the ledger was written by a version that did not record its lifecycle, so silences there
 * prove nothing). Any event is a sign of life; heartbeats make sure there is one at least hourly.
 */
export class UptimeWatch {
  firstStarted: { at: Date; seq: number } | null = null;
  private readonly downtimes: Downtime[] = [];
  private readonly intervals: CheckpointInterval[] = [];
  private last: Mark | null = null;
  private lastCheckpoint: Mark | null = null;

  add(event: StoredEvent): void {
    const mark = { at: event.occurredAt, seq: event.seq, kind: event.kind };
    if (!this.firstStarted && event.kind === 'bot.started') {
      this.firstStarted = { at: event.occurredAt, seq: event.seq };
      this.lastCheckpoint = mark;
    } else if (this.firstStarted && this.last) {
      if (event.occurredAt.getTime() - this.last.at.getTime() > DOWNTIME_AFTER_MS) {
        this.downtimes.push({ start: this.last.at, startSeq: this.last.seq, end: event.occurredAt, endSeq: event.seq, planned: this.last.kind === 'bot.stopping' && event.kind === 'bot.started' });
      }
      if (event.kind === 'ledger.checkpoint' && this.lastCheckpoint) {
        if (event.occurredAt.getTime() - this.lastCheckpoint.at.getTime() > MAX_UNCOVERED_MS) {
          this.intervals.push({ since: this.lastCheckpoint.at, sinceSeq: this.lastCheckpoint.seq, until: event.occurredAt, untilSeq: event.seq });
        }
      }
    }
    if (event.kind === 'ledger.checkpoint' && this.firstStarted) this.lastCheckpoint = mark;
    // Replicas' clocks may differ a little: a silence is measured from the latest time seen.
    if (!this.last || event.occurredAt >= this.last.at) this.last = mark;
  }

  /** The stretches the bot was not running, oldest first, including one still going on at `now`. */
  downtimesAsOf(now: Date): Downtime[] {
    const last = this.last;
    if (!this.firstStarted || !last || now.getTime() - last.at.getTime() <= DOWNTIME_AFTER_MS) return [...this.downtimes];
    return [...this.downtimes, { start: last.at, startSeq: last.seq, end: null, endSeq: null, planned: last.kind === 'bot.stopping' }];
  }

  /** The checkpoint intervals of more than a day, including one still open at `now`. */
  checkpointIntervalsAsOf(now: Date): CheckpointInterval[] {
    const since = this.lastCheckpoint;
    if (!since || now.getTime() - since.at.getTime() <= MAX_UNCOVERED_MS) return [...this.intervals];
    return [...this.intervals, { since: since.at, sinceSeq: since.seq, until: null, untilSeq: null }];
  }
}
