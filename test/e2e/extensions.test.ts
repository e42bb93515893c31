/**
 * `/breakglass extend` against the end of the access it extends: an extension waiting for approval
 * when the access ends (expiry, ending early, offboarding, an access-review revoke), an approval
 * racing with the end, and an extension in flight at the provider while the access expires or is
 * ended. Whatever the order, the provider ends in the state the ledger records, and the requester
 * and the approvers are told what happened.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { approveRequest } from '../../src/app/decide-request.ts';
import { GRANT_LEASE_MS } from '../../src/db/grants-repo.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import type { Clock } from '../../src/ports.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { click, clockAtNow, eventsOf, grantOf, hasButton, iamTime, request, requestAndApprove, slash, waitForCard, waitForDm, waitForEvent, type GrantRow } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { otherProcessDeps } from '../support/process-deps.ts';
import { clickReview, lineOn, requestReview, waitForReviewCard } from '../support/reviews.ts';
import { eventCallback, post, userChangeEvent } from '../support/slack-requests.ts';
import { textOf } from '../support/slack-server.ts';

vi.setConfig({ testTimeout: 60_000 });

const ACCESS = `security_channel: C0SEC
security: { slack_users: [U0SEC] }
resources:
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
  prod-break:
    description: Write to the production bucket in an emergency
    grant:
      aws_iam_policy:
        Version: '2012-10-17'
        Statement:
          - Sid: WriteBucket
            Effect: Allow
            Action: ['s3:PutObject']
            Resource: 'arn:aws:s3:::prod-bucket/*'
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
    emergency_self_grant: true
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
reviews:
  schedule: quarterly
  scope: [prod-db]
`;

const REQUESTERS = ['U0ALICE', 'U0CAROL', 'U0DAVE', 'U0ERIN', 'U0FRANK', 'U0GINA', 'U0HANK', 'U0IVY', 'U0JACK', 'U0KIM'];
const USERS = ['U0BOB', 'U0SEC', ...REQUESTERS].map((id) => ({ id, name: id.slice(2).toLowerCase(), email: `${id.slice(2).toLowerCase()}@example.com` }));
const email = (id: string) => `${id.slice(2).toLowerCase()}@example.com`;
const POLICY = 'breakglass-prod-s3';
const MINUTE = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`extensions against the end of access [${database}]`, () => {
    let h: Harness;
    let clock: FakeClock;
    const iam = () => h.iam.account();

    beforeAll(async () => {
      clock = clockAtNow();
      h = await startHarness({ database, accessYml: ACCESS, clock, tickMs: 50, slack: { users: USERS } });
      for (const id of REQUESTERS) {
        iam().addUser(email(id));
        h.okta.addUser({ login: email(id), email: email(id), firstName: id.slice(2, 3) + id.slice(3).toLowerCase(), lastName: 'Test' });
      }
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
    });
    afterAll(async () => h?.stop());

    /** The inline policy's end at IAM, or undefined when the person holds no policy. */
    const policyEnd = (user: string, policy = POLICY) => {
      const condition = iam().userPolicy(email(user), policy)?.Statement[0]?.Condition as { DateLessThan: Record<string, string> } | undefined;
      return condition?.DateLessThan['aws:CurrentTime'];
    };
    const puts = (user: string) => h.iam.calls('PutUserPolicy').filter((c) => c.params.UserName === email(user)).length;
    const deletes = (user: string) => h.iam.calls('DeleteUserPolicy').filter((c) => c.params.UserName === email(user)).length;
    const holdPut = (user: string) => h.iam.holdWhen((r) => r.action === 'PutUserPolicy' && r.params.UserName === email(user));
    // Whether the approvers' half-TTL reminder beats the expiry when the clock jumps past both is a
    // race these tests are not about (test/e2e/reminders.test.ts is); every other event must match.
    const kinds = async (requestId: number) => (await eventsOf(h, requestId)).map((e) => e.kind).filter((kind) => kind !== 'reminder.sent');

    async function extend(user: string, requestId: number, duration: string): Promise<number> {
      const reply = await (await slash(h, user, `extend ${requestId} ${duration}`)).reply();
      const id = /Request #(\d+)/.exec(reply)?.[1];
      if (!id) throw new Error(`no extension request in: ${reply}`);
      return Number(id);
    }

    /** The access ends while the extension waits: the extension ends with it, card and requester told. */
    async function expectCancelled(user: string, grant: GrantRow, extensionId: number, endReason: string) {
      const cancelled = await waitForEvent(h, extensionId, 'request.cancelled', 10_000);
      expect(cancelled).toMatchObject({
        actor: 'breakglass',
        subject: user,
        resource: grant.resource,
        details: { reason: 'grant_ended', grant_id: grant.id, original_request_id: grant.requestId, grant_end_reason: endReason },
      });
      const card = await waitForCard(h, 'U0BOB', extensionId, /Cancelled\*: the access it extends has ended/);
      expect(hasButton(card, ACTIONS.approve)).toBe(false);
      await waitForDm(h, user, new RegExp(`extension request #${extensionId} for \`${grant.resource}\` is cancelled: the access it extends \\(request #${grant.requestId}\\) has ended`));
      return card;
    }

    it('the access expires while an extension waits: the extension is cancelled, its card closes in place, and a late Approve changes nothing', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0ALICE', 'prod-s3 30m INC-1 backfill', ['U0BOB']);
      const extensionId = await extend('U0ALICE', requestId, '1h');
      const pending = await waitForCard(h, 'U0BOB', extensionId);
      expect(hasButton(pending, ACTIONS.approve)).toBe(true);

      clock.advance(31 * MINUTE);
      await h.slack.waitFor(() => (policyEnd('U0ALICE') === undefined ? true : undefined), 10_000, 'the policy deleted at expiry');
      const closed = await expectCancelled('U0ALICE', grant, extensionId, 'expired');
      expect(closed.ts).toBe(pending.ts);

      // Bob clicks the card as he saw it before it closed.
      const late = await click(h, 'U0BOB', ACTIONS.approve, { message: pending });
      expect(await late.reply()).toMatch(new RegExp(`Request #${extensionId} was already cancelled \\(the access it extends has ended\\); nothing changed`));
      await sleep(300);
      expect(await kinds(extensionId)).toEqual(['request.created', 'request.cancelled']);
      expect(await grantOf(h, requestId)).toMatchObject({ state: 'revoked', endsAt: grant.endsAt });
      expect(puts('U0ALICE')).toBe(1);
      expect(policyEnd('U0ALICE')).toBeUndefined();
    });

    it('ending the access early cancels its pending extensions; offboarding cancels them with the rest of a leaver\'s requests', async () => {
      const early = await requestAndApprove(h, 'U0CAROL', 'prod-s3 1h INC-2 export', ['U0BOB']);
      const earlyExtension = await extend('U0CAROL', early.requestId, '1h');
      await waitForCard(h, 'U0BOB', earlyExtension);
      await (await slash(h, 'U0CAROL', `end ${early.requestId}`)).reply();
      await expectCancelled('U0CAROL', early.grant, earlyExtension, 'ended');

      const leaver = await requestAndApprove(h, 'U0DAVE', 'prod-s3 1h INC-3 export', ['U0BOB']);
      const leaverExtension = await extend('U0DAVE', leaver.requestId, '1h');
      await waitForCard(h, 'U0BOB', leaverExtension);
      await post(h.baseUrl, eventCallback(userChangeEvent({ ...h.slack.userObject('U0DAVE'), deleted: true })));
      // The leaver's pending requests end at the deactivation itself, before the grant's revoke.
      expect(await waitForEvent(h, leaverExtension, 'request.cancelled', 10_000)).toMatchObject({ actor: 'breakglass', subject: 'U0DAVE', resource: 'prod-s3', details: { reason: 'offboarding' } });
      const card = await waitForCard(h, 'U0BOB', leaverExtension, /Cancelled\*: the requester was offboarded/);
      expect(hasButton(card, ACTIONS.approve)).toBe(false);
      await h.slack.waitFor(() => (policyEnd('U0DAVE') === undefined ? true : undefined), 10_000, 'the leaver\'s policy deleted');

      for (const user of ['U0CAROL', 'U0DAVE']) expect(policyEnd(user)).toBeUndefined();
      expect(await kinds(earlyExtension)).toEqual(['request.created', 'request.cancelled']);
      expect(await kinds(leaverExtension)).toEqual(['request.created', 'request.cancelled']);
    });

    it('an access-review revoke cancels the pending extensions of the access it removes', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0ERIN', 'prod-db 2h INC-4 vacuum', ['U0BOB']);
      expect(h.okta.isMember('00gPRODDB', email('U0ERIN'))).toBe(true);
      const extensionId = await extend('U0ERIN', requestId, '1h');
      await waitForCard(h, 'U0BOB', extensionId);

      // Erin has no manager in Okta, so security reviews her access.
      const { campaignId } = await requestReview(h, ACCESS, clock, { period: `extensions-${database}`, scope: ['prod-db'] });
      const card = await waitForReviewCard(h, 'C0SEC', campaignId);
      await clickReview(h, 'U0SEC', card, ACTIONS.reviewRevoke, lineOn(card, 'Erin Test', 'prod-db').itemId);
      await h.slack.waitFor(() => (!h.okta.isMember('00gPRODDB', email('U0ERIN')) ? true : undefined), 10_000, 'erin removed from the group');
      await expectCancelled('U0ERIN', grant, extensionId, 'review');
      expect(await grantOf(h, requestId)).toMatchObject({ state: 'revoked', revokeReason: 'review' });
    });

    it('an Approve racing with the end (here: a replica whose clock is ahead) cancels the extension instead, and nothing reaches the provider', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0IVY', 'prod-s3 30m INC-5 audit', ['U0BOB']);
      clock.advance(29 * MINUTE);
      const extensionId = await extend('U0IVY', requestId, '1h');
      const pending = await waitForCard(h, 'U0BOB', extensionId);

      // The replica sees the access past its end before this bot's revoke worker has taken it.
      const ahead: Clock = { now: () => new Date(clock.now().getTime() + 2 * MINUTE) };
      const replica = otherProcessDeps(h, { accessYml: ACCESS, clock: ahead, provider: { grant: async () => expect.fail('an ended grant must not be extended at the provider') } });
      await expect(approveRequest(replica, { requestId: extensionId, approver: 'U0BOB' })).rejects.toThrow(
        new RegExp(`Request #${extensionId} extends access that has already ended, so it is cancelled; nothing was granted`),
      );
      expect(await kinds(extensionId)).toEqual(['request.created', 'request.cancelled']);
      expect(puts('U0IVY')).toBe(1);
      expect(policyEnd('U0IVY')).toBe(iamTime(grant.endsAt));

      // This bot's clock catches up: the replica's messages fall due, and the access is revoked.
      clock.advance(2 * MINUTE);
      const closed = await expectCancelled('U0IVY', grant, extensionId, 'expired');
      expect(closed.ts).toBe(pending.ts);
      await waitForEvent(h, requestId, 'grant.revoked', 10_000);
      await h.slack.waitFor(() => (policyEnd('U0IVY') === undefined ? true : undefined), 10_000, 'the policy deleted');
      expect(await kinds(extensionId)).toEqual(['request.created', 'request.cancelled']);
      expect(puts('U0IVY')).toBe(1);
    });

    it('an extension in flight when the access expires: the revoke worker waits for it, and IAM ends when the ledger says', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0FRANK', 'prod-s3 30m INC-6 restore', ['U0BOB']);
      const extensionId = await extend('U0FRANK', requestId, '1h');
      const card = await waitForCard(h, 'U0BOB', extensionId);
      // Approved five seconds before the end; IAM holds the re-grant until after it.
      clock.advance(30 * MINUTE - 5_000);
      const hold = holdPut('U0FRANK');
      try {
        await click(h, 'U0BOB', ACTIONS.approve, { message: card });
        await hold.reached;
        clock.advance(10_000);
        await sleep(500);
        expect(await grantOf(h, requestId)).toMatchObject({ state: 'extending' });
        expect(deletes('U0FRANK')).toBe(0);
        expect(await kinds(requestId)).not.toContain('grant.revoked');
      } finally {
        hold.release();
      }
      const extended = await waitForEvent(h, extensionId, 'grant.extended', 10_000);
      const newEnd = new Date(grant.endsAt.getTime() + 60 * MINUTE);
      expect(extended.details).toMatchObject({ grant_id: grant.id, previous_ends_at: grant.endsAt.toISOString(), ends_at: newEnd.toISOString() });
      expect(await grantOf(h, requestId)).toMatchObject({ state: 'active', endsAt: newEnd, extensionRequestId: null });
      expect(policyEnd('U0FRANK')).toBe(iamTime(newEnd));
      await sleep(300);
      expect(deletes('U0FRANK')).toBe(0);

      clock.advance(61 * MINUTE);
      const revoked = await waitForEvent(h, requestId, 'grant.revoked', 10_000);
      expect(revoked.details).toMatchObject({ reason: 'expired', ends_at: newEnd.toISOString(), provider_call: 'revoked' });
      expect(policyEnd('U0FRANK')).toBeUndefined();
      expect(await kinds(extensionId)).toEqual(['request.created', 'request.approved', 'grant.extended']);
    });

    it('access ended while its extension is in flight: the extension gives nothing, is recorded as failed, and everyone is told', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0GINA', 'prod-s3 1h INC-7 migrate', ['U0BOB']);
      const extensionId = await extend('U0GINA', requestId, '1h');
      const card = await waitForCard(h, 'U0BOB', extensionId);
      const hold = holdPut('U0GINA');
      let approval: Awaited<ReturnType<typeof click>>;
      try {
        approval = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
        await hold.reached;
        expect(await (await slash(h, 'U0GINA', `end ${requestId}`)).reply()).toMatch(/Ending your access to `prod-s3`/);
        await sleep(500);
        // The revoke waits for the extension, so the held re-grant cannot land after it.
        expect(deletes('U0GINA')).toBe(0);
      } finally {
        hold.release();
      }
      const failed = await waitForEvent(h, extensionId, 'grant.failed', 10_000);
      expect(failed).toMatchObject({ actor: 'breakglass', subject: 'U0GINA', details: { grant_id: grant.id, extension: true, error: 'the access was ended while it was being extended' } });
      const revoked = await waitForEvent(h, requestId, 'grant.revoked', 10_000);
      expect(revoked.details).toMatchObject({ reason: 'ended', provider_call: 'revoked' });
      await h.slack.waitFor(() => (policyEnd('U0GINA') === undefined ? true : undefined), 10_000, 'the policy deleted');
      expect(await grantOf(h, requestId)).toMatchObject({ state: 'revoked', endsAt: new Date(revoked.details.ends_at as string) });

      expect(await approval.reply()).toBe('Approved, but the extension failed: the access was ended while it was being extended');
      await waitForDm(h, 'U0GINA', new RegExp(`could not be extended \\(request #${extensionId}\\): the access was ended while it was being extended`));
      const shown = await waitForCard(h, 'U0BOB', extensionId, /could not be extended/);
      expect(textOf(shown)).toContain('the access was ended while it was being extended');
      expect(await kinds(extensionId)).toEqual(['request.created', 'request.approved', 'grant.failed']);
      expect(await kinds(requestId)).toEqual(['request.created', 'request.approved', 'grant.applied', 'grant.end_requested', 'grant.revoked']);
    });

    it('two extensions approved at the same moment: one is applied, the other is refused unchanged and applies after', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0HANK', 'prod-s3 1h INC-8 reindex', ['U0BOB']);
      const first = await extend('U0HANK', requestId, '1h');
      const second = await extend('U0HANK', requestId, '30m');
      const firstCard = await waitForCard(h, 'U0BOB', first);
      const secondCard = await waitForCard(h, 'U0BOB', second);
      const hold = holdPut('U0HANK');
      try {
        await click(h, 'U0BOB', ACTIONS.approve, { message: firstCard });
        await hold.reached;
        const refused = await click(h, 'U0BOB', ACTIONS.approve, { message: secondCard });
        expect(await refused.reply()).toBe(
          `Request #${second} cannot be approved this moment: the access it extends is being extended by request #${first}. Nothing changed; approve again in a moment.`,
        );
        expect(await kinds(second)).toEqual(['request.created']);
      } finally {
        hold.release();
      }
      await waitForEvent(h, first, 'grant.extended', 10_000);
      const again = await waitForCard(h, 'U0BOB', second);
      expect(hasButton(again, ACTIONS.approve)).toBe(true);
      await click(h, 'U0BOB', ACTIONS.approve, { message: again });
      const last = await waitForEvent(h, second, 'grant.extended', 10_000);
      const end = new Date(grant.endsAt.getTime() + 90 * MINUTE);
      expect(last.details).toMatchObject({ previous_ends_at: new Date(grant.endsAt.getTime() + 60 * MINUTE).toISOString(), ends_at: end.toISOString() });
      expect(await grantOf(h, requestId)).toMatchObject({ state: 'active', endsAt: end });
      expect(policyEnd('U0HANK')).toBe(iamTime(end));
      await (await slash(h, 'U0HANK', `end ${requestId}`)).reply();
      await h.slack.waitFor(() => (policyEnd('U0HANK') === undefined ? true : undefined), 10_000, 'the policy deleted');
    });

    it('a process that dies mid-extension: once its lease runs out the extension is finished, once', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0JACK', 'prod-s3 1h INC-9 rebuild', ['U0BOB']);
      const extensionId = await extend('U0JACK', requestId, '2h');
      await waitForCard(h, 'U0BOB', extensionId);
      // Another process takes the approval and never hears back from IAM: what the database sees of a crash.
      void approveRequest(otherProcessDeps(h, { accessYml: ACCESS, clock, provider: {} }), { requestId: extensionId, approver: 'U0BOB' });
      await h.slack.waitFor(async () => ((await grantOf(h, requestId))?.state === 'extending' ? true : undefined), 10_000, 'the grant extending');
      await sleep(300);
      expect(puts('U0JACK')).toBe(1);

      clock.advance(GRANT_LEASE_MS + 1_000);
      const extended = await waitForEvent(h, extensionId, 'grant.extended', 10_000);
      const newEnd = new Date(grant.endsAt.getTime() + 120 * MINUTE);
      expect(extended.details).toMatchObject({ ends_at: newEnd.toISOString() });
      expect(policyEnd('U0JACK')).toBe(iamTime(newEnd));
      await sleep(300);
      expect(await kinds(extensionId)).toEqual(['request.created', 'request.approved', 'grant.extended']);
      expect(puts('U0JACK')).toBe(2);
      await waitForDm(h, 'U0JACK', new RegExp(`\`prod-s3\` \\(request #${requestId}\\) is extended until`));
    });

    it('an emergency self-granted extension is applied at once, through the same extending lease', async () => {
      const { requestId } = await request(h, 'U0KIM', 'prod-break 30m INC-10 outage');
      const applied = await waitForEvent(h, requestId, 'grant.applied', 10_000);
      const reply = await (await slash(h, 'U0KIM', `extend ${requestId} 1h`)).reply();
      const extensionId = Number(new RegExp(`Emergency access for \`request #${requestId}\` \\(1h more\\) granted under request #(\\d+)`).exec(reply)?.[1]);
      expect(extensionId).toBeGreaterThan(requestId);
      const extended = await waitForEvent(h, extensionId, 'grant.extended', 10_000);
      const newEnd = new Date(new Date(applied.details.ends_at as string).getTime() + 60 * MINUTE);
      expect(extended.details).toMatchObject({ ends_at: newEnd.toISOString() });
      expect(await grantOf(h, requestId)).toMatchObject({ state: 'active', endsAt: newEnd, extensionRequestId: null });
      expect(policyEnd('U0KIM', 'breakglass-prod-break')).toBe(iamTime(newEnd));
    });

    it('leaves an intact ledger and made only calls Slack accepts', async () => {
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}

