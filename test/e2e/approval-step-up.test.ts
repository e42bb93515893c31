import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { postgresAvailable } from '../support/databases.ts';
import { click, clockAtNow, eventsOf, grantOf, hasButton, personFields, request, waitForCard, waitForEvent } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { blockAction, post } from '../support/slack-requests.ts';
import { textOf } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB, U0CAROL, U0DAN] }
    approval: { step_up: okta_verify }
  staging-db:
    grant: { okta_group: 00gSTAGING }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

const PUSH_SENT = /Approve the Okta Verify push on your phone/;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`approvals with an Okta Verify step-up [${database}]`, () => {
    let h: Harness;
    let bobFactor: string;
    beforeAll(async () => {
      h = await startHarness({
        database,
        accessYml: ACCESS,
        // A step-up gives up after a second here, not a minute.
        stepUp: { pollMs: 50, timeoutMs: 1_000 },
        slack: {
          users: [
            { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
            { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
            { id: 'U0CAROL', name: 'carol', email: 'carol@example.com' },
            // Dan is in Slack only: Okta does not know him.
            { id: 'U0DAN', name: 'dan', email: 'dan@example.com' },
          ],
        },
      });
      h.okta.addUser({ login: 'alice@example.com' });
      h.okta.addUser({ login: 'bob@example.com' });
      h.okta.addUser({ login: 'carol@example.com' });
      // Carol has only an SMS factor: no Okta Verify push to send.
      h.okta.addFactor('carol@example.com', { factorType: 'sms' });
      h.okta.addFactor('bob@example.com', { factorType: 'push', status: 'PENDING_ACTIVATION' });
      bobFactor = h.okta.addFactor('bob@example.com').id;
      h.okta.addGroup({ id: '00gPRODDB' });
      h.okta.addGroup({ id: '00gSTAGING' });
    });
    afterAll(async () => h?.stop());

    const pushesTo = (login: string) => h.okta.pushes.filter((p) => p.userId === h.okta.user(login)!.id);

    it('counts an approval once the push is accepted, acked at once, and records how the approver was verified', async () => {
      h.okta.scriptPush('bob@example.com', { result: 'SUCCESS', afterPolls: 2 });
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-1 disk full');
      const card = await waitForCard(h, 'U0BOB', requestId);
      expect(textOf(card)).toContain('Approving sends an Okta Verify push to your phone');
      const started = Date.now();
      const approve = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      expect(approve.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await approve.reply()).toMatch(PUSH_SENT);

      await h.slack.waitFor(() => h.okta.isMember('00gPRODDB', 'alice@example.com') || undefined, 5_000, 'alice in the Okta group');
      await waitForCard(h, 'U0BOB', requestId, /access is active/i);
      const push = pushesTo('bob@example.com').at(-1)!;
      expect(push).toMatchObject({ factorId: bobFactor, polls: 3 });
      const approved = await waitForEvent(h, requestId, 'request.approved');
      expect(approved).toMatchObject({ actor: 'U0BOB', subject: 'U0ALICE', resource: 'prod-db' });
      expect(approved.details).toEqual({
        ...(await personFields(h, 'U0ALICE')),
        approvals: 1,
        approvals_required: 1,
        final: true,
        config_hash: expect.any(String),
        verification: { method: 'okta_verify_push', factor_result: 'SUCCESS', factor_id: bobFactor, transaction_id: push.transactionId, okta_user_id: h.okta.user('bob@example.com')!.id },
      });
      // The factors were asked by the approver's Okta id, as the spec's paths take it.
      const factorCalls = h.okta.requests.filter((r) => r.path.includes('/factors'));
      expect(factorCalls.every((r) => r.path.startsWith(`/api/v1/users/${h.okta.user('bob@example.com')!.id}/factors`))).toBe(true);
      expect(factorCalls.find((r) => r.method === 'POST')).toMatchObject({ body: '', status: 201 });

      // A stale click on the decided request sends no second push.
      const pushed = h.okta.pushes.length;
      const again = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      expect(await again.reply()).toMatch(/already approved/);
      expect(h.okta.pushes.length).toBe(pushed);
      expect((await eventsOf(h, requestId)).filter((e) => e.kind === 'request.approved')).toHaveLength(1);
    });

    it('a rejected push leaves the card as it was, tells the approver why and records approval.step_up_failed', async () => {
      h.okta.scriptPush('bob@example.com', { result: 'REJECTED', afterPolls: 1 });
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-2 failover');
      const card = await waitForCard(h, 'U0BOB', requestId);
      const approve = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      const failed = await waitForEvent(h, requestId, 'approval.step_up_failed');
      expect(await approve.reply()).toMatch(PUSH_SENT);
      expect(failed).toMatchObject({ actor: 'U0BOB', subject: 'U0ALICE', resource: 'prod-db' });
      expect(failed.details).toEqual({
        ...(await personFields(h, 'U0ALICE')),
        step_up: 'okta_verify',
        reason: 'rejected',
        factor_result: 'REJECTED',
        factor_id: bobFactor,
        transaction_id: pushesTo('bob@example.com').at(-1)!.transactionId,
        okta_user_id: h.okta.user('bob@example.com')!.id,
        error: null,
        config_hash: expect.any(String),
      });
      expect(await approve.replyMatching(/not counted: you rejected the Okta Verify push/)).toMatch(/Nothing changed/);
      await expectUnchanged(h, requestId, card);
    });

    it('an approver with no Okta Verify push enrolled, or not in Okta, is told so, and no push is sent', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-3 cache');
      const card = await waitForCard(h, 'U0CAROL', requestId);
      const approve = await click(h, 'U0CAROL', ACTIONS.approve, { message: card });
      expect(await approve.reply()).toMatch(/not counted: you have no active Okta Verify push enrolled in Okta/);
      expect((await waitForEvent(h, requestId, 'approval.step_up_failed')).details).toMatchObject({ reason: 'no_push_factor', factor_id: null, okta_user_id: h.okta.user('carol@example.com')!.id });
      expect(pushesTo('carol@example.com')).toEqual([]);
      await expectUnchanged(h, requestId, card, 'U0CAROL');

      const danCard = await waitForCard(h, 'U0DAN', requestId);
      const byDan = await click(h, 'U0DAN', ACTIONS.approve, { message: danCard });
      expect(await byDan.reply()).toMatch(/not counted: breakglass cannot find you in Okta/);
      const failures = (await eventsOf(h, requestId)).filter((e) => e.kind === 'approval.step_up_failed');
      expect(failures.at(-1)).toMatchObject({ actor: 'U0DAN', details: { reason: 'no_okta_user', okta_user_id: null } });
      await expectUnchanged(h, requestId, danCard, 'U0DAN');
    });

    it('a push nobody answers times out; Okta unreachable is said as such; neither counts', async () => {
      h.okta.scriptPush('bob@example.com', { result: 'WAITING' });
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-4 lag');
      const card = await waitForCard(h, 'U0BOB', requestId);
      const approve = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      const failed = await waitForEvent(h, requestId, 'approval.step_up_failed', 10_000);
      expect(failed.details).toMatchObject({ reason: 'timed_out', factor_result: 'WAITING' });
      await approve.replyMatching(/not counted: the Okta Verify push was not answered in time/);

      const stop = h.okta.failWhen((r) => r.path.endsWith('/factors'), 503);
      try {
        const second = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
        expect(await second.reply()).toMatch(/not counted: breakglass could not reach Okta/);
      } finally {
        stop();
      }
      const failures = (await eventsOf(h, requestId)).filter((e) => e.kind === 'approval.step_up_failed');
      expect(failures.map((e) => (e.details as { reason: string }).reason)).toEqual(['timed_out', 'okta_unreachable']);
      await expectUnchanged(h, requestId, card);
    });

    it('two clicks while a push is pending send one push and count once', async () => {
      h.okta.scriptPush('bob@example.com', { result: 'SUCCESS', afterPolls: 8 });
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-5 deploy');
      const card = await waitForCard(h, 'U0BOB', requestId);
      const before = pushesTo('bob@example.com').length;
      const first = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      // Slack had its answer while the push was still on the phone: the push is handled after the ack.
      const ackedAt = Date.now();
      expect(first.status).toBe(200);
      expect(await first.reply()).toMatch(PUSH_SENT);
      const second = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      expect(await second.reply()).toMatch(/already on your phone; approve it there\. No second push was sent/);
      await waitForEvent(h, requestId, 'grant.applied');
      expect(pushesTo('bob@example.com').length).toBe(before + 1);
      const lastPoll = h.okta.requests.filter((r) => r.path.includes('/transactions/')).at(-1)!;
      expect(lastPoll.at.getTime()).toBeGreaterThan(ackedAt);
      expect((await eventsOf(h, requestId)).filter((e) => e.kind === 'request.approved')).toHaveLength(1);
    });

    it.runIf(database === 'postgres')('a second click on another replica while the push is pending sends no second push', async () => {
      const replica = await h.replica();
      h.okta.scriptPush('bob@example.com', { result: 'SUCCESS', afterPolls: 8 });
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-7 migrate');
      const card = await waitForCard(h, 'U0BOB', requestId);
      const before = pushesTo('bob@example.com').length;
      const first = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      expect(await first.reply()).toMatch(PUSH_SENT);
      const onReplica = await post(`http://127.0.0.1:${replica.port}`, blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: card, responseUrl: h.slack.responseUrl('replica-click') }));
      expect(onReplica.status).toBe(200);
      const answer = await h.slack.waitFor(() => h.slack.responses('replica-click')[0], 5_000, 'the replica answering the click');
      expect(String(answer.body.text)).toMatch(/already on your phone/);
      await waitForEvent(h, requestId, 'grant.applied');
      expect(pushesTo('bob@example.com').length).toBe(before + 1);
      expect((await eventsOf(h, requestId)).filter((e) => e.kind === 'request.approved')).toHaveLength(1);
    });

    it('a resource without step_up approves on the Slack click and records slack_session', async () => {
      const factorCalls = h.okta.requests.filter((r) => r.path.includes('/factors')).length;
      const { requestId } = await request(h, 'U0ALICE', 'staging-db 1h INC-6 debug');
      const card = await waitForCard(h, 'U0BOB', requestId);
      expect(textOf(card)).not.toContain('Okta Verify');
      const approve = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      expect(approve.status).toBe(200);
      const approved = await waitForEvent(h, requestId, 'request.approved');
      expect(approved.details).toMatchObject({ final: true, verification: { method: 'slack_session' } });
      await waitForEvent(h, requestId, 'grant.applied');
      expect(h.okta.requests.filter((r) => r.path.includes('/factors')).length).toBe(factorCalls);
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}

/** The request is still pending with nothing approved or granted, and the approver's card still offers Approve. */
async function expectUnchanged(h: Harness, requestId: number, before: { blocks?: readonly unknown[] }, approver = 'U0BOB'): Promise<void> {
  const events = await eventsOf(h, requestId);
  expect(events.map((e) => e.kind).filter((k) => k === 'request.approved' || k.startsWith('grant.'))).toEqual([]);
  expect(await grantOf(h, requestId)).toBeUndefined();
  const card = await waitForCard(h, approver, requestId);
  expect(hasButton(card, ACTIONS.approve)).toBe(true);
  expect(textOf(card)).toBe(textOf(before as Parameters<typeof textOf>[0]));
}

describe('a step-up on the bot\'s default timing (a push waited for 60 s, polled every 2 s) [pglite]', () => {
  let h: Harness;
  const clock = clockAtNow();
  beforeAll(async () => {
    h = await startHarness({
      database: 'pglite',
      accessYml: ACCESS,
      clock,
      slack: { users: [{ id: 'U0ALICE', name: 'alice', email: 'alice@example.com' }, { id: 'U0BOB', name: 'bob', email: 'bob@example.com' }] },
    });
    h.okta.addUser({ login: 'bob@example.com' });
    h.okta.addFactor('bob@example.com');
  });
  afterAll(async () => h?.stop());

  it('gives up on a push nobody answers after 60 s of polls, in fake time', async () => {
    h.okta.scriptPush('bob@example.com', { result: 'WAITING' });
    const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-8 nobody home');
    const card = await waitForCard(h, 'U0BOB', requestId);
    const approve = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
    await approve.replyMatching(/not counted: the Okta Verify push was not answered in time/, 10_000);
    expect(h.okta.pushes).toHaveLength(1);
    expect(h.okta.pushes[0]!.polls).toBe(30);
    expect((await waitForEvent(h, requestId, 'approval.step_up_failed')).details).toMatchObject({ reason: 'timed_out', factor_result: 'WAITING' });
    expect(await grantOf(h, requestId)).toBeUndefined();
  });
});
