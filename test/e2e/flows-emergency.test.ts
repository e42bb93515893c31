import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS, RESPOND_MODAL, VIEWS } from '../../src/slack/blocks/view-models.ts';
import { post, viewSubmission } from '../support/slack-requests.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { click, clockAtNow, eventsOf, grantOf, hasButton, ledger, request, slash, waitForDm, waitForEvent } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { textOf, type StoredMessage } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-root:
    description: Break-glass admin for incidents
    grant: { aws_iam_group: BreakGlass }
    max_duration: 2h
    approvers: { slack_users: [U0BOB, U0CAROL] }
    emergency_self_grant: true
`;

const HOUR = 3_600_000;
const member = (h: Harness, user: string) => h.iam.account().isMember('BreakGlass', `${user}@example.com`);

/** The approver's post-hoc review card for an emergency request (a copy, as they saw it then). */
function reviewCard(h: Harness, approver: string, requestId: number, matching?: RegExp): Promise<StoredMessage> {
  return h.slack.waitFor(
    () => {
      const card = h.slack.messagesTo(approver).find((m) => new RegExp(`^Emergency access #${requestId}:`).test(m.text ?? ''));
      return card && (!matching || matching.test(textOf(card))) ? structuredClone(card) : undefined;
    },
    5_000,
    `${approver}'s review card for #${requestId}`,
  );
}

/** Alerts in the security channel (other notices, such as ledger checkpoints, go there too). */
function securityAlerts(h: Harness): StoredMessage[] {
  return h.slack.messagesTo('C0SEC').filter((m) => m.text?.startsWith('Security alert:'));
}

function securityAlert(h: Harness, matching: RegExp): Promise<StoredMessage> {
  return h.slack.waitFor(() => {
    const alert = h.slack.messagesTo('C0SEC').find((m) => matching.test(textOf(m)));
    return alert ? structuredClone(alert) : undefined;
  }, 5_000, `a security alert matching ${matching}`);
}

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`emergency self-grant [${database}]`, () => {
    let h: Harness;
    let clock: FakeClock;

    beforeAll(async () => {
      clock = clockAtNow();
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock,
        tickMs: 50,
        slack: {
          users: ['alice', 'bob', 'carol', 'frank', 'sec'].map((n) => ({ id: `U0${n.toUpperCase()}`, name: n, email: `${n}@example.com` })),
        },
      });
      h.iam.account().addGroup('BreakGlass');
      for (const n of ['alice', 'frank']) h.iam.account().addUser(`${n}@example.com`);
    });
    afterAll(async () => h?.stop());

    it('grants at once, alerts security (acknowledged with evidence), and asks approvers for a review', async () => {
      expect(member(h, 'alice')).toBe(false);
      const { requestId, reply } = await request(h, 'U0ALICE', 'prod-root 1h SEV-1 database is down');
      expect(reply).toMatch(new RegExp(`Emergency access for \`prod-root\` \\(1h\\) granted under request #${requestId}`));
      // Granted by the time the answer arrives: no approval was waited for.
      expect(member(h, 'alice')).toBe(true);
      await waitForDm(h, 'U0ALICE', new RegExp(`prod-root\` is active until.*request #${requestId}`));

      const alert = await securityAlert(h, new RegExp(`<@U0ALICE> self-granted emergency access to \`prod-root\` for 1h \\(request #${requestId}\\)`));
      expect(textOf(alert)).toContain('SEV-1 database is down');
      expect(hasButton(alert, ACTIONS.acknowledgeAlert)).toBe(true);

      // Approvers get a review card, not an approval card.
      const bobCard = await reviewCard(h, 'U0BOB', requestId, /review needed/);
      const carolCard = await reviewCard(h, 'U0CAROL', requestId);
      expect(hasButton(bobCard, ACTIONS.reviewEmergency)).toBe(true);
      expect(hasButton(bobCard, ACTIONS.approve)).toBe(false);
      expect(h.slack.messagesTo('U0BOB').filter((m) => hasButton(m, ACTIONS.approve))).toEqual([]);

      const ack = await click(h, 'U0SEC', ACTIONS.acknowledgeAlert, { message: alert });
      expect(ack.status).toBe(200);
      const acknowledged = await waitForEvent(h, requestId, 'alert.acknowledged');
      expect(acknowledged).toMatchObject({ actor: 'U0SEC', subject: 'U0ALICE', resource: 'prod-root', details: { alert_kind: 'emergency_grant' } });
      const updatedAlert = await h.slack.waitFor(() => {
        const m = h.slack.message('C0SEC', alert.ts);
        return m && /Acknowledged by <@U0SEC>/.test(textOf(m)) ? m : undefined;
      }, 5_000, 'the alert updated in place');
      expect(hasButton(updatedAlert, ACTIONS.acknowledgeAlert)).toBe(false);
      // A second click on the stale alert changes nothing.
      const again = await click(h, 'U0BOB', ACTIONS.acknowledgeAlert, { message: alert });
      expect(await again.reply()).toMatch(/already acknowledged/);

      // Management's response: Respond opens a modal; an empty text is refused, a real one is evidence shown on the alert.
      const triggerId = '24680.13579.feedface01234567';
      await click(h, 'U0SEC', ACTIONS.respondAlert, { message: updatedAlert }, { triggerId });
      const modal = await h.slack.waitFor(() => [...h.slack.modals.values()].find((v) => v.callback_id === VIEWS.respondAlert), 5_000, 'the response modal');
      const empty = await post<{ response_action?: string }>(h.baseUrl, viewSubmission({ userId: 'U0SEC', view: modal, values: { [RESPOND_MODAL.block]: { [RESPOND_MODAL.action]: '  ' } } }));
      expect(empty.json).toMatchObject({ response_action: 'errors' });
      const response = 'Confirmed SEV-1 with the on-call lead; access ended after the incident.';
      const submitted = await post(h.baseUrl, viewSubmission({ userId: 'U0SEC', view: modal, values: { [RESPOND_MODAL.block]: { [RESPOND_MODAL.action]: response } } }));
      expect(submitted.status).toBe(200);
      const responded = await waitForEvent(h, requestId, 'exception.responded');
      expect(responded).toMatchObject({ actor: 'U0SEC', subject: 'U0ALICE', resource: 'prod-root', details: { response, exception_id: expect.stringMatching(/^alert:\d+$/) } });
      await h.slack.waitFor(() => {
        const m = h.slack.message('C0SEC', alert.ts);
        return m && textOf(m).includes(`Response by <@U0SEC>`) && textOf(m).includes(response) ? m : undefined;
      }, 5_000, 'the response on the alert');

      await click(h, 'U0BOB', ACTIONS.reviewEmergency, { message: bobCard });
      const reviewed = await waitForEvent(h, requestId, 'emergency.reviewed');
      expect(reviewed).toMatchObject({ actor: 'U0BOB', subject: 'U0ALICE', resource: 'prod-root' });
      for (const [approver, card] of [['U0BOB', bobCard], ['U0CAROL', carolCard]] as const) {
        const updated = await reviewCard(h, approver, requestId, /Reviewed by <@U0BOB>/);
        expect(updated.ts).toBe(card.ts);
        expect(hasButton(updated, ACTIONS.reviewEmergency)).toBe(false);
      }
      const carolLate = await click(h, 'U0CAROL', ACTIONS.reviewEmergency, { message: carolCard });
      expect(await carolLate.reply()).toMatch(/<@U0BOB> already reviewed/);

      const events = await eventsOf(h, requestId);
      expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'alert.raised', 'grant.applied', 'alert.acknowledged', 'exception.responded', 'emergency.reviewed']);
      expect(events[0]).toMatchObject({ actor: 'U0ALICE', details: { request_kind: 'emergency', approvers: ['U0BOB', 'U0CAROL'] } });
      expect(events[1]).toMatchObject({ actor: 'U0ALICE', subject: 'U0ALICE', details: { self_grant: true, policy: 'emergency_self_grant', final: true } });
      expect(events[2]).toMatchObject({ actor: 'breakglass', subject: 'U0ALICE', resource: 'prod-root', details: { alert_kind: 'emergency_grant' } });
      expect(events[3]).toMatchObject({ details: { emergency: true, target: { kind: 'aws_iam_group', groupName: 'BreakGlass' } } });
      expect(await grantOf(h, requestId)).toMatchObject({ emergency: true, reviewedBy: 'U0BOB' });

      await (await slash(h, 'U0ALICE', `end ${requestId}`)).reply();
      await h.slack.waitFor(() => (!member(h, 'alice') ? true : undefined), 5_000, 'alice out of BreakGlass');
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });

    it('an emergency grant nobody reviews within 24 h is escalated to security, once', async () => {
      const { requestId } = await request(h, 'U0FRANK', 'prod-root 2h INC-500 hotfix');
      await reviewCard(h, 'U0BOB', requestId);
      await securityAlert(h, new RegExp(`<@U0FRANK> self-granted emergency access to \`prod-root\` for 2h \\(request #${requestId}\\)`));
      const alertsBefore = securityAlerts(h).length;

      clock.advance(23 * HOUR);
      // Expired at 2 h, and still unreviewed: nothing escalated yet.
      await waitForEvent(h, requestId, 'grant.revoked');
      expect(member(h, 'frank')).toBe(false);
      await new Promise((r) => setTimeout(r, 200));
      expect((await eventsOf(h, requestId)).map((e) => e.kind)).not.toContain('emergency.escalated');

      clock.advance(HOUR + 60_000);
      const escalated = await waitForEvent(h, requestId, 'emergency.escalated');
      expect(escalated).toMatchObject({ actor: 'breakglass', subject: 'U0FRANK', resource: 'prod-root' });
      const alert = await securityAlert(h, new RegExp(`<@U0FRANK>'s emergency access to \`prod-root\` \\(request #${requestId}\\) has not been reviewed`));
      expect(hasButton(alert, ACTIONS.acknowledgeAlert)).toBe(true);
      expect(securityAlerts(h)).toHaveLength(alertsBefore + 1);

      // Time goes on; it is not raised again. The reviewed one (alice's) was never escalated.
      clock.advance(HOUR);
      await new Promise((r) => setTimeout(r, 300));
      const all = await ledger(h);
      expect(all.filter((e) => e.kind === 'emergency.escalated').map((e) => e.requestId)).toEqual([String(requestId)]);
      expect(securityAlerts(h)).toHaveLength(alertsBefore + 1);
      expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual([
        'request.created',
        'request.approved',
        'alert.raised',
        'grant.applied',
        'grant.revoked',
        'emergency.escalated',
        'alert.raised',
      ]);

      // Still reviewable after the escalation.
      const card = await reviewCard(h, 'U0CAROL', requestId);
      await click(h, 'U0CAROL', ACTIONS.reviewEmergency, { message: card });
      expect(await waitForEvent(h, requestId, 'emergency.reviewed')).toMatchObject({ actor: 'U0CAROL', subject: 'U0FRANK' });
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}
