import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { clockAtNow, eventsOf, grantOf, request, requestAndApprove, slash, waitForCard, waitForDm, waitForEvent, click } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { startSsoServer, type SsoRecordedRequest, type SsoTestServer } from '../support/sso-server.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';

const ACCOUNT = '222222222222';
const MINUTE = 60_000;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`IAM Identity Center flows [${database}]`, () => {
    let h: Harness;
    let sso: SsoTestServer;
    let clock: FakeClock;
    let permissionSet: string;
    const users: Record<string, string> = {};
    const holders = () => sso.holders(ACCOUNT, permissionSet);

    beforeAll(async () => {
      sso = await startSsoServer();
      permissionSet = sso.addPermissionSet('ProdAdmin', { sessionDuration: 'PT4H' });
      users['carol'] = sso.addUser('carol', { email: 'carol@example.com' });
      users['alice'] = sso.addUser('alice.smith', { email: 'asmith@corp.example' });
      clock = clockAtNow();
      h = await startHarness({
        database,
        clock,
        tickMs: 50,
        // The instance is found with ListInstances; the harness's AWS keys are the ones this server accepts.
        env: { AWS_ENDPOINT_URL_SSO_ADMIN: sso.url, AWS_ENDPOINT_URL_IDENTITYSTORE: sso.url },
        accessYml: `security_channel: C0SEC
resources:
  prod-sso:
    description: ProdAdmin in the production account
    grant: { aws_sso: { permission_set_arn: '${permissionSet}', account_id: '${ACCOUNT}' } }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
people:
  U0ALICE: { aws_sso_user: alice.smith }
`,
        slack: {
          users: [
            { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
            { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
            { id: 'U0CAROL', name: 'carol', email: 'carol@example.com' },
            { id: 'U0DAVE', name: 'dave', email: 'dave@example.com' },
          ],
        },
      });
    });
    afterAll(async () => {
      await h?.stop();
      await sso?.close();
    });

    it('approval assigns the permission set to the Identity Center user with that email; ending removes it, with evidence', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0CAROL', 'prod-sso 2h INC-90 rotate the keys', ['U0BOB']);
      expect(grant).toMatchObject({ state: 'active', principal: null });
      expect(holders()).toEqual([users['carol']]);
      await waitForDm(h, 'U0CAROL', new RegExp(`prod-sso\` is active until.*request #${requestId}`));
      // Carol signs in to the AWS access portal: a role session, open at the moment of the revoke.
      const session = { accountId: ACCOUNT, permissionSetArn: permissionSet, userId: users['carol']!, issuedAt: new Date() };
      expect(sso.refusesSession({ ...session, at: new Date() })).toBe(false);

      await (await slash(h, 'U0CAROL', `end ${requestId}`)).reply();
      await waitForEvent(h, requestId, 'grant.revoked');
      expect(holders()).toEqual([]);
      // Removing the assignment alone would leave that session working for up to 4 hours (PT4H): it is refused now.
      expect(sso.refusesSession({ ...session, at: new Date() })).toBe(true);
      const events = await eventsOf(h, requestId);
      expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied', 'grant.end_requested', 'grant.revoked', 'grant.sessions_ended']);
      // Identity Center cannot count the sessions it refuses: recorded as ended without a count, with how.
      expect(events[5]).toMatchObject({ details: { provider: 'aws-sso', ended: null, method: expect.stringMatching(/^deny on sessions issued before .* provisioned to account /) } });
      expect(events[2]).toMatchObject({
        actor: 'breakglass',
        subject: 'U0CAROL',
        details: { provider: 'aws-sso', target: { kind: 'aws_sso_assignment', permissionSetArn: permissionSet, accountId: ACCOUNT } },
      });
      expect(events[4]).toMatchObject({ details: { reason: 'ended', provider_call: 'revoked' } });
      expect(sso.calls('DeleteAccountAssignment').at(-1)?.input).toMatchObject({ PrincipalId: users['carol'], TargetId: ACCOUNT, PermissionSetArn: permissionSet });
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('the people: override names the Identity Center user; expiry removes the assignment', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0ALICE', 'prod-sso 30m INC-91 read the logs', ['U0BOB']);
      expect(grant).toMatchObject({ state: 'active', principal: 'alice.smith' });
      expect(holders()).toEqual([users['alice']]);
      clock.advance(31 * MINUTE);
      const revoked = await waitForEvent(h, requestId, 'grant.revoked');
      expect(revoked).toMatchObject({ actor: 'breakglass', details: { reason: 'expired', provider_call: 'revoked' } });
      expect(holders()).toEqual([]);
    });

    it('someone the identity store does not know: the grant fails, and the requester is told which override to add', async () => {
      const { requestId } = await request(h, 'U0DAVE', 'prod-sso 1h INC-92 look around');
      await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', requestId) });
      const failed = await waitForEvent(h, requestId, 'grant.failed');
      expect(String(failed.details.error)).toMatch(/no user with the email dave@example.com; .*people: \{ U0DAVE: \{ aws_sso_user: <their user name> \} \}/);
      await waitForDm(h, 'U0DAVE', /could not be granted .*people: \{ U0DAVE: \{ aws_sso_user/);
      expect(sso.calls('CreateAccountAssignment').filter((r) => JSON.stringify(r.input).includes('dave'))).toEqual([]);
      expect(holders()).toEqual([]);
    });

    it("a creation whose answer is lost is checked by listing, and recorded applied as AWS shows it", async () => {
      const create = (r: SsoRecordedRequest) => r.operation === 'CreateAccountAssignment';
      const restore = sso.dropWhen(create, { apply: true });
      try {
        const { requestId } = await request(h, 'U0CAROL', 'prod-sso 1h INC-93 on call');
        await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', requestId) });
        const applied = await waitForEvent(h, requestId, 'grant.applied', 15_000);
        expect(applied.details).toMatchObject({ provider: 'aws-sso', confirmed_by: 'listing', unanswered_error: expect.stringMatching(/CreateAccountAssignment/) });
        expect(await grantOf(h, requestId)).toMatchObject({ state: 'active' });
        expect(holders()).toEqual([users['carol']]);
        // Carol's earlier sessions stay refused; one begun with this grant works. (An earlier revoke's
        // deny reaches to the whole second after it, as aws:TokenIssueTime has second precision.)
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        expect(sso.refusesSession({ accountId: ACCOUNT, permissionSetArn: permissionSet, userId: users['carol']!, issuedAt: new Date(), at: new Date() })).toBe(false);
      } finally {
        restore();
      }
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
    });
  });
}
