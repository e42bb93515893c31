import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../src/ledger/checkpoint.ts';
import { EvidenceHistory } from '../../src/reports/history.ts';
import { assessReadiness, readinessToMarkdown, readinessToText, type ReadinessReport } from '../../src/reports/readiness/readiness.ts';
import type { VerifyResult } from '../../src/ledger/verify.ts';
import { runCli } from '../support/cli.ts';
import { cliDatabaseVariants, type CliDatabase, describeSideBySide } from '../support/cli-databases.ts';
import { EvidenceStory } from '../support/evidence-story.ts';

const HOUR = 3_600_000;
const SIGNER = generateSigningKey().signer;
const at = (day: string, time: string) => `2026-03-${day}T${time}:00.000Z`;
const PERIOD = { from: new Date('2026-03-02T00:00:00Z'), to: new Date('2026-03-05T00:00:00Z') };

/**
 * A bot at work from `since` to `until`: an event every hour (a request on the hour it starts,
 * heartbeats after), and a signed checkpoint every `checkpointEvery` hours counted from `since`.
 */
function running(s: EvidenceStory, since: string, until: string, checkpointEvery = 6): void {
  let last = new Date(since);
  for (let time = new Date(since).getTime() + HOUR, n = 1; time <= new Date(until).getTime(); time += HOUR, n++) {
    const now = new Date(time);
    s.heartbeat(now, last);
    last = now;
    if (n % checkpointEvery === 0) s.checkpoint(now.toISOString(), SIGNER);
  }
}

const intact = (s: EvidenceStory): VerifyResult => ({ ok: true, count: s.events().length, headHash: s.events().at(-1)!.hash });

function assess(s: EvidenceStory, options: { now?: Date; from?: Date; to?: Date } = {}): ReadinessReport {
  return assessReadiness(EvidenceHistory.of(s.events()), { ...PERIOD, now: new Date(at('05', '00:30')), verify: intact(s), ...options });
}

const kinds = (report: ReadinessReport) => report.gaps.map((g) => g.kind);

/** Up on the 2nd until 10:00, then nothing (a crash: no bot.stopping) until it starts again 47 h later. */
function crashStory(): { s: EvidenceStory; lastBefore: number; restarted: number } {
  const s = new EvidenceStory();
  s.started(at('02', '00:00'));
  s.checkpoint(at('02', '00:00'), SIGNER);
  running(s, at('02', '00:00'), at('02', '10:00'));
  const lastBefore = s.entries.length;
  const restarted = s.started(at('04', '09:00'));
  s.checkpoint(at('04', '09:00'), SIGNER);
  running(s, at('04', '09:00'), at('05', '00:00'));
  return { s, lastBefore, restarted };
}

describe('readiness: the bot\'s own uptime', () => {
  it('a 47 h outage with no clean stop is a bot_down finding with its start, end and duration', () => {
    const { s, lastBefore, restarted } = crashStory();
    const report = assess(s);
    const down = report.gaps.filter((g) => g.kind === 'bot_down');
    expect(down).toEqual([
      expect.objectContaining({ start: '2026-03-02T10:00:00.000Z', end: '2026-03-04T09:00:00.000Z', duration_ms: 47 * HOUR, seqs: [lastBefore, restarted] }),
    ]);
    expect(down[0]!.summary).toBe(
      `The bot was not running from 2026-03-02T10:00:00.000Z to 2026-03-04T09:00:00.000Z (1d 23h), and no clean stop is recorded: a crash, the host down or the bot cut off from its database (the last event before is ${lastBefore} and the next after is ${restarted}).`,
    );
    expect(kinds(report)).not.toContain('bot_stopped');
    // The checkpoints stopped with it: 06:00 on the 2nd to 09:00 on the 4th.
    expect(report.gaps.filter((g) => g.kind === 'checkpoint_overdue')).toEqual([expect.objectContaining({ start: '2026-03-02T06:00:00.000Z', end: '2026-03-04T09:00:00.000Z', duration_ms: 51 * HOUR })]);
    expect(report.uptime).toEqual({ recorded_since: '2026-03-02T00:00:00.000Z', down_ms: 47 * HOUR, stopped_ms: 0 });
    const text = readinessToText(report);
    expect(text).toMatch(/The bot was not running, with no clean stop recorded \(crash or host down\) \(1\) \[bot_down\]/);
    expect(text).toMatch(/Uptime: not running in the period for 1d 23h with no clean stop recorded\./);
    expect(readinessToMarkdown(report)).toMatch(/## The bot was not running, with no clean stop recorded \(crash or host down\) \(1\)/);
    // A period the outage does not touch does not report it.
    expect(kinds(assess(s, { from: new Date(at('04', '12:00')) }))).toEqual([]);
  });

  it('a clean stop and start is reported as a planned stop, not an outage', () => {
    const s = new EvidenceStory();
    s.started(at('02', '00:00'));
    running(s, at('02', '00:00'), at('02', '12:00'));
    const stopped = s.stopping(at('02', '12:30'), at('02', '00:00'));
    const started = s.started(at('02', '15:30'));
    running(s, at('02', '15:30'), at('03', '00:30'));
    const report = assess(s, { to: new Date(at('03', '00:00')), now: new Date(at('03', '00:30')) });
    expect(kinds(report)).toEqual(['bot_stopped']);
    expect(report.gaps[0]).toMatchObject({ start: '2026-03-02T12:30:00.000Z', end: '2026-03-02T15:30:00.000Z', duration_ms: 3 * HOUR, seqs: [stopped, started] });
    expect(report.gaps[0]!.summary).toMatch(/^The bot was stopped cleanly from 2026-03-02T12:30:00\.000Z to 2026-03-02T15:30:00\.000Z \(3h\): bot\.stopping was recorded before and bot\.started after/);
    expect(report.uptime).toEqual({ recorded_since: '2026-03-02T00:00:00.000Z', down_ms: 0, stopped_ms: 3 * HOUR });
    // A start after a silence with no bot.stopping is a crash, however it ends.
    const crashed = new EvidenceStory();
    crashed.started(at('02', '00:00'));
    running(crashed, at('02', '00:00'), at('02', '12:00'));
    crashed.started(at('02', '15:30'));
    running(crashed, at('02', '15:30'), at('03', '00:30'));
    expect(kinds(assess(crashed, { to: new Date(at('03', '00:00')), now: new Date(at('03', '00:30')) }))).toEqual(['bot_down']);
  });

  it('a silence still going on is judged against now', () => {
    const s = new EvidenceStory();
    s.started(at('02', '00:00'));
    running(s, at('02', '00:00'), at('02', '20:00'));
    const report = assess(s, { to: new Date(at('03', '00:00')), now: new Date(at('02', '23:00')) });
    expect(kinds(report)).toEqual(['bot_down']);
    expect(report.gaps[0]).toMatchObject({ start: '2026-03-02T20:00:00.000Z', end: '2026-03-02T23:00:00.000Z', duration_ms: 3 * HOUR });
    expect(report.gaps[0]!.summary).toMatch(/nothing is recorded since \(as of 2026-03-02T23:00:00\.000Z, 3h\)/);
    // Two hours of silence is not yet downtime: the bot records something at least hourly.
    expect(kinds(assess(s, { to: new Date(at('03', '00:00')), now: new Date(at('02', '22:00')) }))).toEqual([]);
  });

  it('48 h between signed checkpoints while the bot ran is a checkpoint_overdue finding', () => {
    const s = new EvidenceStory();
    s.started(at('02', '00:00'));
    const first = s.checkpoint(at('02', '01:00'), SIGNER);
    running(s, at('02', '01:00'), at('04', '01:00'), 1_000);
    const next = s.checkpoint(at('04', '01:00'), SIGNER);
    running(s, at('04', '01:00'), at('05', '00:00'), 6);
    const report = assess(s);
    const overdue = report.gaps.filter((g) => g.kind === 'checkpoint_overdue');
    expect(overdue).toEqual([expect.objectContaining({ start: '2026-03-02T01:00:00.000Z', end: '2026-03-04T01:00:00.000Z', duration_ms: 48 * HOUR, seqs: [first, next] })]);
    expect(overdue[0]!.summary).toMatch(/^No signed checkpoint for 2d: from 2026-03-02T01:00:00\.000Z \(event \d+\) to the next at 2026-03-04T01:00:00\.000Z/);
    expect(readinessToText(report)).toMatch(/More than 24 hours without a signed checkpoint \(1\) \[checkpoint_overdue\]/);
    // The bot was running all along: no downtime.
    expect(kinds(report).filter((k) => k === 'bot_down' || k === 'bot_stopped')).toEqual([]);
    // Checkpoints no more than a day apart are not a finding.
    const daily = new EvidenceStory();
    daily.started(at('02', '00:00'));
    running(daily, at('02', '00:00'), at('05', '00:00'), 24);
    expect(kinds(assess(daily))).toEqual([]);
  });

  it('a ledger recorded before lifecycle events reports no uptime findings, and says uptime was not recorded', () => {
    const s = new EvidenceStory();
    s.config(at('02', '00:05'));
    s.request(at('02', '09:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: HOUR, reason: 'INC-1', approvers: ['U0BOB'] });
    s.checkpoint(at('02', '10:00'), SIGNER);
    s.request(at('04', '09:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: HOUR, reason: 'INC-2', approvers: ['U0BOB'] });
    s.checkpoint(at('04', '10:00'), SIGNER);
    const old = assess(s, { now: new Date(at('04', '12:00')) });
    expect(kinds(old)).toEqual(['silent_days']);
    expect(old.uptime).toEqual({ recorded_since: null, down_ms: 0, stopped_ms: 0 });
    expect(readinessToText(old)).toMatch(/Uptime: not recorded \(no bot\.started in the ledger/);

    // Upgraded on the 4th: silences before its first bot.started are not outages.
    s.started(at('04', '11:00'));
    const upgraded = assess(s, { now: new Date(at('04', '12:00')) });
    expect(kinds(upgraded)).toEqual(['silent_days']);
    expect(readinessToText(upgraded)).toMatch(/Uptime: not recorded before 2026-03-04T11:00:00\.000Z \(the first bot\.started\); running throughout the period as recorded\./);
  });
});

for (const variant of cliDatabaseVariants) {
  describeSideBySide(variant, `npx breakglass readiness reports the bot's downtime [${variant.kind}]`, () => {
    let database: CliDatabase;
    const { s, lastBefore, restarted } = crashStory();
    beforeAll(async () => {
      database = await variant.setup();
      const db = await database.open();
      await s.writeTo(db.db).finally(() => db.close());
    });
    afterAll(async () => database.cleanup());

    it('exits 1 with the 47 h outage, its start, end and duration', async () => {
      const json = await runCli(['readiness', '--from', '2026-03-02', '--to', '2026-03-04', '--format', 'json'], database.env);
      expect(json.code, json.stderr).toBe(1);
      const report = JSON.parse(json.stdout) as ReadinessReport;
      expect(report.gaps.find((g) => g.kind === 'bot_down' && g.seqs[0] === lastBefore)).toMatchObject({ start: '2026-03-02T10:00:00.000Z', end: '2026-03-04T09:00:00.000Z', duration_ms: 47 * HOUR, seqs: [lastBefore, restarted] });
      expect(report.counts.checkpoint_overdue).toBeGreaterThanOrEqual(1);
      const text = await runCli(['readiness', '--from', '2026-03-02', '--to', '2026-03-04'], database.env);
      expect(text.stdout).toMatch(/\[bot_down\]\n {2}- The bot was not running from 2026-03-02T10:00:00\.000Z to 2026-03-04T09:00:00\.000Z \(1d 23h\)/);
    }, 60_000);
  });
}
