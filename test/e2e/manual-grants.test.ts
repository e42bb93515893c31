import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceEvents, grants } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS, HUMAN_TASK_MODAL, VIEWS } from '../../src/slack/blocks/view-models.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { click, clockAtNow, eventsOf, hasButton, request, slash, waitForCard, waitForEvent } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { eventCallback, post, userChangeEvent, viewSubmission } from '../support/slack-requests.ts';
import { textOf } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  figma:
    description: Figma organisation admin
    grant: { manual: { system: Figma admin, owners: { slack_users: [U0CAROL], slack_usergroup: S0DESIGNOPS } } }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

const HOUR = 3_600_000;

/** The owner's task card (grant or removal) for alice, as it is now. */
const taskCard = (h: Harness, owner: string, verb: 'Grant' | 'Remove') =>
  h.slack.waitFor(() => h.slack.messagesTo(owner).find((m) => (m.text ?? '').startsWith(`${verb} Figma admin`)), 5_000, `${owner}'s ${verb} card`);

/** Done on the card, then the note modal submitted: what Slack sends when an owner confirms. */
async function confirm(h: Harness, owner: string, card: Awaited<ReturnType<typeof taskCard>>, note: string) {
  const triggerId = `${Date.now()}.${Math.floor(Math.random() * 1e6)}.abc`;
  await click(h, owner, ACTIONS.humanTaskDone, { message: card }, { triggerId });
  await h.slack.waitFor(() => h.slack.calls('views.open').find((c) => c.params.trigger_id === triggerId), 5_000, 'the Done modal');
  const modal = [...h.slack.modals.values()].filter((v) => v.callback_id === VIEWS.humanTaskDone).at(-1)!;
  expect(modal.callback_id).toBe(VIEWS.humanTaskDone);
  return { modal, submitted: await post<{ response_action?: string }>(h.baseUrl, viewSubmission({ userId: owner, view: modal, values: { [HUMAN_TASK_MODAL.block]: { [HUMAN_TASK_MODAL.action]: note } } })) };
}

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`access granted by hand, confirmed by its owners [${database}]`, () => {
    let h: Harness;
    let clock: FakeClock;
    beforeAll(async () => {
      clock = clockAtNow();
      h = await startHarness({
        database,
        clock,
        providers: false,
        accessYml: ACCESS,
        slack: {
          users: [
            { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
            { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
            { id: 'U0CAROL', name: 'carol', email: 'carol@example.com' },
            { id: 'U0DAN', name: 'dan', email: 'dan@example.com' },
            { id: 'U0ERIN', name: 'erin', email: 'erin@example.com' },
          ],
          usergroups: { S0DESIGNOPS: ['U0DAN'] },
        },
      });
    });
    afterAll(async () => h?.stop());

    it('grant and removal each wait for an owner’s Done, which is the evidence; others’ and repeated clicks change nothing', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'figma 2h DES-12 fix the shared library');
      const approved = await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', requestId) });
      expect(await approved.reply()).toMatch(/The owners of \*Figma admin\* are asked to grant it by hand/);

      const card = await taskCard(h, 'U0CAROL', 'Grant');
      expect(textOf(card)).toContain('alice@example.com');
      // The user group's members are owners too.
      await taskCard(h, 'U0DAN', 'Grant');
      expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'manual.task_opened']);
      const [pending] = await h.bot.database.db.select().from(grants).where(eq(grants.requestId, requestId));
      expect(pending!.state).toBe('granting');

      const stranger = await click(h, 'U0BOB', ACTIONS.humanTaskDone, { message: card });
      expect(await stranger.reply()).toMatch(/Only the owners of \*Figma admin\* may confirm this; nothing changed/);

      const { modal, submitted } = await confirm(h, 'U0CAROL', card, 'https://figma.example.com/admin/audit/991');
      expect(submitted.status).toBe(200);
      const confirmed = await waitForEvent(h, requestId, 'manual.grant_confirmed');
      expect(confirmed).toMatchObject({ actor: 'U0CAROL', subject: 'U0ALICE', details: { system: 'Figma admin', note: 'https://figma.example.com/admin/audit/991' } });
      await waitForEvent(h, requestId, 'grant.applied');
      await h.slack.waitFor(() => h.slack.messagesTo('U0ALICE').find((m) => textOf(m).includes('is active until')));
      await h.slack.waitFor(() => h.slack.messagesTo('U0DAN').find((m) => /Done by <@U0CAROL>/.test(textOf(m)) && !hasButton(m, ACTIONS.humanTaskDone)), 5_000, 'dan’s card shows it done');

      // The same modal submitted again, by another owner: refused, nothing new in the ledger.
      const again = await post<{ response_action?: string }>(h.baseUrl, viewSubmission({ userId: 'U0DAN', view: modal, values: {} }));
      expect(again.json).toMatchObject({ response_action: 'errors' });
      const before = (await eventsOf(h, requestId)).length;

      await slash(h, 'U0ALICE', `end ${requestId}`);
      const removal = await taskCard(h, 'U0CAROL', 'Remove');
      expect((await eventsOf(h, requestId)).length).toBeGreaterThan(before);
      const [revoking] = await h.bot.database.db.select().from(grants).where(eq(grants.requestId, requestId));
      expect(revoking!.state).toBe('revoking');

      await confirm(h, 'U0DAN', removal, 'removed in the admin console');
      const removed = await waitForEvent(h, requestId, 'manual.removal_confirmed');
      expect(removed).toMatchObject({ actor: 'U0DAN', details: { note: 'removed in the admin console' } });
      expect(await waitForEvent(h, requestId, 'grant.revoked')).toMatchObject({ actor: 'U0DAN', details: { reason: 'ended', provider_call: 'confirmed_by_owner' } });
      const [revoked] = await h.bot.database.db.select().from(grants).where(eq(grants.requestId, requestId));
      expect(revoked!.state).toBe('revoked');
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
    });

    it('a removal not confirmed after the end: the owners are reminded, then the security channel is alerted', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'figma 1h DES-13 one more fix');
      await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', requestId) });
      const grantCards = () => h.slack.messagesTo('U0CAROL').filter((m) => (m.text ?? '').startsWith('Grant Figma admin'));
      await h.slack.waitFor(() => grantCards().length === 2 || undefined, 5_000, 'the second grant card');
      const grantCard = grantCards().at(-1)!;
      await confirm(h, 'U0CAROL', grantCard, '');
      await waitForEvent(h, requestId, 'grant.applied');

      clock.advance(HOUR + 1_000);
      await h.slack.waitFor(async () => ((await eventsOf(h, requestId)).filter((e) => e.kind === 'manual.task_opened').length === 2) || undefined, 5_000, 'the removal task');
      // Nothing is late yet, and the worker does not send the card again.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await eventsOf(h, requestId)).map((e) => e.kind)).not.toContain('manual.reminded');

      clock.advance(31 * 60_000);
      await waitForEvent(h, requestId, 'manual.reminded');
      await h.slack.waitFor(() => h.slack.messagesTo('U0CAROL').find((m) => /Reminder: remove \*Figma admin\* from alice@example.com/.test(textOf(m))), 5_000, 'the reminder');
      expect((await eventsOf(h, requestId)).map((e) => e.kind)).not.toContain('manual.escalated');

      clock.advance(30 * 60_000);
      await waitForEvent(h, requestId, 'manual.escalated');
      await h.slack.waitFor(() => h.slack.messagesTo('C0SEC').find((m) => /Nobody has confirmed removing \*Figma admin\* from alice@example.com/.test(textOf(m))), 5_000, 'the security alert');
      const [grant] = await h.bot.database.db.select().from(grants).where(eq(grants.requestId, requestId));
      expect(grant!.state).toBe('revoking');
      const removalCards = h.slack.messagesTo('U0CAROL').filter((m) => (m.text ?? '').startsWith('Remove Figma admin'));
      expect(removalCards).toHaveLength(2);

      await confirm(h, 'U0CAROL', removalCards.at(-1)!, 'late, sorry');
      await waitForEvent(h, requestId, 'grant.revoked');
    });
  

    it('a grant nobody confirmed by its end: ended unconfirmed, the owners asked to remove it, security alerted once', async () => {
      const grantCards = () => h.slack.messagesTo('U0CAROL').filter((m) => (m.text ?? '').startsWith('Grant Figma admin to alice@'));
      const grantsBefore = grantCards().length;
      const { requestId } = await request(h, 'U0ALICE', 'figma 1h DES-15 rename the components');
      await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', requestId) });
      await h.slack.waitFor(() => grantCards().length === grantsBefore + 1 || undefined, 5_000, 'the grant card');
      const grantCard = grantCards().at(-1)!;
      // As an owner's Slack still shows it: the stored message is updated in place later.
      const staleCopy = structuredClone(grantCard);
      const removalCards = () => h.slack.messagesTo('U0CAROL').filter((m) => (m.text ?? '').startsWith('Remove Figma admin from alice@'));
      const removalsBefore = removalCards().length;

      clock.advance(HOUR + 1_000);
      const unconfirmed = await waitForEvent(h, requestId, 'manual.grant_unconfirmed');
      expect(unconfirmed).toMatchObject({ actor: 'breakglass', subject: 'U0ALICE', details: { system: 'Figma admin', owners: ['U0CAROL', 'U0DAN'], alert_id: expect.any(Number) } });
      await h.slack.waitFor(
        () => h.slack.messagesTo('C0SEC').find((m) => /Nobody confirmed granting \*Figma admin\* to alice@example\.com .*breakglass does not know whether it was granted/.test(textOf(m))),
        5_000,
        'the security alert',
      );
      // The owners are asked to remove what they may have granted; the grant card has nothing left to do.
      await h.slack.waitFor(() => removalCards().length === removalsBefore + 1 || undefined, 5_000, 'the removal card');
      await h.slack.waitFor(() => h.slack.messagesTo('U0CAROL').find((m) => m.ts === grantCard.ts && /ended before anyone confirmed granting it/.test(textOf(m)) && !hasButton(m, ACTIONS.humanTaskDone)), 5_000, 'the grant card withdrawn');
      const [grant] = await h.bot.database.db.select().from(grants).where(eq(grants.requestId, requestId));
      expect(grant).toMatchObject({ state: 'revoking', revokeReason: 'ended_unconfirmed', startsAt: null });

      // Later ticks alert nothing more about it, and the stale grant card's Done changes nothing.
      clock.advance(60_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const stale = await click(h, 'U0CAROL', ACTIONS.humanTaskDone, { message: staleCopy }, { triggerId: `${Date.now()}.1.abc` });
      expect(stale.status).toBe(200);
      expect(await stale.reply()).toMatch(/The grant ended before this was confirmed, so there is nothing to confirm for \*Figma admin\* any more/);
      const kinds = (await eventsOf(h, requestId)).map((e) => e.kind);
      expect(kinds.filter((k) => k === 'alert.raised')).toHaveLength(1);
      expect(kinds).not.toContain('manual.escalated');
      expect(kinds).not.toContain('grant.applied');
      expect(kinds).not.toContain('manual.grant_confirmed');

      await confirm(h, 'U0CAROL', removalCards().at(-1)!, 'checked: was never added');
      expect(await waitForEvent(h, requestId, 'grant.revoked')).toMatchObject({ actor: 'U0CAROL', details: { reason: 'ended_unconfirmed', provider_call: 'confirmed_by_owner' } });
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
    });

    it('offboarding waits for the owners to remove it by hand, and its record names who confirmed each removal', async () => {
      const { requestId } = await request(h, 'U0ERIN', 'figma 2h DES-14 review the tokens');
      await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', requestId) });
      const grantCard = await h.slack.waitFor(() => h.slack.messagesTo('U0CAROL').find((m) => (m.text ?? '').startsWith('Grant Figma admin to erin@')), 5_000, 'erin’s grant card');
      await confirm(h, 'U0CAROL', grantCard, '');
      await waitForEvent(h, requestId, 'grant.applied');

      await post(h.baseUrl, eventCallback(userChangeEvent({ ...h.slack.userObject('U0ERIN'), deleted: true })));
      const removal = await h.slack.waitFor(() => h.slack.messagesTo('U0DAN').find((m) => (m.text ?? '').startsWith('Remove Figma admin from erin@')), 5_000, 'erin’s removal card');
      const opened = (await eventsOf(h, requestId)).filter((e) => e.kind === 'manual.task_opened').at(-1)!;
      // A leaver's removal is due within offboarding.sla (24h by default), not the hour after a grant's end.
      expect(new Date(String(opened.details.due_at)).getTime() - clock.now().getTime()).toBe(24 * HOUR);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const completedTooSoon = await h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'offboarding.completed'));
      expect(completedTooSoon).toEqual([]);

      await confirm(h, 'U0DAN', removal, 'account removed');
      const done = await h.slack.waitFor(async () => (await h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'offboarding.completed')))[0], 5_000, 'offboarding.completed');
      const [grant] = await h.bot.database.db.select().from(grants).where(eq(grants.requestId, requestId));
      expect(done.details).toMatchObject({
        systems: [{ resource: 'figma', provider: 'manual', outcome: 'revoked', removals_confirmed: [{ grant_id: grant!.id, system: 'Figma admin', confirmed_by: 'U0DAN', confirmed_at: expect.any(String) }] }],
      });
    });
  });
}
