/**
 * Approvers who are gone: a configured approver Slack does not know, has deactivated, or Okta
 * lists as suspended is skipped (no card), security is told once, and a resource left with fewer
 * approvers than it needs refuses the request clearly instead of making one nobody can approve.
 * Readiness lists the shortfall.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceHistory } from '../../src/reports/history.ts';
import { readEvents } from '../../src/ledger/read.ts';
import { assessReadiness } from '../../src/reports/readiness/readiness.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { eq } from 'drizzle-orm';
import { evidenceEvents } from '../../src/db/schema.ts';
import { clockAtNow, request, slash, waitForCard } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { textOf } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB, U0GONE, U0NOBODY] }
    approvals_required: 2
  staging-db:
    grant: { okta_group: 00gSTAGING }
    max_duration: 2h
    approvers: { slack_users: [U0BOB, U0SUSP] }
`;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`approvers who are gone [${database}]`, () => {
    let h: Harness;
    let clock: FakeClock;

    beforeAll(async () => {
      clock = clockAtNow();
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock,
        tickMs: 50,
        slack: {
          users: [
            { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
            { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
            { id: 'U0GONE', name: 'gone', email: 'gone@example.com', deleted: true },
            { id: 'U0SUSP', name: 'susp', email: 'susp@example.com' },
          ],
        },
      });
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
      h.okta.addGroup({ id: '00gSTAGING', name: 'staging-db' });
      for (const n of ['alice', 'bob']) h.okta.addUser({ login: `${n}@example.com`, email: `${n}@example.com` });
      h.okta.addUser({ login: 'susp@example.com', email: 'susp@example.com' }, { status: 'SUSPENDED' });
    });
    afterAll(async () => h?.stop());

    const eventsOf = (_h: Harness, kind: string) => h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, kind)).orderBy(evidenceEvents.seq);
    const unavailableEvents = async () => (await eventsOf(h, 'approver.unavailable')).map((e) => [e.subject, e.resource, (e.details as { reason: string }).reason, (e.details as { available: number }).available]);
    const securityAlerts = () => h.slack.messagesTo('C0SEC').filter((m) => /approves `?\S+`? but cannot/.test(textOf(m)));

    it('refuses a request too few present approvers could approve, naming who cannot and why; security is told once per approver', async () => {
      const first = await slash(h, 'U0ALICE', 'prod-db 1h INC-1 replica lag');
      const reply = await first.reply();
      expect(reply).toContain('`prod-db` needs 2 approval(s), but only 1 of its approvers can approve now: <@U0GONE> (deactivated in Slack), <@U0NOBODY> (not found in Slack).');
      expect(reply).toContain('Your security team has been told');
      await h.slack.waitFor(() => (securityAlerts().length >= 2 ? true : undefined), 5_000, 'two alerts in the security channel');
      expect(textOf(securityAlerts()[0]!)).toContain('cannot be approved now: it needs 2 approval(s) and only 1 approver(s) remain');

      const again = await slash(h, 'U0ALICE', 'prod-db 1h INC-2 replica lag again');
      expect(await again.reply()).toContain('only 1 of its approvers can approve now');
      expect(await eventsOf(h, 'request.created')).toHaveLength(0);
      expect((await unavailableEvents()).sort()).toEqual([
        ['U0GONE', 'prod-db', 'deactivated in Slack', 1],
        ['U0NOBODY', 'prod-db', 'not found in Slack', 1],
      ]);
      expect(securityAlerts()).toHaveLength(2);
    });

    it('skips an approver Okta suspended: the card goes to the others, and the request records only them', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'staging-db 1h INC-3 schema check');
      await waitForCard(h, 'U0BOB', requestId);
      const [created] = (await eventsOf(h, 'request.created')).filter((e) => e.requestId === String(requestId));
      expect((created!.details as { approvers: string[] }).approvers).toEqual(['U0BOB']);
      expect(h.slack.messagesTo('U0SUSP')).toEqual([]);
      await h.slack.waitFor(() => securityAlerts().find((m) => textOf(m).includes('<@U0SUSP>')), 5_000, 'the alert about U0SUSP');
      expect(await unavailableEvents()).toContainEqual(['U0SUSP', 'staging-db', 'SUSPENDED in Okta', 1]);
      // Skipped under the policy version the request was made under.
      const suspended = (await eventsOf(h, 'approver.unavailable')).find((e) => e.subject === 'U0SUSP')!;
      expect((suspended.details as { config_hash?: string }).config_hash).toBe((created!.details as { config_hash: string }).config_hash);
    });

    it('lists a resource left short of approvers in readiness, and keeps the ledger intact', async () => {
      const history = new EvidenceHistory();
      for await (const event of readEvents(h.bot.database.db)) history.add(event);
      const now = clock.now();
      const report = assessReadiness(history, { from: new Date(now.getTime() - 86_400_000), to: new Date(now.getTime() + 1), now, verify: await verifyLedger(h.bot.database.db) });
      const short = report.gaps.filter((g) => g.kind === 'approvers_short');
      expect(short.map((g) => [g.resource, g.subject])).toEqual([
        ['prod-db', 'U0GONE'],
        ['prod-db', 'U0NOBODY'],
      ]);
      expect(short[0]!.summary).toContain('prod-db needs 2 approval(s) but only 1 approver(s) could give them');
      expect(h.slack.violations).toEqual([]);
    });
  });
}
