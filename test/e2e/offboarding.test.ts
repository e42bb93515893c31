import { afterEach, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/evidence/verify.ts';
import { postgresAvailable } from '../support/databases.ts';
import { ledger, requestAndApprove } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { eventCallback, post, userChangeEvent } from '../support/slack-requests.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
  prod-admin:
    grant: { aws_iam_group: ProdAdmins }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
offboarding:
  sla: 24h
  poll_every: PT1S
`;

const USERS = [
  { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
  { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
  { id: 'U0DAVE', name: 'dave', email: 'dave@example.com' },
];

async function setUp(database: 'pglite' | 'postgres'): Promise<Harness> {
  const h = await startHarness({ database, accessYml: ACCESS, slack: { users: USERS } });
  for (const user of USERS) h.okta.addUser({ login: user.email, email: user.email, firstName: user.name, lastName: 'X' });
  h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
  h.iam.account().addGroup('ProdAdmins');
  for (const user of USERS) h.iam.account().addUser(user.email);
  return h;
}

async function completion(h: Harness, email: string, timeoutMs = 10_000) {
  return h.slack.waitFor(
    async () => (await ledger(h)).find((e) => e.kind === 'offboarding.completed' && e.subject === email),
    timeoutMs,
    `offboarding of ${email} completed`,
  );
}

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`offboarding [${database}]`, () => {
    let h!: Harness | undefined;
    afterEach(async () => {
      await h?.stop();
      h = undefined;
    });

    it('a Slack deactivation ends every grant at Okta and IAM at once, within the SLA', async () => {
      h = await setUp(database);
      await requestAndApprove(h, 'U0ALICE', 'prod-db 2h INC-1 lag', ['U0BOB']);
      await requestAndApprove(h, 'U0ALICE', 'prod-admin 2h INC-1 lag', ['U0BOB']);
      expect(h.okta.isMember('00gPRODDB', 'alice@example.com')).toBe(true);
      expect(h.iam.account().isMember('ProdAdmins', 'alice@example.com')).toBe(true);

      const event = eventCallback(userChangeEvent({ ...h.slack.userObject('U0ALICE'), deleted: true }));
      expect((await post(h.baseUrl, event)).status).toBe(200);
      const done = await completion(h, 'alice@example.com');

      expect(h.okta.isMember('00gPRODDB', 'alice@example.com')).toBe(false);
      expect(h.iam.account().isMember('ProdAdmins', 'alice@example.com')).toBe(false);
      expect(done.details).toMatchObject({ source: 'slack', sla_met: true, unmanaged_access: [] });
      expect(done.details.systems).toEqual([
        expect.objectContaining({ resource: 'prod-db', outcome: 'revoked', ended_at: expect.any(String) }),
        expect.objectContaining({ resource: 'prod-admin', outcome: 'revoked', ended_at: expect.any(String) }),
      ]);
      const events = await ledger(h);
      expect(events.filter((e) => e.kind === 'grant.revoked').map((e) => e.details.reason)).toEqual(['offboarding', 'offboarding']);
      expect(events.filter((e) => e.kind === 'offboarding.detected')).toHaveLength(1);

      // The same leaver reported again (a replayed event, or Okta later) is the same offboarding.
      await post(h.baseUrl, eventCallback(userChangeEvent({ ...h.slack.userObject('U0ALICE'), deleted: true })));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await ledger(h)).filter((e) => e.kind === 'offboarding.detected')).toHaveLength(1);
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('an Okta deactivation is polled; a provider failing first is retried; access nobody granted is reported', async () => {
      h = await setUp(database);
      await requestAndApprove(h, 'U0DAVE', 'prod-admin 2h INC-2 deploy', ['U0BOB']);
      h.okta.addMember('00gPRODDB', 'dave@example.com'); // added by hand at Okta: unmanaged
      h.iam.failNext(6, 500, (r) => r.action === 'RemoveUserFromGroup');

      h.okta.setStatus('dave@example.com', 'DEPROVISIONED');
      const done = await completion(h, 'dave@example.com', 15_000);

      expect(h.iam.account().isMember('ProdAdmins', 'dave@example.com')).toBe(false);
      expect(done.details).toMatchObject({ source: 'okta', sla_met: false, unmanaged_access: ['prod-db'] });
      expect(done.details.systems).toContainEqual(expect.objectContaining({ resource: 'prod-db', outcome: 'unmanaged_reported', principals: ['dave@example.com'] }));
      const events = await ledger(h);
      expect(events.filter((e) => e.kind === 'grant.revoke_failed')).toHaveLength(1);
      expect(events.find((e) => e.kind === 'grant.revoked')?.details).toMatchObject({ reason: 'offboarding' });
      const harness = h;
      const alert = await harness.slack.waitFor(() => harness.slack.messagesTo('C0SEC').find((m) => /dave@example\.com left, but still has access/.test(m.text ?? '')));
      expect(alert).toBeDefined();
      expect(h.slack.violations).toEqual([]);
    });

    it('measures the SLA from the deactivation time and records a miss', async () => {
      h = await setUp(database);
      await requestAndApprove(h, 'U0ALICE', 'prod-db 2h INC-3 lag', ['U0BOB']);
      const twoDaysAgo = Date.now() - 2 * 24 * 3_600_000;
      await post(h.baseUrl, eventCallback(userChangeEvent({ ...h.slack.userObject('U0ALICE'), deleted: true }), { eventTime: twoDaysAgo }));
      const done = await completion(h, 'alice@example.com');
      expect(done.details.sla_met).toBe(false);
      expect(Number(done.details.took_ms)).toBeGreaterThan(24 * 3_600_000);
      const harness = h;
      await harness.slack.waitFor(() => harness.slack.messagesTo('C0SEC').find((m) => /Offboarding of alice@example\.com missed the 1d SLA/.test(m.text ?? '')));
    });
  });
}
