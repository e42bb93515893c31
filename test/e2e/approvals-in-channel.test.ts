import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, DENY_MODAL } from '../../src/slack/blocks/view-models.ts';
import { post, viewSubmission } from '../support/slack-requests.ts';
import { postgresAvailable } from '../support/databases.ts';
import { approvalCard, click, clockAtNow, eventsOf, grantOf, hasButton, personFields, request, slash, waitForCard, waitForDm, waitForEvent } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { textOf, type StoredMessage } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    grant: { aws_iam_group: ProdDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB, U0CAROL], channel: C0DBA }
  staging-db:
    grant: { aws_iam_group: StagingDB }
    max_duration: 2h
    approvers: { channel: C0STAGE }
  prod-admin:
    grant: { aws_iam_group: Admin }
    max_duration: 1h
    approvers: { slack_users: [U0BOB, U0CAROL], channel: C0LOCKED }
`;

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const CARD = (requestId: number) => new RegExp(`^Access request #${requestId}:`);

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`approvals in a channel [${database}]`, () => {
    let h: Harness;
    const clock = clockAtNow();

    beforeAll(async () => {
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock,
        tickMs: 50,
        slack: {
          users: USERS.map((n) => ({ id: `U0${n.toUpperCase()}`, name: n, email: `${n}@example.com` })),
          channels: {
            // Dave and the requester are in the channel, but only bob and carol approve prod-db.
            C0DBA: { name: 'dba-approvals', members: ['U0ALICE', 'U0BOB', 'U0CAROL', 'U0DAVE'], botIsMember: true },
            // Named alone: its members approve.
            C0STAGE: { name: 'staging-approvals', members: ['U0ALICE', 'U0ERIN'], botIsMember: true, isPrivate: true },
            // Nobody invited the bot.
            C0LOCKED: { name: 'admin-approvals', members: ['U0BOB', 'U0CAROL'] },
          },
        },
      });
      for (const group of ['ProdDB', 'StagingDB', 'Admin']) h.iam.account().addGroup(group);
      for (const n of USERS) h.iam.account().addUser(`${n}@example.com`);
    });
    afterAll(async () => h?.stop());

    /** The card in a channel, found by the request it is for. */
    const channelCard = (channel: string, requestId: number) => h.slack.messagesTo(channel).find((m) => !m.threadTs && CARD(requestId).test(m.text ?? ''));
    const waitForChannelCard = (channel: string, requestId: number) =>
      h.slack.waitFor(() => structuredClone(channelCard(channel, requestId)), 5_000, `the card for #${requestId} in ${channel}`);
    const thread = (card: StoredMessage) => h.slack.messagesTo(card.channel).filter((m) => m.threadTs === card.ts).map((m) => m.text ?? '');

    it('warns at start, and alerts security once, about an approval channel the bot is not in', async () => {
      await h.slack.waitFor(() => /approval channel C0LOCKED \(prod-admin\) cannot take approval cards: invite the bot/.test(h.logs()), 5_000, 'the start-up warning');
      const alert = await h.slack.waitFor(() => h.slack.messagesTo('C0SEC').find((m) => textOf(m).includes('C0LOCKED')), 5_000, 'the alert');
      expect(textOf(alert)).toMatch(/Approval cards for `prod-admin` go to channel `C0LOCKED`, but breakglass is not a member of it/);
      expect(h.logs()).not.toMatch(/approval channel C0DBA/);
      expect(h.logs()).not.toMatch(/approval channel C0STAGE/);
    });

    it('posts one card in the channel and DMs no approver; the evidence says where it went', async () => {
      const { requestId, reply } = await request(h, 'U0ALICE', 'prod-db 1h INC-7 replica lag');
      expect(reply).toMatch(/request #\d+/i);
      const card = await waitForChannelCard('C0DBA', requestId);
      expect(hasButton(card, ACTIONS.approve)).toBe(true);
      expect(h.slack.messagesTo('C0DBA').filter((m) => CARD(requestId).test(m.text ?? ''))).toHaveLength(1);
      // The outbox has sent everything it had for the request by the time card_posted is recorded.
      const posted = await waitForEvent(h, requestId, 'approval.card_posted');
      expect(posted.details).toEqual({ channel: 'C0DBA', ts: card.ts, ...(await personFields(h, 'U0ALICE')) });
      const created = (await eventsOf(h, requestId)).find((e) => e.kind === 'request.created')!;
      expect(created.details).toMatchObject({ approval_channel: 'C0DBA', approvers: ['U0BOB', 'U0CAROL'] });
      for (const approver of ['U0BOB', 'U0CAROL']) expect(approvalCard(h, approver, requestId)).toBeUndefined();
    });

    it('refuses a click from someone in the channel who is no approver, or the requester, and changes nothing', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 30m INC-8 vacuum');
      const card = await waitForChannelCard('C0DBA', requestId);
      const dave = await click(h, 'U0DAVE', ACTIONS.approve, { message: card });
      expect(await dave.reply()).toMatch(/You are not an approver for `prod-db`, so you cannot approve request #\d+/);
      const alice = await click(h, 'U0ALICE', ACTIONS.approve, { message: card });
      expect(await alice.reply()).toMatch(/You cannot approve your own request/);
      const daveDeny = await click(h, 'U0DAVE', ACTIONS.deny, { message: card }, { triggerId: 'trigger-dave' });
      expect(await daveDeny.reply()).toMatch(/you cannot deny/);
      expect((await eventsOf(h, requestId)).map((e) => e.kind)).not.toContain('request.approved');
      const now = channelCard('C0DBA', requestId)!;
      expect(now.history).toEqual([]);
      expect(thread(now)).toEqual([]);
      expect(await grantOf(h, requestId)).toBeUndefined();
      expect([...h.slack.modals.values()].some((v) => v.private_metadata === String(requestId))).toBe(false);
    });

    it('an approver in the channel approves: the card changes in place, the thread tells each step, access is granted; a repeated click changes nothing', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 2h INC-9 failover drill');
      const card = await waitForChannelCard('C0DBA', requestId);
      const approve = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      expect(approve.status).toBe(200);
      await waitForEvent(h, requestId, 'grant.applied');
      expect(h.iam.account().members('ProdDB')).toContain('alice@example.com');

      const updated = await h.slack.waitFor(() => {
        const now = channelCard('C0DBA', requestId);
        return now && now.history.length > 0 && !hasButton(now, ACTIONS.approve) ? structuredClone(now) : undefined;
      }, 5_000, 'the card decided in place');
      expect(updated.ts).toBe(card.ts);
      expect(textOf(updated)).toMatch(/U0BOB|bob/);
      const replies = await h.slack.waitFor(() => (thread(card).length >= 2 ? thread(card) : undefined), 5_000, 'two thread replies');
      expect(replies[0]).toMatch(/<@U0BOB> approved \(1 of 1\)/);
      expect(replies[1]).toMatch(/Access granted until/);

      const events = (await eventsOf(h, requestId)).length;
      const again = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      expect(await again.reply()).toMatch(/already approved/);
      const carol = await click(h, 'U0CAROL', ACTIONS.approve, { message: card });
      expect(await carol.reply()).toMatch(/already approved/);
      expect((await eventsOf(h, requestId)).length).toBe(events);
      expect(thread(card)).toEqual(replies);

      // Its end is told in the thread too.
      await slash(h, 'U0ALICE', `end ${requestId}`);
      await waitForEvent(h, requestId, 'grant.revoked');
      await h.slack.waitFor(() => thread(card).length === 3, 5_000, 'the end in the thread');
      expect(thread(card)[2]).toMatch(/Access ended/);
      expect(h.slack.violations).toEqual([]);
    });

    it('an approver denies in the channel: the card shows it in place, the thread gives the reason', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-13 schema change');
      const card = await waitForChannelCard('C0DBA', requestId);
      const triggerId = '22222.33333.channeldeny';
      await click(h, 'U0CAROL', ACTIONS.deny, { message: card }, { triggerId });
      const modal = await h.slack.waitFor(() => [...h.slack.modals.values()].find((v) => v.private_metadata === String(requestId)), 5_000, 'the deny modal');
      const reason = 'Wait for the change window';
      const submitted = await post(h.baseUrl, viewSubmission({ userId: 'U0CAROL', view: modal, values: { [DENY_MODAL.block]: { [DENY_MODAL.action]: reason } } }));
      expect(submitted.status).toBe(200);
      await waitForEvent(h, requestId, 'request.denied');
      await h.slack.waitFor(() => thread(card).some((t) => t.includes(`<@U0CAROL> denied: ${reason}`)), 5_000, 'the denial in the thread');
      const now = channelCard('C0DBA', requestId)!;
      expect(now.ts).toBe(card.ts);
      expect(textOf(now)).toMatch(/Denied\* by <@U0CAROL>/);
      expect(hasButton(now, ACTIONS.approve)).toBe(false);
      const late = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      expect(await late.reply()).toMatch(/already denied; nothing changed/);
      expect(thread(card)).toHaveLength(1);
    });

    it('a channel named alone: its members approve, the requester and outsiders do not', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'staging-db 1h INC-10 data fix');
      const card = await waitForChannelCard('C0STAGE', requestId);
      const created = (await eventsOf(h, requestId)).find((e) => e.kind === 'request.created')!;
      // The bot is in the channel too; it approves nothing.
      expect(created.details).toMatchObject({ approval_channel: 'C0STAGE', approvers: ['U0ERIN'] });
      const dave = await click(h, 'U0DAVE', ACTIONS.approve, { message: card });
      expect(await dave.reply()).toMatch(/You are not an approver for `staging-db`/);
      await click(h, 'U0ERIN', ACTIONS.approve, { message: card });
      await waitForEvent(h, requestId, 'grant.applied');
      await h.slack.waitFor(() => thread(card).some((t) => /<@U0ERIN> approved/.test(t)), 5_000, 'erin in the thread');
    });

    it('a channel that refuses the card: the approvers get it as DMs, security is alerted, the evidence says so', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'prod-admin 30m INC-11 rotate keys');
      const bobs = await waitForCard(h, 'U0BOB', requestId);
      await waitForCard(h, 'U0CAROL', requestId);
      expect(channelCard('C0LOCKED', requestId)).toBeUndefined();
      const failed = await waitForEvent(h, requestId, 'approval.channel_failed');
      expect(failed.details).toEqual({ channel: 'C0LOCKED', error: 'not_in_channel', dm_approvers: ['U0BOB', 'U0CAROL'], ...(await personFields(h, 'U0ALICE')) });
      const alert = await h.slack.waitFor(() => h.slack.messagesTo('C0SEC').find((m) => textOf(m).includes(`request #${requestId}`) && textOf(m).includes('C0LOCKED')), 5_000, 'the fallback alert');
      expect(textOf(alert)).toMatch(/could not be posted in channel `C0LOCKED` \(not_in_channel\); it was sent as a direct message to/);
      // The DM cards work as ever.
      await click(h, 'U0BOB', ACTIONS.approve, { message: bobs });
      await waitForEvent(h, requestId, 'grant.applied');
    });

    it('a request nobody decides: its approvers are reminded where the card is, then it expires and its thread says so', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-12 nobody answers');
      const card = await waitForChannelCard('C0DBA', requestId);
      clock.advance(31 * 60_000);
      for (const approver of ['U0BOB', 'U0CAROL']) {
        await waitForDm(h, approver, new RegExp(`request #${requestId} for \`prod-db\` is still waiting for your decision.*Its card, with Approve and Deny, is in channel \`C0DBA\``));
      }
      expect(h.slack.messagesTo('U0DAVE').some((m) => textOf(m).includes(`#${requestId}`))).toBe(false);
      clock.advance(30 * 60_000);
      await waitForEvent(h, requestId, 'request.expired');
      await h.slack.waitFor(() => thread(card).some((t) => /Expired before enough approvers decided/.test(t)), 5_000, 'the expiry in the thread');
      expect(hasButton(channelCard('C0DBA', requestId), ACTIONS.approve)).toBe(false);
    });

    it('checks the approval channels of a reloaded policy', async () => {
      writeFileSync(h.accessPath, `${ACCESS}  prod-ledger:\n    grant: { aws_iam_group: Ledger }\n    max_duration: 1h\n    approvers: { slack_users: [U0BOB], channel: C0GONE }\n`);
      expect((await h.bot.reloadPolicy('test')).kind).toBe('loaded');
      await h.slack.waitFor(() => /approval channel C0GONE \(prod-ledger\) cannot take approval cards: correct approvers.channel/.test(h.logs()), 5_000, 'the reload warning');
      const alert = await h.slack.waitFor(() => h.slack.messagesTo('C0SEC').find((m) => textOf(m).includes('C0GONE')), 5_000, 'the reload alert');
      expect(textOf(alert)).toMatch(/Slack does not know it/);
      // C0LOCKED was told already and not acknowledged: not again.
      expect(h.slack.messagesTo('C0SEC').filter((m) => textOf(m).includes('go to channel `C0LOCKED`'))).toHaveLength(1);
    });
  });
}
