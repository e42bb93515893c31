import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceEvents, grants, humanTasks } from '../../src/db/schema.ts';
import { loadReviewReport, reviewReportCsv, reviewReportMarkdown } from '../../src/reports/review/review-report.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS, HUMAN_TASK_MODAL, VIEWS } from '../../src/slack/blocks/view-models.ts';
import { postgresAvailable } from '../support/databases.ts';
import { click, clockAtNow, eventsOf, request, slash, waitForCard, waitForEvent } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { clickReview, itemsOf, lineOn, requestReview, reviewEvents, waitForReviewCard } from '../support/reviews.ts';
import { post, viewSubmission } from '../support/slack-requests.ts';
import { textOf, type StoredMessage } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  figma:
    description: Figma organisation admin
    grant: { manual: { system: Figma admin, owners: { slack_users: [U0CAROL] } } }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
reviews:
  schedule: quarterly
  due_in: 14d
  remind_every: 3d
`;

/** The owner's task card for one person, as it is now. */
const taskCard = (h: Harness, verb: 'Grant' | 'Remove', email: string) =>
  h.slack.waitFor(() => h.slack.messagesTo('U0CAROL').find((m) => (m.text ?? '').startsWith(`${verb} Figma admin ${verb === 'Grant' ? 'to' : 'from'} ${email}`)), 5_000, `carol's ${verb} card for ${email}`);

/** Done on the card, then the note modal submitted: what Slack sends when an owner confirms. */
async function confirm(h: Harness, card: StoredMessage, note: string) {
  const triggerId = `${Date.now()}.${Math.floor(Math.random() * 1e6)}.abc`;
  await click(h, 'U0CAROL', ACTIONS.humanTaskDone, { message: card }, { triggerId });
  await h.slack.waitFor(() => h.slack.calls('views.open').find((c) => c.params.trigger_id === triggerId), 5_000, 'the Done modal');
  const modal = [...h.slack.modals.values()].filter((v) => v.callback_id === VIEWS.humanTaskDone).at(-1)!;
  const submitted = await post(h.baseUrl, viewSubmission({ userId: 'U0CAROL', view: modal, values: { [HUMAN_TASK_MODAL.block]: { [HUMAN_TASK_MODAL.action]: note } } }));
  expect(submitted.status).toBe(200);
}

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`access reviews of a system granted by hand [${database}]`, () => {
    let h: Harness;
    const clock = clockAtNow();

    beforeAll(async () => {
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock,
        slack: { users: ['alice', 'bob', 'carol', 'dave', 'erin'].map((name) => ({ id: `U0${name.toUpperCase()}`, name, email: `${name}@example.com` })) },
      });
      const bob = h.okta.addUser({ login: 'bob@example.com', firstName: 'Bob', lastName: 'Boss' });
      for (const [first, last] of [['Alice', 'Able'], ['Carol', 'Cloud'], ['Dave', 'Doe'], ['Erin', 'Early']]) {
        h.okta.addUser({ login: `${first!.toLowerCase()}@example.com`, firstName: first, lastName: last, managerId: bob.id });
      }
    });
    afterAll(async () => h?.stop());

    it("lists the owner-confirmed grant; a Revoke asks the owners to remove it, and the owner's Done is the line's evidence", async () => {
      // Alice's grant is confirmed by the owner; Dave's is still waiting for one, so nobody knows he holds it.
      const alice = await request(h, 'U0ALICE', 'figma 2h DES-21 fix the shared library');
      await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', alice.requestId) });
      await confirm(h, await taskCard(h, 'Grant', 'alice@example.com'), 'https://figma.example.com/admin/audit/1');
      await waitForEvent(h, alice.requestId, 'grant.applied');
      const dave = await request(h, 'U0DAVE', 'figma 2h DES-22 look at tokens');
      await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', dave.requestId) });
      await taskCard(h, 'Grant', 'dave@example.com');
      const [grant] = await h.bot.database.db.select().from(grants).where(eq(grants.requestId, alice.requestId));

      const { campaignId } = await requestReview(h, ACCESS, clock, { period: '2026-Q4' });
      const card = await waitForReviewCard(h, 'U0BOB', campaignId);
      const line = lineOn(card, 'Alice Able', 'figma');
      expect(line.text).toContain(`breakglass request #${alice.requestId}, granted by hand and confirmed by its owners`);
      expect(line.text).toContain('the line is breakglass’s record');
      const items = await itemsOf(h, campaignId);
      expect(items.map((i) => [i.resource, i.principal, i.grantId, i.route])).toEqual([['figma', 'alice@example.com', grant!.id, 'manager']]);
      const [started] = await reviewEvents(h, campaignId, 'review.started');
      expect(started!.details).toMatchObject({ items: 1, skipped_resources: [] });

      const revoke = await clickReview(h, 'U0BOB', card, ACTIONS.reviewRevoke, line.itemId);
      expect(revoke.status).toBe(200);
      expect(await revoke.reply()).toMatch(/granted by hand: its owners are now asked to remove it/);
      const removal = await taskCard(h, 'Remove', 'alice@example.com');
      expect(await waitForEvent(h, alice.requestId, 'grant.end_requested')).toMatchObject({ actor: 'U0BOB', details: { grant_id: grant!.id, reason: 'review', campaign_id: campaignId, item_id: line.itemId } });
      await waitForReviewCard(h, 'U0BOB', campaignId, (c) => lineOn(c, 'Alice Able', 'figma').text.includes('its owners are asked to remove it by hand'));
      // Nothing is recorded revoked before an owner confirms it.
      expect(await reviewEvents(h, campaignId, 'grant.revoked')).toEqual([]);
      expect((await itemsOf(h, campaignId))[0]).toMatchObject({ revokeState: 'pending', revokeError: null });

      await confirm(h, removal, 'removed in the admin console');
      const [revoked] = await h.slack.waitFor(async () => {
        const events = await reviewEvents(h, campaignId, 'grant.revoked');
        return events.length > 0 ? events : undefined;
      }, 5_000, 'the line revoked');
      expect(revoked).toMatchObject({
        actor: 'U0BOB',
        subject: 'U0ALICE',
        resource: 'figma',
        details: { reason: 'review', item_id: line.itemId, grant_id: grant!.id, grants_ended: [grant!.id], provider_call: 'confirmed_by_owner', confirmed_by: 'U0CAROL', verified: false },
      });
      expect(await waitForEvent(h, alice.requestId, 'manual.removal_confirmed')).toMatchObject({ actor: 'U0CAROL', details: { note: 'removed in the admin console' } });
      // One revocation of the grant, the review's: not a second one from the owner's Done.
      expect((await eventsOf(h, alice.requestId)).filter((e) => e.kind === 'grant.revoked')).toHaveLength(1);
      const [after] = await h.bot.database.db.select().from(grants).where(eq(grants.id, grant!.id));
      expect(after).toMatchObject({ state: 'revoked', revokeReason: 'review', revokeRequestedBy: 'U0BOB' });
      expect((await itemsOf(h, campaignId))[0]).toMatchObject({ revokeState: 'revoked', revokeVerified: false });
      await waitForReviewCard(h, 'U0BOB', campaignId, (c) => lineOn(c, 'Alice Able', 'figma').text.includes('removed by hand (an owner confirmed it with Done)'));
      expect(textOf(await taskCard(h, 'Remove', 'alice@example.com'))).toMatch(/Done by <@U0CAROL>/);

      const report = (await loadReviewReport(h.bot.database.db, { campaignId, now: clock.now() }))!;
      expect(report.lines[0]).toMatchObject({ grantedBy: `request #${alice.requestId} (granted by hand, confirmed by its owners)`, removalConfirmedBy: 'U0CAROL', revokeState: 'revoked' });
      expect(report.totals).toMatchObject({ revoked: 1, revokedConfirmedByOwners: 1, revokePending: 0 });
      const md = reviewReportMarkdown(report);
      expect(md).toContain('1 removed by hand and confirmed by the system');
      expect(md).toMatch(/\| Alice Able \| alice@example\.com \| figma \| request #\d+ \(granted by hand, confirmed by its owners\) \| U0BOB \| .* \| confirmed by owner U0CAROL \|/);
      expect(reviewReportCsv(report)).toMatch(/,revoked,[^,]+,no,,U0CAROL,\d{4}-/);

      const [removalTask] = await h.bot.database.db.select().from(humanTasks).where(and(eq(humanTasks.grantId, grant!.id), eq(humanTasks.action, 'remove')));
      expect(revoked!.details).toMatchObject({ task_id: removalTask!.id });
      expect(await h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'grant.revoke_failed'))).toEqual([]);
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('a Revoke of access whose removal an owner already confirmed is resolved by that confirmation, without a second removal', async () => {
      const erin = await request(h, 'U0ERIN', 'figma 2h DES-23 export assets');
      await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', erin.requestId) });
      await confirm(h, await taskCard(h, 'Grant', 'erin@example.com'), '');
      await waitForEvent(h, erin.requestId, 'grant.applied');
      const { campaignId } = await requestReview(h, ACCESS, clock, { period: '2026-Q4-late' });
      const card = await waitForReviewCard(h, 'U0BOB', campaignId);
      const line = lineOn(card, 'Erin Early', 'figma');

      // Erin ends it herself before her manager gets to the card; an owner confirms the removal.
      await slash(h, 'U0ERIN', `end ${erin.requestId}`);
      await confirm(h, await taskCard(h, 'Remove', 'erin@example.com'), 'gone');
      await waitForEvent(h, erin.requestId, 'grant.revoked');
      const removalCards = h.slack.messagesTo('U0CAROL').filter((m) => (m.text ?? '').startsWith('Remove Figma admin from erin@')).length;

      const revoke = await clickReview(h, 'U0BOB', card, ACTIONS.reviewRevoke, line.itemId);
      expect(revoke.status).toBe(200);
      const [revoked] = await h.slack.waitFor(async () => {
        const events = await reviewEvents(h, campaignId, 'grant.revoked');
        return events.length > 0 ? events : undefined;
      }, 5_000, 'the line revoked');
      const [grant] = await h.bot.database.db.select().from(grants).where(eq(grants.requestId, erin.requestId));
      const [removal] = await h.bot.database.db.select().from(humanTasks).where(and(eq(humanTasks.grantId, grant!.id), eq(humanTasks.action, 'remove')));
      // The line points at the owner's earlier Done; the grant's own revocation (reason ended) stays the only one for the grant.
      expect(revoked).toMatchObject({ actor: 'U0BOB', details: { grant_id: null, grants_ended: [], task_id: removal!.id, confirmed_by: 'U0CAROL', provider_call: 'confirmed_by_owner', revoked_at: removal!.doneAt!.toISOString() } });
      const revocations = (await eventsOf(h, erin.requestId)).filter((e) => e.kind === 'grant.revoked');
      expect(revocations.map((e) => [e.details['reason'], e.details['grant_id']])).toEqual([['ended', grant!.id], ['review', null]]);
      expect((await itemsOf(h, campaignId)).find((i) => i.id === line.itemId)).toMatchObject({ revokeState: 'revoked', revokeVerified: false });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(h.slack.messagesTo('U0CAROL').filter((m) => (m.text ?? '').startsWith('Remove Figma admin from erin@'))).toHaveLength(removalCards);
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
    });
  });
}
