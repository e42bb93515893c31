import { afterEach, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/evidence/verify.ts';
import { postgresAvailable } from '../support/databases.ts';
import { clockAtNow, ledger, requestAndApprove, slash } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';

const access = (action: 'report' | 'remove') => `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
drift:
  every: PT1S
  action: ${action}
`;

const USERS = [
  { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
  { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
  { id: 'U0CAROL', name: 'carol', email: 'carol@example.com' },
];

async function setUp(database: 'pglite' | 'postgres', action: 'report' | 'remove', clock = clockAtNow()): Promise<Harness> {
  const h = await startHarness({ database, accessYml: access(action), slack: { users: USERS }, clock });
  for (const user of USERS) h.okta.addUser({ login: user.email, email: user.email, firstName: user.name, lastName: 'X' });
  h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
  return h;
}

const driftEvents = async (h: Harness) => (await ledger(h)).filter((e) => e.kind === 'drift.detected');

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`drift [${database}]`, () => {
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.stop();
      h = undefined;
    });

    it('reports access added by hand at the provider, once, and leaves granted access alone', async () => {
      const harness = (h = await setUp(database, 'report'));
      await requestAndApprove(harness, 'U0ALICE', 'prod-db 2h INC-1 lag', ['U0BOB']);
      harness.okta.addMember('00gPRODDB', 'carol@example.com');
      const [found] = await harness.slack.waitFor(async () => ((await driftEvents(harness)).length > 0 ? driftEvents(harness) : undefined), 8_000, 'drift recorded');
      expect(found).toMatchObject({ subject: 'carol@example.com', resource: 'prod-db', details: { drift: 'unmanaged', action: 'report', removed: false } });
      await harness.slack.waitFor(() => harness.slack.messagesTo('C0SEC').find((m) => /Drift: carol@example\.com has access to `prod-db` that breakglass did not grant/.test(m.text ?? '')));
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(await driftEvents(harness)).toHaveLength(1);
      expect(harness.okta.isMember('00gPRODDB', 'carol@example.com')).toBe(true);
      expect(harness.okta.isMember('00gPRODDB', 'alice@example.com')).toBe(true);
      expect(await verifyLedger(harness.bot.database.db)).toMatchObject({ ok: true });
    });

    it('with drift: remove, revokes a revoke that did not take and access nobody granted', async () => {
      const clock = clockAtNow();
      const harness = (h = await setUp(database, 'remove', clock));
      await requestAndApprove(harness, 'U0ALICE', 'prod-db 2h INC-1 lag', ['U0BOB']);
      await (await slash(harness, 'U0ALICE', 'end 1')).reply();
      await harness.slack.waitFor(async () => (await ledger(harness)).find((e) => e.kind === 'grant.revoked'));
      // The provider answered the revoke but the membership came back (a sync job, a console click).
      harness.okta.addMember('00gPRODDB', 'alice@example.com');
      harness.okta.addMember('00gPRODDB', 'carol@example.com');
      clock.advance(2 * 60_000);
      await harness.slack.waitFor(async () => ((await driftEvents(harness)).length >= 2 ? true : undefined), 10_000, 'two drifts recorded');
      const drifts = await driftEvents(harness);
      expect(drifts.map((d) => [d.subject, d.details.drift, d.details.removed]).sort()).toEqual([
        ['alice@example.com', 'revoke_ineffective', true],
        ['carol@example.com', 'unmanaged', true],
      ]);
      expect(harness.okta.isMember('00gPRODDB', 'alice@example.com')).toBe(false);
      expect(harness.okta.isMember('00gPRODDB', 'carol@example.com')).toBe(false);
    });
  });
}
