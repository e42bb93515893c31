import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import {
  approvalCard,
  click,
  clockAtNow,
  eventsOf,
  grantOf,
  hasButton,
  iamTime,
  ledger,
  request,
  requestAndApprove,
  slash,
  waitForCard,
  waitForDm,
  waitForEvent,
} from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { textOf } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-admin:
    description: AWS production admin group
    grant: { aws_iam_group: ProdAdmins }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
  prod-s3:
    description: Read the production bucket
    grant:
      aws_iam_policy:
        Version: '2012-10-17'
        Statement:
          - Sid: ReadBucket
            Effect: Allow
            Action: ['s3:GetObject']
            Resource: 'arn:aws:s3:::prod-bucket/*'
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
people:
  U0ALICE: { aws_iam_user: alice }
`;

const CAROL = 'carol@example.com';
const POLICY = 'breakglass-prod-s3';
const MINUTE = 60_000;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`AWS IAM flows [${database}]`, () => {
    let h: Harness;
    let clock: FakeClock;
    const iam = () => h.iam.account();

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
            { id: 'U0CAROL', name: 'carol', email: CAROL },
          ],
        },
      });
      iam().addGroup('ProdAdmins');
      iam().addUser(CAROL);
      iam().addUser('alice');
      iam().addUser('alice@example.com');
    });
    afterAll(async () => h?.stop());

    it('IAM group: the IAM user is the email; approval adds it to the group, ending removes it, with evidence', async () => {
      expect(iam().isMember('ProdAdmins', CAROL)).toBe(false);
      const { requestId, reply } = await request(h, 'U0CAROL', 'prod-admin 2h INC-77 rotate the KMS key');
      expect(reply).toMatch(/is waiting for 1 approval\(s\) from <@U0BOB>/);
      expect(iam().isMember('ProdAdmins', CAROL)).toBe(false);

      const card = await waitForCard(h, 'U0BOB', requestId);
      expect(textOf(card)).toContain('INC-77');
      expect(textOf(card)).toContain('rotate the KMS key');
      expect(hasButton(card, ACTIONS.approve)).toBe(true);
      await click(h, 'U0BOB', ACTIONS.approve, { message: card });

      await h.slack.waitFor(() => iam().isMember('ProdAdmins', CAROL) || undefined, 5_000, 'carol in ProdAdmins');
      const active = await waitForCard(h, 'U0BOB', requestId, /access is active/i);
      expect(active.ts).toBe(card.ts);
      expect(hasButton(active, ACTIONS.approve)).toBe(false);
      await waitForDm(h, 'U0CAROL', new RegExp(`prod-admin\` is active until.*request #${requestId}`));

      const end = await slash(h, 'U0CAROL', `end ${requestId}`);
      expect(await end.reply()).toMatch(/Ending your access to `prod-admin`/);
      await h.slack.waitFor(() => (!iam().isMember('ProdAdmins', CAROL) ? true : undefined), 5_000, 'carol out of ProdAdmins');
      await waitForDm(h, 'U0CAROL', new RegExp(`access to \`prod-admin\` has ended \\(request #${requestId}, ended\\)`));
      await waitForCard(h, 'U0BOB', requestId, /Access ended/);
      expect(iam().members('ProdAdmins')).toEqual([]);

      const events = await eventsOf(h, requestId);
      expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied', 'grant.end_requested', 'grant.revoked']);
      const [created, approved, applied, endRequested, revoked] = events;
      expect(created).toMatchObject({ actor: 'U0CAROL', subject: 'U0CAROL', resource: 'prod-admin', details: { reason: 'INC-77 rotate the KMS key', ticket: 'INC-77', duration: '2h', approvers: ['U0BOB'], approvals_required: 1 } });
      expect(approved).toMatchObject({ actor: 'U0BOB', subject: 'U0CAROL', resource: 'prod-admin', details: { approvals: 1, approvals_required: 1, final: true } });
      expect(applied).toMatchObject({ actor: 'breakglass', subject: 'U0CAROL', details: { provider: 'aws-iam', target: { kind: 'aws_iam_group', groupName: 'ProdAdmins' }, emergency: false } });
      expect(endRequested).toMatchObject({ actor: 'U0CAROL', subject: 'U0CAROL' });
      expect(revoked).toMatchObject({ actor: 'U0CAROL', subject: 'U0CAROL', resource: 'prod-admin', details: { reason: 'ended', provider_call: 'revoked' } });
      expect(h.iam.calls('AddUserToGroup').map((c) => c.params)).toEqual([{ GroupName: 'ProdAdmins', UserName: CAROL }]);

      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('inline policy: the people: override names the IAM user, the document ends at the expiry, ending deletes it', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0ALICE', 'prod-s3 1h INC-78 read an export', ['U0BOB']);
      expect(grant).toMatchObject({ principal: 'alice', state: 'active' });

      // The override wins over the email: the policy is on `alice`, and nothing is on alice@example.com.
      expect(iam().userPolicyNames('alice')).toEqual([POLICY]);
      expect(iam().userPolicyNames('alice@example.com')).toEqual([]);
      const applied = await waitForEvent(h, requestId, 'grant.applied');
      const endsAt = String(applied.details.ends_at);
      expect(new Date(endsAt).getTime()).toBe(clock.now().getTime() + 60 * MINUTE);
      const document = iam().userPolicy('alice', POLICY)!;
      expect(document.Statement).toHaveLength(1);
      expect(document.Statement[0]).toMatchObject({ Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::prod-bucket/*' });
      expect((document.Statement[0]!.Condition as Record<string, Record<string, string>>).DateLessThan!['aws:CurrentTime']).toBe(iamTime(endsAt));
      await waitForDm(h, 'U0ALICE', new RegExp(`prod-s3\` is active until.*request #${requestId}`));

      await (await slash(h, 'U0ALICE', `end ${requestId}`)).reply();
      await h.slack.waitFor(() => (iam().userPolicyNames('alice').length === 0 ? true : undefined), 5_000, 'the inline policy deleted');
      const revoked = await waitForEvent(h, requestId, 'grant.revoked');
      expect(revoked).toMatchObject({ actor: 'U0ALICE', subject: 'U0ALICE', resource: 'prod-s3', details: { reason: 'ended', provider_call: 'revoked' } });
      expect(h.iam.calls('DeleteUserPolicy').at(-1)?.params).toMatchObject({ UserName: 'alice', PolicyName: POLICY });

      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('extend: a new approval card; approving moves the grant end and the policy expiry later', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0ALICE', 'prod-s3 1h INC-79 backfill', ['U0BOB']);
      const firstEnd = grant.endsAt;
      expect(iam().userPolicy('alice', POLICY)!.Statement[0]!.Condition).toEqual({ DateLessThan: { 'aws:CurrentTime': iamTime(firstEnd) } });

      const extend = await slash(h, 'U0ALICE', `extend ${requestId} 1h`);
      const reply = await extend.reply();
      expect(reply).toMatch(new RegExp(`Request #(\\d+) for \`request #${requestId}\` \\(1h more\\) is waiting for 1 approval\\(s\\) from <@U0BOB>`));
      const extensionId = Number(/Request #(\d+)/.exec(reply)![1]);
      expect(extensionId).not.toBe(requestId);

      const card = await waitForCard(h, 'U0BOB', extensionId);
      expect(card.text).toMatch(/^Extension request #/);
      expect(textOf(card)).toContain(`Extension of #${requestId}`);
      // Nothing moves before the approval.
      expect((await grantOf(h, requestId))!.endsAt).toEqual(firstEnd);
      await click(h, 'U0BOB', ACTIONS.approve, { message: card });

      const extended = await waitForEvent(h, extensionId, 'grant.extended');
      const newEnd = new Date(firstEnd.getTime() + 60 * MINUTE);
      expect(extended).toMatchObject({
        actor: 'breakglass',
        subject: 'U0ALICE',
        resource: 'prod-s3',
        details: { grant_id: grant.id, original_request_id: requestId, previous_ends_at: firstEnd.toISOString(), ends_at: newEnd.toISOString(), extended_by: '1h' },
      });
      expect((await grantOf(h, requestId))!.endsAt).toEqual(newEnd);
      expect(iam().userPolicy('alice', POLICY)!.Statement[0]!.Condition).toEqual({ DateLessThan: { 'aws:CurrentTime': iamTime(newEnd) } });
      await waitForDm(h, 'U0ALICE', new RegExp(`\`prod-s3\` \\(request #${requestId}\\) is extended until`));
      const decided = await waitForCard(h, 'U0BOB', extensionId, /Approved/);
      expect(decided.ts).toBe(card.ts);
      expect(hasButton(decided, ACTIONS.approve)).toBe(false);
      // The card tells the approver what their approval did: the access now runs to the new end.
      expect(textOf(decided)).not.toMatch(/being set up/);
      await waitForCard(h, 'U0BOB', extensionId, new RegExp(`active until <!date\\^${newEnd.getTime() / 1000}\\^`));

      const extensionEvents = await eventsOf(h, extensionId);
      expect(extensionEvents.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.extended']);
      expect(extensionEvents[0]).toMatchObject({ actor: 'U0ALICE', details: { request_kind: 'extension', extends_grant_id: grant.id, duration: '1h' } });
      // Still one grant, with one grant.applied, under the original request.
      expect((await eventsOf(h, requestId)).filter((e) => e.kind === 'grant.applied')).toHaveLength(1);

      await (await slash(h, 'U0ALICE', `end ${requestId}`)).reply();
      await h.slack.waitFor(() => (iam().userPolicyNames('alice').length === 0 ? true : undefined), 5_000, 'the inline policy deleted');
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('expiry: past the end the worker revokes at the provider, records `expired`, and tells the requester', async () => {
      const { requestId } = await requestAndApprove(h, 'U0CAROL', 'prod-admin 30m INC-80 check the alarms', ['U0BOB']);
      expect(iam().isMember('ProdAdmins', CAROL)).toBe(true);
      clock.advance(29 * MINUTE);
      await new Promise((r) => setTimeout(r, 200));
      expect(iam().isMember('ProdAdmins', CAROL)).toBe(true);

      clock.advance(2 * MINUTE);
      await h.slack.waitFor(() => (!iam().isMember('ProdAdmins', CAROL) ? true : undefined), 5_000, 'carol removed at expiry');
      const revoked = await waitForEvent(h, requestId, 'grant.revoked');
      expect(revoked).toMatchObject({ actor: 'breakglass', subject: 'U0CAROL', resource: 'prod-admin', details: { reason: 'expired', provider_call: 'revoked' } });
      expect(await grantOf(h, requestId)).toMatchObject({ state: 'revoked' });
      const dm = await waitForDm(h, 'U0CAROL', new RegExp(`\`prod-admin\` has ended \\(request #${requestId}\\)`));
      expect(textOf(dm)).not.toMatch(/ended\)/);
      const card = await waitForCard(h, 'U0BOB', requestId, /Access ended/);
      expect(hasButton(card, ACTIONS.approve)).toBe(false);

      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('overlapping grants: the first ending keeps access at the provider; the last ending removes it', async () => {
      const first = await requestAndApprove(h, 'U0CAROL', 'prod-admin 1h INC-81 first task', ['U0BOB']);
      const second = await requestAndApprove(h, 'U0CAROL', 'prod-admin 2h INC-82 second task', ['U0BOB']);
      expect(iam().isMember('ProdAdmins', CAROL)).toBe(true);
      const removalsBefore = h.iam.calls('RemoveUserFromGroup').length;

      clock.advance(61 * MINUTE);
      const firstRevoked = await waitForEvent(h, first.requestId, 'grant.revoked');
      expect(firstRevoked).toMatchObject({
        actor: 'breakglass',
        subject: 'U0CAROL',
        details: { reason: 'expired', provider_call: 'skipped', access_continues_under_grants: [second.grant.id] },
      });
      await waitForDm(h, 'U0CAROL', new RegExp(`Request #${first.requestId} for \`prod-admin\` has ended; your access continues under another grant`));
      await new Promise((r) => setTimeout(r, 200));
      expect(iam().isMember('ProdAdmins', CAROL)).toBe(true);
      expect(h.iam.calls('RemoveUserFromGroup')).toHaveLength(removalsBefore);
      expect(await grantOf(h, second.requestId)).toMatchObject({ state: 'active' });

      clock.advance(60 * MINUTE);
      const secondRevoked = await waitForEvent(h, second.requestId, 'grant.revoked');
      expect(secondRevoked).toMatchObject({ details: { reason: 'expired', provider_call: 'revoked' } });
      await h.slack.waitFor(() => (!iam().isMember('ProdAdmins', CAROL) ? true : undefined), 5_000, 'carol removed when the last grant ends');
      expect(h.iam.calls('RemoveUserFromGroup')).toHaveLength(removalsBefore + 1);
      await waitForDm(h, 'U0CAROL', new RegExp(`\`prod-admin\` has ended \\(request #${second.requestId}\\)`));

      const kinds = (await ledger(h)).map((e) => e.kind);
      expect(kinds.filter((k) => k === 'grant.applied')).toHaveLength(kinds.filter((k) => k === 'grant.revoked').length);
      expect(approvalCard(h, 'U0BOB', second.requestId)).toBeDefined();
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}
