/**
 * Attacks on the approval surface. None may have any effect beyond the first legitimate action:
 * each case checks the request's state, the evidence rows and the calls the Okta server saw.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { accessRequests, evidenceEvents, grants, requestApprovals } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS, DENY_MODAL, VIEWS } from '../../src/slack/blocks/view-models.ts';
import { postgresAvailable } from '../support/databases.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { blockAction, interactiveElements, post, slashCommand, viewSubmission, type Signing } from '../support/slack-requests.ts';
import { textOf, type StoredMessage } from '../support/slack-server.ts';

/** Generous: waits end as soon as the condition holds, and a loaded CI machine can be slow. */
const WAIT = 30_000;
vi.setConfig({ testTimeout: 120_000 });

// Alice is both a requester and a listed approver of prod-db; Carol approves only billing.
const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0ALICE, U0BOB] }
  billing:
    description: Billing admin
    grant: { okta_group: 00gBILLING }
    max_duration: 4h
    approvers: { slack_users: [U0CAROL] }
`;

const USERS = [
  { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
  { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
  { id: 'U0CAROL', name: 'carol', email: 'carol@example.com' },
  { id: 'U0DAVE', name: 'dave', email: 'dave@example.com' },
  { id: 'U0MALLORY', name: 'mallory', email: 'mallory@example.com' },
];

let replyCounter = 0;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`approval security [${database}]`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ database, accessYml: ACCESS, slack: { users: USERS } });
      for (const u of USERS) h.okta.addUser({ login: u.email, email: u.email, firstName: u.name, lastName: 'Test' });
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
      h.okta.addGroup({ id: '00gBILLING', name: 'billing' });
    });
    afterAll(async () => h?.stop());

    const events = () => h.bot.database.db.select().from(evidenceEvents).orderBy(evidenceEvents.seq);
    const eventsFor = async (requestId: number) => (await events()).filter((e) => e.requestId === String(requestId));
    const requestRow = async (id: number) => (await h.bot.database.db.select().from(accessRequests).where(eq(accessRequests.id, id)))[0]!;
    const membershipCalls = (method: 'PUT' | 'DELETE', groupId: string) => h.okta.requests.filter((r) => r.method === method && r.path.startsWith(`/api/v1/groups/${groupId}/users/`));

    async function request(user: string, text: string): Promise<number> {
      const name = `req-${++replyCounter}`;
      const res = await post(h.baseUrl, slashCommand({ text, userId: user, responseUrl: h.slack.responseUrl(name) }));
      expect(res.status).toBe(200);
      const answer = await h.slack.waitFor(() => h.slack.responses(name)[0], WAIT, `the answer to ${text}`);
      const id = /Request #(\d+)/.exec(String(answer.body.text))?.[1];
      if (!id) throw new Error(`no request id in ${JSON.stringify(answer.body)}`);
      return Number(id);
    }

    const cardFor = (approver: string, requestId: number) =>
      h.slack.waitFor(
        () => h.slack.messagesTo(approver).find((m) => textOf(m).includes(`Access request #${requestId}`)),
        WAIT,
        `${approver}'s card for #${requestId}`,
      );

    /** Clicks and returns what the bot told the clicker (ephemeral, through the response_url). */
    async function click(user: string, card: StoredMessage, options: { value?: string; actionId?: string; expectReply?: boolean } = {}): Promise<string | undefined> {
      const name = `click-${++replyCounter}`;
      const res = await post(
        h.baseUrl,
        blockAction({ userId: user, actionId: options.actionId ?? ACTIONS.approve, message: card, value: options.value, responseUrl: h.slack.responseUrl(name) }),
      );
      expect(res.status).toBe(200);
      if (options.expectReply === false) {
        await new Promise((r) => setTimeout(r, 300));
        expect(h.slack.responses(name)).toEqual([]);
        return undefined;
      }
      const reply = await h.slack.waitFor(() => h.slack.responses(name)[0], WAIT, `the reply to ${user}'s click`);
      expect(reply.body).toMatchObject({ response_type: 'ephemeral' });
      return String(reply.body.text);
    }

    /** Nothing about the request moved: still pending, no approvals, only request.created, no membership call. */
    async function expectUntouched(requestId: number, groupId: string) {
      expect((await requestRow(requestId)).state).toBe('pending');
      expect(await h.bot.database.db.select().from(requestApprovals).where(eq(requestApprovals.requestId, requestId))).toEqual([]);
      expect(await h.bot.database.db.select().from(grants).where(eq(grants.requestId, requestId))).toEqual([]);
      expect((await eventsFor(requestId)).map((e) => e.kind)).toEqual(['request.created']);
      expect(membershipCalls('PUT', groupId)).toEqual([]);
    }

    let prodRequest = 0;
    let billingRequest = 0;
    let bobsCard: StoredMessage;
    let carolsCard: StoredMessage;

    it('never sends the card to the requester, and refuses a requester approving their own request', async () => {
      prodRequest = await request('U0ALICE', 'prod-db 1h INC-7 rotate keys');
      // A copy, as it was when it arrived: the fake Slack updates its stored message in place.
      bobsCard = structuredClone(await cardFor('U0BOB', prodRequest));
      // Alice is a listed approver of prod-db, but not of her own request.
      expect((await requestRow(prodRequest)).approvers).toEqual(['U0BOB']);
      expect(h.slack.messagesTo('U0ALICE').filter((m) => JSON.stringify(m.blocks ?? []).includes(ACTIONS.approve))).toEqual([]);

      // She clicks Approve on a copy of Bob's card (same buttons, same value).
      expect(await click('U0ALICE', bobsCard)).toMatch(/cannot approve your own request/);
      // And Deny on it: refused before any modal opens.
      expect(await click('U0ALICE', bobsCard, { actionId: ACTIONS.deny })).toMatch(/cannot deny your own request/);
      expect(h.slack.modals.size).toBe(0);
      await expectUntouched(prodRequest, '00gPRODDB');
    });

    it('refuses a click from someone who is not an approver, even on a copied card', async () => {
      expect(await click('U0MALLORY', bobsCard)).toMatch(/not an approver for `prod-db`/);
      expect(await click('U0DAVE', bobsCard)).toMatch(/not an approver/);
      // Deny too: refused at the click, no reason modal is offered.
      expect(await click('U0MALLORY', bobsCard, { actionId: ACTIONS.deny })).toMatch(/not an approver for `prod-db`, so you cannot deny/);
      expect(h.slack.modals.size).toBe(0);
      // A deny submission crafted without the modal is refused too.
      const submitted = await post(
        h.baseUrl,
        viewSubmission({ userId: 'U0MALLORY', callbackId: VIEWS.denyReason, privateMetadata: String(prodRequest), values: { [DENY_MODAL.block]: { [DENY_MODAL.action]: 'no' } } }),
      );
      expect(submitted.status).toBe(200);
      expect(submitted.json).toMatchObject({ response_action: 'errors', errors: { [DENY_MODAL.block]: expect.stringMatching(/not an approver/) } });
      await expectUntouched(prodRequest, '00gPRODDB');
    });

    it('refuses a button value pointing at a request the clicker may not approve', async () => {
      billingRequest = await request('U0DAVE', 'billing 30m refund for customer');
      carolsCard = structuredClone(await cardFor('U0CAROL', billingRequest));
      // Carol approves billing; she edits her billing card's button to carry the prod-db request's id.
      expect(await click('U0CAROL', carolsCard, { value: String(prodRequest) })).toMatch(new RegExp(`not an approver for \`prod-db\`, so you cannot approve request #${prodRequest}`));
      await expectUntouched(prodRequest, '00gPRODDB');
      await expectUntouched(billingRequest, '00gBILLING');
    });

    it('refuses non-numeric, huge, unknown and malformed button values', async () => {
      for (const value of ['abc', `${prodRequest}; drop table grants`, '-1', '1.5', '1e3', '', ' 1', '99999999999999999999', '9'.repeat(400)]) {
        expect(await click('U0BOB', bobsCard, { value })).toMatch(/not valid any more; nothing changed/);
      }
      // Well-formed but no such request.
      expect(await click('U0BOB', bobsCard, { value: '999999999' })).toMatch(/no request #999999999/);
      await expectUntouched(prodRequest, '00gPRODDB');
    });

    it('ignores an unknown action id', async () => {
      await click('U0BOB', bobsCard, { actionId: 'bg_approve_all', value: String(prodRequest), expectReply: false });
      await click('U0BOB', bobsCard, { actionId: 'bg_grant', value: String(prodRequest), expectReply: false });
      await expectUntouched(prodRequest, '00gPRODDB');
    });

    it.each<Signing>(['wrong-secret', 'missing', 'stale', 'future', 'tampered'])('answers a %s Approve click with 401 and changes nothing', async (signing) => {
      const slackCalls = h.slack.calls().length;
      const oktaCalls = h.okta.requests.length;
      const ledgerCount = (await verifyLedger(h.bot.database.db)).count;
      const res = await post(h.baseUrl, blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: bobsCard, responseUrl: h.slack.responseUrl('forged'), signing }));
      expect(res.status).toBe(401);
      // Refused before any listener runs, so there is no later work to wait for; a short grace anyway.
      await new Promise((r) => setTimeout(r, 50));
      expect(h.slack.calls().length).toBe(slackCalls);
      expect(h.slack.responses('forged')).toEqual([]);
      expect(h.okta.requests.length).toBe(oktaCalls);
      expect((await verifyLedger(h.bot.database.db)).count).toBe(ledgerCount);
      await expectUntouched(prodRequest, '00gPRODDB');
    });

    it('a valid Approve click replayed 20 times (and clicked 20 more times) approves once and grants once', async () => {
      const legit = blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: bobsCard, responseUrl: h.slack.responseUrl('replay') });
      // The very same signed bytes, 20 times, all at once: what a replaying attacker (or a retrying
      // proxy) sends; and Bob hammering the button, each click its own delivery.
      const fresh = Array.from({ length: 20 }, (_, i) => h.slack.responseUrl(`again-${i}`));
      const answers = await Promise.all([
        ...Array.from({ length: 20 }, () => post(h.baseUrl, legit)),
        ...fresh.map((responseUrl) => post(h.baseUrl, blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: bobsCard, responseUrl }))),
      ]);
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));

      await h.slack.waitFor(() => h.okta.isMember('00gPRODDB', 'alice@example.com') || undefined, WAIT, 'alice in the Okta group');
      await h.slack.waitFor(() => h.slack.messagesTo('U0ALICE').find((m) => textOf(m).includes('is active until')), WAIT, 'alice told access is active');
      // One delivery won; every other distinct click is told it changed nothing; replays are not answered again.
      const refusals = await h.slack.waitFor(() => {
        const all = [...h.slack.responses('replay'), ...fresh.flatMap((_, i) => h.slack.responses(`again-${i}`))];
        return all.length >= 20 ? all : undefined;
      }, WAIT, '20 refusals');
      await new Promise((r) => setTimeout(r, 200));
      expect(h.slack.responses('replay').length).toBeLessThanOrEqual(1);
      expect(fresh.every((_, i) => h.slack.responses(`again-${i}`).length <= 1)).toBe(true);
      expect(refusals).toHaveLength(20);
      for (const r of refusals) expect(String(r.body.text)).toMatch(/already approved; nothing changed|You already approved/);

      expect(membershipCalls('PUT', '00gPRODDB')).toHaveLength(1);
      expect(await h.bot.database.db.select().from(requestApprovals).where(eq(requestApprovals.requestId, prodRequest))).toHaveLength(1);
      expect((await requestRow(prodRequest)).state).toBe('approved');
      const [grant] = await h.bot.database.db.select().from(grants).where(eq(grants.requestId, prodRequest));
      expect(grant?.state).toBe('active');
      const kinds = (await eventsFor(prodRequest)).map((e) => e.kind);
      expect(kinds).toEqual(['request.created', 'request.approved', 'grant.applied']);
      expect((await eventsFor(prodRequest)).find((e) => e.kind === 'request.approved')).toMatchObject({ actor: 'U0BOB', subject: 'U0ALICE', resource: 'prod-db' });

      // Bob's card shows the decision and no longer offers the buttons.
      const card = await h.slack.waitFor(() => {
        const current = h.slack.message('U0BOB', bobsCard.ts);
        return current && /access is active/i.test(textOf(current)) ? current : undefined;
      }, WAIT, "Bob's card updated");
      expect(interactiveElements(card.blocks).map((e) => e.element.action_id)).not.toContain(ACTIONS.approve);
    });

    it('a stale click after the decision changes nothing', async () => {
      const puts = membershipCalls('PUT', '00gPRODDB').length;
      const count = (await verifyLedger(h.bot.database.db)).count;
      expect(await click('U0BOB', bobsCard)).toMatch(/already approved; nothing changed/);
      // Alice, the listed approver, cannot add her own approval after the fact either.
      expect(await click('U0ALICE', bobsCard)).toMatch(/already approved; nothing changed|cannot approve your own request/);
      expect(membershipCalls('PUT', '00gPRODDB')).toHaveLength(puts);
      expect((await verifyLedger(h.bot.database.db)).count).toBe(count);
      // The billing request Carol was tricked around is still hers to decide, untouched.
      await expectUntouched(billingRequest, '00gBILLING');
    });

    it('leaves an intact ledger and made only calls Slack accepts', async () => {
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}
