import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS, DENY_MODAL, VIEWS } from '../../src/slack/blocks/view-models.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import {
  click,
  clockAtNow,
  eventsOf,
  grantOf,
  hasButton,
  ledger,
  request,
  requestAndApprove,
  slash,
  waitForCard,
  waitForDm,
  waitForEvent,
} from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { appHomeOpenedEvent, eventCallback, post, viewSubmission } from '../support/slack-requests.ts';
import { textOf } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres, read/write
    grant: { aws_iam_group: ProdDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB, U0CAROL, U0DAVE] }
    approvals_required: 2
  staging-db:
    grant: { aws_iam_group: StagingDB }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
    request_ttl: 30m
  prod-billing:
    grant: { aws_iam_group: Billing }
    max_duration: 1h
    approvers: { slack_users: [U0BOB] }
    requesters: { slack_usergroup: S0FIN }
`;

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
const APPROVERS = ['U0BOB', 'U0CAROL', 'U0DAVE'];
const MINUTE = 60_000;
const email = (id: string) => `${id.slice(2).toLowerCase()}@example.com`;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`approval flows [${database}]`, () => {
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
          users: USERS.map((n) => ({ id: `U0${n.toUpperCase()}`, name: n, email: `${n}@example.com` })),
          usergroups: { S0FIN: ['U0FRANK'] },
        },
      });
      for (const group of ['ProdDB', 'StagingDB', 'Billing']) iam().addGroup(group);
      for (const n of USERS) iam().addUser(`${n}@example.com`);
    });
    afterAll(async () => h?.stop());

    it('refusals: over max_duration, unknown resource (closest first, only what the user may request), missing reason; nothing recorded', async () => {
      // Ledger checkpoints (and their notice in the security channel) may come at any time; anything else may not.
      const recorded = async () => (await ledger(h)).filter((e) => !e.kind.startsWith('ledger.')).length;
      const posted = () => h.slack.messages.filter((m) => m.channel !== 'C0SEC').length;
      const before = await recorded();
      const messagesBefore = posted();

      const tooLong = await slash(h, 'U0ALICE', 'prod-db 5h INC-1 long migration');
      expect(tooLong.status).toBe(200);
      expect(await tooLong.reply()).toMatch(/5h is longer than `prod-db` allows \(max_duration 4h\)/);

      const unknown = await slash(h, 'U0ALICE', 'prod-dbb 1h INC-2 typo');
      const unknownReply = await unknown.reply();
      expect(unknownReply).toMatch(/There is no resource `prod-dbb` you may request\. You may request: `prod-db`, `staging-db`\./);
      // prod-billing is only for S0FIN: it is not offered to alice at all.
      expect(unknownReply).not.toContain('prod-billing');

      const notAllowed = await slash(h, 'U0ALICE', 'prod-billing 1h INC-3 invoices');
      // It exists, so the answer says so instead of claiming there is no such resource (help agrees: not listed).
      expect(await notAllowed.reply()).toMatch(/`prod-billing` exists, but you are not among its requesters in access\.yml; .* You may request: `prod-db`, `staging-db`\./);

      // For a member of S0FIN prod-billing is requestable, and the closest to what was typed comes first.
      const closest = await slash(h, 'U0FRANK', 'billing 1h INC-4 invoices');
      expect(await closest.reply()).toMatch(/You may request: `prod-billing`, /);
      const closestDb = await slash(h, 'U0FRANK', 'staging 1h INC-4 invoices');
      expect(await closestDb.reply()).toMatch(/You may request: `staging-db`, /);

      // help offers exactly what a request would accept.
      const aliceHelp = await slash(h, 'U0ALICE', 'help');
      expect(aliceHelp.ack).toContain('`prod-db` up to 4h');
      expect(aliceHelp.ack).not.toContain('prod-billing');
      expect((await slash(h, 'U0FRANK', 'help')).ack).toContain('`prod-billing` up to 1h');

      // Names of what every JavaScript object inherits are no resources.
      for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
        const inherited = await slash(h, 'U0ALICE', `${name} 1h INC-5 probing`);
        expect(await inherited.reply()).toMatch(new RegExp(`^There is no resource .${name}. you may request\\. You may request: .*prod-db`));
      }

      // PostgreSQL cannot store NUL: refused with a clear answer, not a database error.
      const nul = await slash(h, 'U0ALICE', 'prod-db 1h INC-6 lag\u0000 on primary');
      expect(nul.ack).toMatch(/invisible control character \(U\+0000\).*nothing was changed/);

      const noReason = await slash(h, 'U0ALICE', 'prod-db 1h');
      expect(noReason.status).toBe(200);
      expect(noReason.ack).toMatch(/A reason is required/);

      expect(await recorded()).toBe(before);
      expect(posted()).toBe(messagesBefore);
      expect(iam().members('ProdDB')).toEqual([]);
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('N-of-M: one approval leaves it pending at "1 of 2", a repeat click does not count, a second approver grants; every card updates in place', async () => {
      const { requestId, reply } = await request(h, 'U0ALICE', 'prod-db 2h INC-10 replication lag');
      expect(reply).toMatch(/is waiting for 2 approval\(s\) from <@U0BOB>, <@U0CAROL>, <@U0DAVE>/);
      const cards = Object.fromEntries(await Promise.all(APPROVERS.map(async (a) => [a, await waitForCard(h, a, requestId)] as const)));
      for (const a of APPROVERS) {
        expect(textOf(cards[a])).toMatch(/0 of 2 approvals/);
        expect(hasButton(cards[a], ACTIONS.approve)).toBe(true);
      }

      const bobFirst = await click(h, 'U0BOB', ACTIONS.approve, { message: cards.U0BOB! });
      expect(await bobFirst.reply()).toBe(`Approved. Request #${requestId} has 1 of 2 approvals.`);
      for (const a of APPROVERS) {
        const card = await waitForCard(h, a, requestId, /1 of 2 approvals/);
        expect(textOf(card)).toMatch(/approved so far by <@U0BOB>/);
        expect(hasButton(card, ACTIONS.approve)).toBe(true);
      }
      expect(iam().isMember('ProdDB', email('U0ALICE'))).toBe(false);

      const bobAgain = await click(h, 'U0BOB', ACTIONS.approve, { message: cards.U0BOB! });
      expect(await bobAgain.reply()).toMatch(/You already approved request #\d+; it needs 2 approvals/);
      expect((await eventsOf(h, requestId)).filter((e) => e.kind === 'request.approved')).toHaveLength(1);
      expect(await grantOf(h, requestId)).toBeUndefined();

      await click(h, 'U0CAROL', ACTIONS.approve, { message: cards.U0CAROL! });
      await h.slack.waitFor(() => iam().isMember('ProdDB', email('U0ALICE')) || undefined, 5_000, 'alice in ProdDB');
      for (const a of APPROVERS) {
        const card = await waitForCard(h, a, requestId, /Access is active until/);
        expect(card.ts).toBe(cards[a]!.ts);
        expect(textOf(card)).toMatch(/Approved\* by <@U0BOB> and <@U0CAROL>/);
        expect(hasButton(card, ACTIONS.approve)).toBe(false);
        expect(hasButton(card, ACTIONS.deny)).toBe(false);
        // In place: still one card per approver for this request.
        expect(h.slack.messagesTo(a).filter((m) => m.text?.startsWith(`Access request #${requestId}:`))).toHaveLength(1);
      }
      await waitForDm(h, 'U0ALICE', new RegExp(`prod-db\` is active until.*request #${requestId}`));

      // Dave's stale card: the click changes nothing.
      const late = await click(h, 'U0DAVE', ACTIONS.approve, { message: cards.U0DAVE! });
      expect(await late.reply()).toMatch(/already approved; nothing changed/);

      const events = await eventsOf(h, requestId);
      expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'request.approved', 'grant.applied']);
      expect(events[0]).toMatchObject({ actor: 'U0ALICE', details: { approvers: APPROVERS, approvals_required: 2 } });
      expect(events[1]).toMatchObject({ actor: 'U0BOB', subject: 'U0ALICE', details: { approvals: 1, approvals_required: 2, final: false } });
      expect(events[2]).toMatchObject({ actor: 'U0CAROL', subject: 'U0ALICE', details: { approvals: 2, approvals_required: 2, final: true } });
      expect(h.iam.calls('AddUserToGroup')).toHaveLength(1);

      await (await slash(h, 'U0ALICE', `end ${requestId}`)).reply();
      await waitForEvent(h, requestId, 'grant.revoked');
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('deny with a reason: the modal insists on one; the requester and every card get it; a later Approve changes nothing', async () => {
      const { requestId } = await request(h, 'U0ERIN', 'prod-db 1h INC-11 one-off update');
      const daveCard = await waitForCard(h, 'U0DAVE', requestId);
      const bobCard = await waitForCard(h, 'U0BOB', requestId);
      const triggerId = '12345.98765.abcdef0123456789';
      await click(h, 'U0DAVE', ACTIONS.deny, { message: daveCard }, { triggerId });

      const opened = await h.slack.waitFor(() => h.slack.calls('views.open').find((c) => c.params.trigger_id === triggerId), 5_000, 'views.open with the click trigger_id');
      expect(opened.error).toBeUndefined();
      const modal = await h.slack.waitFor(() => [...h.slack.modals.values()].find((v) => v.private_metadata === String(requestId)), 5_000, 'the deny modal');
      expect(modal.callback_id).toBe(VIEWS.denyReason);
      expect(textOf(modal)).toContain('one-off update');

      const empty = await post<{ response_action?: string; errors?: Record<string, string> }>(
        h.baseUrl,
        viewSubmission({ userId: 'U0DAVE', view: modal, values: { [DENY_MODAL.block]: { [DENY_MODAL.action]: '   ' } } }),
      );
      expect(empty.status).toBe(200);
      expect(empty.json).toMatchObject({ response_action: 'errors', errors: { [DENY_MODAL.block]: expect.any(String) } });
      expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created']);

      const reason = 'Use the read replica; no writes needed';
      const submitted = await post(h.baseUrl, viewSubmission({ userId: 'U0DAVE', view: modal, values: { [DENY_MODAL.block]: { [DENY_MODAL.action]: reason } } }));
      expect(submitted.status).toBe(200);
      expect(submitted.body).toBe('');

      const denied = await waitForEvent(h, requestId, 'request.denied');
      expect(denied).toMatchObject({ actor: 'U0DAVE', subject: 'U0ERIN', resource: 'prod-db', details: { reason } });
      await waitForDm(h, 'U0ERIN', new RegExp(`<@U0DAVE> denied your request #${requestId} for \`prod-db\`: ${reason}`));
      for (const a of APPROVERS) {
        const card = await waitForCard(h, a, requestId, /Denied\* by <@U0DAVE>/);
        expect(textOf(card)).toContain(reason);
        expect(hasButton(card, ACTIONS.approve)).toBe(false);
      }

      const lateApprove = await click(h, 'U0BOB', ACTIONS.approve, { message: bobCard });
      expect(await lateApprove.reply()).toMatch(/already denied; nothing changed/);
      // A second denial through a stale modal changes nothing either.
      const again = await post<{ response_action?: string }>(h.baseUrl, viewSubmission({ userId: 'U0CAROL', view: modal, values: { [DENY_MODAL.block]: { [DENY_MODAL.action]: 'me too' } } }));
      expect(again.json).toMatchObject({ response_action: 'errors' });

      expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.denied']);
      expect(await grantOf(h, requestId)).toBeUndefined();
      expect(iam().isMember('ProdDB', email('U0ERIN'))).toBe(false);
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('pending expiry: after request_ttl the request expires, cards say so, the requester is told, a late Approve does nothing', async () => {
      const { requestId } = await request(h, 'U0ERIN', 'staging-db 1h INC-12 look at a slow query');
      const card = await waitForCard(h, 'U0BOB', requestId, /Expires if not decided by/);

      clock.advance(31 * MINUTE);
      const expired = await waitForEvent(h, requestId, 'request.expired');
      expect(expired).toMatchObject({ actor: 'breakglass', subject: 'U0ERIN', resource: 'staging-db' });
      const updated = await waitForCard(h, 'U0BOB', requestId, /Expired/);
      expect(updated.ts).toBe(card.ts);
      expect(hasButton(updated, ACTIONS.approve)).toBe(false);
      await waitForDm(h, 'U0ERIN', new RegExp(`request #${requestId} for \`staging-db\` expired`));

      const late = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      expect(await late.reply()).toMatch(/already expired; nothing changed/);
      expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.expired']);
      expect(await grantOf(h, requestId)).toBeUndefined();
      expect(iam().isMember('StagingDB', email('U0ERIN'))).toBe(false);
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('/breakglass list and App Home show active grants and pending requests; End from the home view ends the grant', async () => {
      const { requestId: grantedId, grant } = await requestAndApprove(h, 'U0FRANK', 'staging-db 2h INC-20 debug a report', ['U0BOB']);
      const { requestId: pendingId } = await request(h, 'U0FRANK', 'prod-db 1h INC-21 fix a report');
      expect(iam().isMember('StagingDB', email('U0FRANK'))).toBe(true);

      const list = await (await slash(h, 'U0FRANK', 'list')).reply();
      expect(list).toContain('*Your active access*');
      expect(list).toMatch(new RegExp(`\\*${grantedId}\\*: \`staging-db\`, 2h left`));
      expect(list).toMatch(new RegExp(`\\*${pendingId}\\*: \`prod-db\` for 1h, 0 of 2 approvals`));
      expect(list).toContain(`/breakglass end ${grantedId}`);
      // Someone else's list shows none of it.
      const aliceList = await (await slash(h, 'U0ALICE', 'list')).reply();
      expect(aliceList).not.toContain('staging-db');

      const dm = h.slack.dmChannel('U0FRANK');
      expect((await post(h.baseUrl, eventCallback(appHomeOpenedEvent('U0FRANK', dm)))).status).toBe(200);
      const home = await h.slack.waitFor(() => h.slack.homeView('U0FRANK'), 5_000, "frank's App Home");
      expect(textOf(home)).toMatch(/Your active access/);
      expect(textOf(home)).toMatch(new RegExp(`\`staging-db\` · \\*2h left\\*.*\\nRequest #${grantedId}`));
      expect(textOf(home)).toMatch(new RegExp(`#${pendingId}\\* \`prod-db\` for \\*1h\\* · 0 of 2 approvals`));
      expect(hasButton(home, ACTIONS.endGrant)).toBe(true);

      // An approver's home lists what waits on them, with the decision buttons.
      await post(h.baseUrl, eventCallback(appHomeOpenedEvent('U0CAROL', h.slack.dmChannel('U0CAROL'))));
      const carolHome = await h.slack.waitFor(() => h.slack.homeView('U0CAROL'), 5_000, "carol's App Home");
      expect(textOf(carolHome)).toMatch(new RegExp(`Access request #${pendingId}\\*: <@U0FRANK> asks for \`prod-db\``));
      expect(hasButton(carolHome, ACTIONS.approve)).toBe(true);

      const publishes = h.slack.calls('views.publish').length;
      await click(h, 'U0FRANK', ACTIONS.endGrant, { view: home });
      await h.slack.waitFor(() => (!iam().isMember('StagingDB', email('U0FRANK')) ? true : undefined), 5_000, 'frank out of StagingDB');
      const endRequested = await waitForEvent(h, grantedId, 'grant.end_requested');
      expect(endRequested).toMatchObject({ actor: 'U0FRANK', subject: 'U0FRANK', resource: 'staging-db', details: { grant_id: grant.id } });
      const revoked = await waitForEvent(h, grantedId, 'grant.revoked');
      expect(revoked).toMatchObject({ actor: 'U0FRANK', details: { reason: 'ended', provider_call: 'revoked' } });
      await waitForDm(h, 'U0FRANK', new RegExp(`\`staging-db\` has ended \\(request #${grantedId}, ended\\)`));
      // The home view was republished, and it no longer offers to end what is already ending.
      const after = await h.slack.waitFor(() => (h.slack.calls('views.publish').length > publishes ? h.slack.homeView('U0FRANK') : undefined), 5_000, 'home republished');
      expect(hasButton(after, ACTIONS.endGrant)).toBe(false);
      await waitForDm(h, 'U0FRANK', /Ending your access to `staging-db` now/);

      // Opening the tab again shows no active access.
      await post(h.baseUrl, eventCallback(appHomeOpenedEvent('U0FRANK', dm)));
      await h.slack.waitFor(() => (/You have no active access/.test(textOf(h.slack.homeView('U0FRANK'))) ? true : undefined), 5_000, 'home without the grant');

      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}
