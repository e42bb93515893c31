import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS, EXTEND_FORM, VIEWS } from '../../src/slack/blocks/view-models.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { click, clockAtNow, eventsOf, hasButton, personFields, request, requestAndApprove, waitForCard, waitForDm, waitForEvent } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { post, viewSubmission } from '../support/slack-requests.ts';
import { textOf } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
remind_before: 10m
resources:
  prod-db:
    grant: { aws_iam_group: ProdDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB, U0CAROL, U0DAVE] }
    approvals_required: 2
    request_ttl: 30m
  staging-db:
    grant: { aws_iam_group: StagingDB }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
`;

const USERS = ['alice', 'bob', 'carol', 'dave'];
const MINUTE = 60_000;
const settle = (ms = 400) => new Promise((resolve) => setTimeout(resolve, ms));

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`reminders [${database}]`, () => {
    let h: Harness;
    let clock: FakeClock;
    const dms = (user: string, matching: RegExp) => h.slack.messagesTo(user).filter((m) => matching.test(textOf(m)));

    beforeAll(async () => {
      clock = clockAtNow();
      h = await startHarness({ database, accessYml: ACCESS, clock, tickMs: 50, slack: { users: USERS.map((n) => ({ id: `U0${n.toUpperCase()}`, name: n, email: `${n}@example.com` })) } });
      for (const group of ['ProdDB', 'StagingDB']) h.iam.account().addGroup(group);
      for (const n of USERS) h.iam.account().addUser(`${n}@example.com`);
    });
    afterAll(async () => h?.stop());

    it('approvers who have not decided a pending request are reminded once, at half its request_ttl', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-5 vacuum');
      await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', requestId) });
      await waitForCard(h, 'U0CAROL', requestId, /1 of 2 approvals/);
      const reminder = new RegExp(`request #${requestId} for \`prod-db\` is still waiting for your decision`);

      clock.advance(14 * MINUTE);
      await settle();
      expect(dms('U0CAROL', reminder)).toHaveLength(0);

      clock.advance(2 * MINUTE);
      await waitForDm(h, 'U0CAROL', reminder);
      await waitForDm(h, 'U0DAVE', reminder);
      clock.advance(5 * MINUTE);
      await settle();
      expect(dms('U0CAROL', reminder)).toHaveLength(1);
      expect(dms('U0DAVE', reminder)).toHaveLength(1);
      // Bob already approved: nothing to remind him of.
      expect(dms('U0BOB', reminder)).toHaveLength(0);
      // The evidence shows who was reminded of which deadline, under the policy the request was made under.
      const events = await eventsOf(h, requestId);
      const created = events.find((e) => e.kind === 'request.created')!;
      const reminders = events.filter((e) => e.kind === 'reminder.sent');
      expect(reminders).toHaveLength(1);
      expect(reminders[0]).toMatchObject({ actor: 'breakglass', subject: 'U0ALICE', resource: 'prod-db' });
      expect(reminders[0]!.details).toEqual({
        reminder: 'pending_approvers',
        to: ['U0CAROL', 'U0DAVE'],
        pending_until: new Date(created.occurredAt.getTime() + 30 * MINUTE).toISOString(),
        config_hash: (created.details as { config_hash: string }).config_hash,
        ...(await personFields(h, 'U0ALICE')),
      });
      expect(h.slack.violations).toEqual([]);
    });

    it('the holder is reminded once, 10 minutes before the end; Extend opens the extension form, End now ends the access', async () => {
      const { requestId, grant } = await requestAndApprove(h, 'U0ALICE', 'staging-db 1h INC-6 migration', ['U0BOB']);
      const reminder = /Your access to `staging-db` ends at/;

      clock.advance(49 * MINUTE);
      await settle();
      expect(dms('U0ALICE', reminder)).toHaveLength(0);

      clock.advance(2 * MINUTE);
      const dm = await waitForDm(h, 'U0ALICE', reminder);
      expect(textOf(dm)).toContain(`<!date^${Math.floor(grant.endsAt.getTime() / 1000)}^`);
      expect(hasButton(dm, ACTIONS.extendAccess)).toBe(true);
      expect(hasButton(dm, ACTIONS.endGrant)).toBe(true);
      clock.advance(2 * MINUTE);
      await settle();
      expect(dms('U0ALICE', reminder)).toHaveLength(1);
      const reminded = (await eventsOf(h, requestId)).filter((e) => e.kind === 'reminder.sent');
      expect(reminded).toHaveLength(1);
      expect(reminded[0]).toMatchObject({ actor: 'breakglass', subject: 'U0ALICE', resource: 'staging-db' });
      expect(reminded[0]!.details).toMatchObject({ reminder: 'access_ending', grant_id: grant.id, to: ['U0ALICE'], ends_at: grant.endsAt.toISOString(), remind_before_ms: 10 * MINUTE });

      // Someone else's click on the holder's Extend opens nothing.
      const opened = h.slack.calls('views.open').length;
      const stranger = await click(h, 'U0DAVE', ACTIONS.extendAccess, { message: dm });
      expect(await stranger.reply()).toMatch(/no active access|not active|is not/i);
      expect(h.slack.calls('views.open').length).toBe(opened);

      const triggerId = 'extend-trigger-1';
      await click(h, 'U0ALICE', ACTIONS.extendAccess, { message: dm }, { triggerId });
      await h.slack.waitFor(() => h.slack.calls('views.open').find((c) => c.params.trigger_id === triggerId), 5_000, 'views.open for Extend');
      const modal = await h.slack.waitFor(() => [...h.slack.modals.values()].find((v) => v.callback_id === VIEWS.extendForm && v.private_metadata === String(requestId)), 5_000, 'the extension form');
      const selected = { type: 'static_select', selected_option: { text: { type: 'plain_text', text: '1h' }, value: String(60 * MINUTE) } };
      const submitted = await post(h.baseUrl, viewSubmission({ userId: 'U0ALICE', view: modal, values: { [EXTEND_FORM.block]: { [EXTEND_FORM.action]: selected } } }));
      expect(submitted.status).toBe(200);
      const answer = await waitForDm(h, 'U0ALICE', new RegExp(`Request #\\d+ for \`request #${requestId}\` \\(1h more\\) is waiting for 1 approval`));
      const extensionId = Number(/Request #(\d+)/.exec(textOf(answer))![1]);
      await waitForCard(h, 'U0BOB', extensionId);
      expect((await waitForEvent(h, extensionId, 'request.created')).details).toMatchObject({ request_kind: 'extension', extends_grant_id: grant.id });

      await click(h, 'U0ALICE', ACTIONS.endGrant, { message: dm });
      await waitForEvent(h, requestId, 'grant.end_requested');
      await waitForEvent(h, requestId, 'grant.revoked');
      expect(h.iam.account().isMember('StagingDB', 'alice@example.com')).toBe(false);
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}
