/**
 * Management responses to exceptions: readiness names each exception by an id, folds an
 * unresolved finding alerted again and again into one exception with its occurrences, and
 * shows the responses recorded to it — from `npx breakglass respond` or the alert's Respond
 * button (recorded against the alert).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceHistory } from '../../src/reports/history.ts';
import { assessReadiness, readinessToMarkdown, readinessToText, type ReadinessReport } from '../../src/reports/readiness/readiness.ts';
import { runCli } from '../support/cli.ts';
import { cliDatabaseVariants, type CliDatabase } from '../support/cli-databases.ts';
import { EvidenceStory } from '../support/evidence-story.ts';

const PERIOD = { from: new Date('2026-03-02T00:00:00Z'), to: new Date('2026-03-05T00:00:00Z') };
const LATER = new Date('2026-03-20T00:00:00Z');

/** Drift about Eve's prod-db access reported on three days and never acknowledged; one alert about Dan. */
function driftStory() {
  const s = new EvidenceStory();
  const seqs: number[] = [];
  const ids: number[] = [];
  s.config('2026-03-02T00:05:00Z');
  for (const day of ['2026-03-02', '2026-03-03', '2026-03-04']) {
    seqs.push(s.entries.length + 1);
    ids.push(s.alert(`${day}T09:00:00Z`, { kind: 'drift', text: 'U0EVE has access to prod-db that breakglass did not grant', subject: 'U0EVE', resource: 'prod-db' }));
    s.heartbeat(`${day}T20:00:00Z`, `${day}T09:00:00Z`);
  }
  const dan = s.alert('2026-03-03T10:00:00Z', { kind: 'drift', text: 'U0DAN has access to prod-db that breakglass did not grant', subject: 'U0DAN', resource: 'prod-db' });
  return { s, seqs, ids, dan };
}

const unacknowledged = (report: ReadinessReport) => report.gaps.filter((g) => g.kind === 'unacknowledged_alert');

describe('exceptions in readiness', () => {
  it('folds repeated alerts about one finding into one exception with its occurrences, each with an id', () => {
    const { s, seqs, ids } = driftStory();
    const report = assessReadiness(EvidenceHistory.of(s.events()), { ...PERIOD, now: LATER, verify: { ok: true, count: s.entries.length, headHash: 'x' } });
    const [eve, dan] = unacknowledged(report);
    expect(unacknowledged(report)).toHaveLength(2);
    expect(eve).toMatchObject({ id: `unacknowledged_alert:${seqs[0]}`, seqs, alert_ids: ids.map(String), occurrences: 3, subject: 'U0EVE', responses: [] });
    expect(eve!.summary).toContain(`The same finding was alerted 3 times in all, the last at 2026-03-04T09:00:00.000Z (alerts ${ids.join(', ')}).`);
    expect(dan).toMatchObject({ subject: 'U0DAN', seqs: [dan!.seqs[0]] });
    expect(dan).not.toHaveProperty('occurrences');
    expect(report.counts.unacknowledged_alert).toBe(2);
  });

  it('shows the responses recorded to the exception, or to any alert folded into it', () => {
    const { s, seqs, ids } = driftStory();
    // A response to the exception by the id a readiness run over a later period printed (its own first alert) …
    s.raw('2026-03-05T09:00:00Z', { kind: 'exception.responded', actor: 'cli:alice', details: { exception_id: `unacknowledged_alert:${seqs[1]}`, response: 'Eve is on the DBA rota; access kept in Q2 review.', alert_id: null } });
    // … and one made with the Respond button on the last alert.
    s.raw('2026-03-05T10:00:00Z', { kind: 'exception.responded', actor: 'U0SEC', details: { exception_id: `alert:${ids[2]}`, response: 'Confirmed with her manager.', alert_id: ids[2]! } });
    const report = assessReadiness(EvidenceHistory.of(s.events()), { ...PERIOD, now: LATER, verify: { ok: true, count: s.entries.length, headHash: 'x' } });
    const [eve, dan] = unacknowledged(report);
    expect(eve!.responses).toEqual([
      { by: 'cli:alice', at: '2026-03-05T09:00:00.000Z', text: 'Eve is on the DBA rota; access kept in Q2 review.', seq: expect.any(Number) },
      { by: 'U0SEC', at: '2026-03-05T10:00:00.000Z', text: 'Confirmed with her manager.', seq: expect.any(Number) },
    ]);
    expect(dan!.responses).toEqual([]);
    // A response is management's answer, not a fix: the exception stays.
    expect(report.ok).toBe(false);
    expect(readinessToText(report)).toContain('    Response by cli:alice at 2026-03-05T09:00:00.000Z');
    const markdown = readinessToMarkdown(report);
    expect(markdown).toContain('**Management response** by U0SEC at 2026-03-05T10:00:00.000Z');
    expect(markdown).toContain(`Id: \`unacknowledged_alert:${seqs[0]}\``);
    expect(markdown).toContain('No management response recorded.');
  });
});

for (const variant of cliDatabaseVariants) {
  describe.skipIf(variant.skip)(`npx breakglass respond [${variant.kind}]`, () => {
    let database: CliDatabase;
    const { s, seqs } = driftStory();
    beforeAll(async () => {
      database = await variant.setup();
      const db = await database.open();
      await s.writeTo(db.db).finally(() => db.close());
    });
    afterAll(async () => database.cleanup());

    it('records a response to an open exception, which readiness then shows; an unknown id records nothing', async () => {
      const unknown = await runCli(['respond', 'late_revoke:9999', 'It was fine.'], database.env);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/no exception late_revoke:9999 is open in the evidence; `npx breakglass readiness --from … --to …` lists them with their ids\. Nothing was recorded\./);

      const id = `unacknowledged_alert:${seqs[0]}`;
      const recorded = await runCli(['respond', id, 'Removed by hand on 2026-03-05; ticket SEC-12.', '--as', 'alice'], database.env);
      expect(recorded.code, recorded.stderr).toBe(0);
      expect(recorded.stdout).toBe(`Recorded cli:alice's response to ${id}.\n`);

      const readiness = await runCli(['readiness', '--from', '2026-03-02', '--to', '2026-03-04', '--format', 'json'], database.env);
      const report = JSON.parse(readiness.stdout) as ReadinessReport;
      expect(unacknowledged(report)[0]!.responses).toEqual([{ by: 'cli:alice', at: expect.any(String), text: 'Removed by hand on 2026-03-05; ticket SEC-12.', seq: s.entries.length + 1 }]);
      expect(unacknowledged(report)[1]!.responses).toEqual([]);
    });
  });
}

describe('npx breakglass respond, refusing bad input before it opens the database', () => {
  it('refuses an id that is not one, and a response with a control character', async () => {
    const env = { DATA_DIR: '/nonexistent/breakglass-respond-test' };
    const badId = await runCli(['respond', 'DROP TABLE', 'x'], env);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toMatch(/"DROP TABLE" is not an exception id/);
    const control = await runCli(['respond', 'late_revoke:12', 'fine\u0007'], env);
    expect(control.code).toBe(2);
    expect(control.stderr).toMatch(/invisible control character \(U\+0007\).*Nothing was recorded\./);
  });
});
