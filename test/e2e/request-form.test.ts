import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { REQUEST_FORM, SHORTCUTS, VIEWS } from '../../src/slack/blocks/view-models.ts';
import { postgresAvailable } from '../support/databases.ts';
import { clockAtNow, ledger, slash, waitForCard, waitForDm, type EvidenceRow } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { globalShortcut, post, viewSubmission, type InputValue, type ViewRef } from '../support/slack-requests.ts';
import type { StoredView } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres, read/write
    grant: { aws_iam_group: ProdDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB, U0CAROL] }
  staging-db:
    grant: { aws_iam_group: StagingDB }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
  prod-billing:
    grant: { aws_iam_group: Billing }
    max_duration: 1h
    approvers: { slack_users: [U0BOB] }
    requesters: { slack_usergroup: S0FIN }
`;

const USERS = ['alice', 'bob', 'carol', 'frank'];
const HOUR = 3_600_000;

type FormAnswer = { resource?: string; durationMs?: number; reason?: string; ticket?: string };

/** state.values as Slack sends them for what the person chose and typed. */
function formValues(answer: FormAnswer): Record<string, Record<string, InputValue>> {
  const selected = (value: string) => ({ type: 'static_select', selected_option: { text: { type: 'plain_text', text: value }, value } });
  return {
    [REQUEST_FORM.resource.block]: { [REQUEST_FORM.resource.action]: answer.resource ? selected(answer.resource) : { type: 'static_select', selected_option: null } },
    [REQUEST_FORM.duration.block]: { [REQUEST_FORM.duration.action]: answer.durationMs ? selected(String(answer.durationMs)) : { type: 'static_select', selected_option: null } },
    [REQUEST_FORM.reason.block]: { [REQUEST_FORM.reason.action]: answer.reason ?? '' },
    [REQUEST_FORM.ticket.block]: { [REQUEST_FORM.ticket.action]: { type: 'plain_text_input', value: answer.ticket ?? null } },
  };
}

/** The values a static_select in the view offers (options or option_groups). */
function offered(view: ViewRef, blockId: string): string[] {
  const block = view.blocks?.find((b) => b.block_id === blockId) as { element: { options?: Array<{ value: string }>; option_groups?: Array<{ options: Array<{ value: string }> }> } };
  return [...(block.element.options ?? []), ...(block.element.option_groups ?? []).flatMap((g) => g.options)].map((o) => o.value);
}

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`the request form [${database}]`, () => {
    let h: Harness;
    const created = async (): Promise<EvidenceRow[]> => (await ledger(h)).filter((e) => e.kind === 'request.created');

    beforeAll(async () => {
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock: clockAtNow(),
        tickMs: 50,
        slack: { users: USERS.map((n) => ({ id: `U0${n.toUpperCase()}`, name: n, email: `${n}@example.com` })), usergroups: { S0FIN: ['U0FRANK'] } },
      });
      for (const group of ['ProdDB', 'StagingDB', 'Billing']) h.iam.account().addGroup(group);
      for (const n of USERS) h.iam.account().addUser(`${n}@example.com`);
    });
    afterAll(async () => h?.stop());

    async function openForm(user: string): Promise<StoredView> {
      const before = new Set(h.slack.modals.keys());
      const cmd = await slash(h, user, '');
      expect(cmd.status).toBe(200);
      expect(cmd.ack).toBeUndefined();
      return h.slack.waitFor(() => [...h.slack.modals.values()].find((v) => !before.has(v.id) && v.callback_id === VIEWS.requestForm), 5_000, `the request form for ${user}`);
    }

    const submit = (user: string, view: StoredView, answer: FormAnswer) =>
      post<{ response_action?: string; errors?: Record<string, string> }>(h.baseUrl, viewSubmission({ userId: user, view, values: formValues(answer) }));

    it('`/breakglass` with no text opens the form with only the resources this person may request; help stays help', async () => {
      const alices = await openForm('U0ALICE');
      expect(offered(alices, REQUEST_FORM.resource.block)).toEqual(['prod-db', 'staging-db']);
      expect(JSON.stringify(alices.blocks)).toContain('Production Postgres, read/write');
      expect(offered(alices, REQUEST_FORM.duration.block).map(Number)).toEqual([0.25, 0.5, 1, 2, 4].map((h) => h * HOUR));
      const franks = await openForm('U0FRANK');
      expect(offered(franks, REQUEST_FORM.resource.block)).toEqual(['prod-billing', 'prod-db', 'staging-db']);

      const help = await slash(h, 'U0ALICE', 'help');
      expect(help.ack).toMatch(/`\/breakglass list`/);
      expect(h.slack.violations).toEqual([]);
    });

    it('the global shortcut opens the same form with the trigger Slack sent', async () => {
      const shortcut = globalShortcut({ userId: 'U0FRANK', callbackId: SHORTCUTS.requestAccess });
      const res = await post(h.baseUrl, shortcut);
      expect(res.status).toBe(200);
      const call = await h.slack.waitFor(() => h.slack.calls('views.open').find((c) => c.params.trigger_id === shortcut.payload.trigger_id), 5_000, 'views.open for the shortcut');
      expect(call.error).toBeUndefined();
      expect(JSON.stringify(call.params.view)).toContain('prod-billing');
      expect(h.slack.violations).toEqual([]);
    });

    it('a field that is wrong is shown on that field and nothing is recorded', async () => {
      const before = (await created()).length;
      const form = await openForm('U0ALICE');
      const empty = await submit('U0ALICE', form, { resource: 'prod-db', durationMs: HOUR, reason: '   ' });
      expect(empty.json).toMatchObject({ response_action: 'errors', errors: { [REQUEST_FORM.reason.block]: expect.stringMatching(/reason is required/) } });
      const notAllowed = await submit('U0ALICE', form, { resource: 'prod-billing', durationMs: HOUR, reason: 'invoices' });
      expect(notAllowed.json).toMatchObject({ response_action: 'errors', errors: { [REQUEST_FORM.resource.block]: expect.stringMatching(/prod-billing exists, but you are not among its requesters in access\.yml; .*You may request: prod-db, staging-db/) } });
      const tooLong = await submit('U0ALICE', form, { resource: 'staging-db', durationMs: 4 * HOUR, reason: 'load test' });
      expect(tooLong.json).toMatchObject({ response_action: 'errors', errors: { [REQUEST_FORM.duration.block]: expect.stringMatching(/4h is longer than staging-db allows/) } });
      const badTicket = await submit('U0ALICE', form, { resource: 'prod-db', durationMs: HOUR, reason: 'checking', ticket: 'see slack' });
      expect(badTicket.json).toMatchObject({ response_action: 'errors', errors: { [REQUEST_FORM.ticket.block]: expect.any(String) } });
      expect((await created()).length).toBe(before);
    });

    it('a valid submission records the request as the command does, cards reach approvers, the answer comes as a DM; a repeat changes nothing', async () => {
      const form = await openForm('U0ALICE');
      const reason = 'replication lag on the primary';
      const request = viewSubmission({ userId: 'U0ALICE', view: form, values: formValues({ resource: 'prod-db', durationMs: 2 * HOUR, reason, ticket: 'INC-77' }) });
      const res = await post(h.baseUrl, request);
      expect(res.status).toBe(200);
      expect(res.body).toBe('');

      const dm = await waitForDm(h, 'U0ALICE', /Request #\d+ for `prod-db` \(2h\) is waiting for 1 approval\(s\) from <@U0BOB>, <@U0CAROL>/);
      const requestId = Number(/#(\d+)/.exec(dm.text ?? '')![1]);
      const [event] = (await created()).filter((e) => e.requestId === String(requestId));
      expect(event).toMatchObject({ actor: 'U0ALICE', subject: 'U0ALICE', resource: 'prod-db', details: { reason, ticket: 'INC-77', duration: '2h', request_kind: 'standard' } });
      await waitForCard(h, 'U0BOB', requestId);
      await waitForCard(h, 'U0CAROL', requestId);

      // The same signed bytes again, and the same form submitted again: no second request.
      const count = (await created()).length;
      expect((await post(h.baseUrl, request)).status).toBe(200);
      expect((await submit('U0ALICE', form, { resource: 'prod-db', durationMs: 2 * HOUR, reason })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await created()).length).toBe(count);
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}
