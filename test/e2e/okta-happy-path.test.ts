import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceEvents } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { postgresAvailable } from '../support/databases.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { blockAction, post, slashCommand } from '../support/slack-requests.ts';
import { textOf } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`break-glass through Okta [${database}]`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({
        database,
        accessYml: ACCESS,
        slack: {
          users: [
            { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
            { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
          ],
        },
      });
      h.okta.addUser({ login: 'alice@example.com', email: 'alice@example.com', firstName: 'Alice', lastName: 'A' });
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
    });
    afterAll(async () => h?.stop());

    it('requests, approves, grants, ends early and revokes, with evidence for each step', async () => {
      const command = await post(h.baseUrl, slashCommand({ text: 'prod-db 2h INC-1234 replication lag', userId: 'U0ALICE', responseUrl: h.slack.responseUrl('request') }));
      expect(command.status).toBe(200);
      const answer = await h.slack.waitFor(() => h.slack.responses('request')[0]);
      expect(answer.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/Request #1 for `prod-db` \(2h\) is waiting for 1 approval\(s\) from <@U0BOB>/) });

      const card = await h.slack.waitFor(() => h.slack.lastMessage('U0BOB'));
      expect(textOf(card)).toContain('INC-1234');
      const approve = await post(h.baseUrl, blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: card }));
      expect(approve.status).toBe(200);

      await h.slack.waitFor(() => h.okta.isMember('00gPRODDB', 'alice@example.com') || undefined, 5_000, 'alice in the Okta group');
      const updated = await h.slack.waitFor(() => {
        const current = h.slack.lastMessage('U0BOB');
        return current && /access is active/i.test(textOf(current)) ? current : undefined;
      }, 5_000, 'the card updated to active');
      expect(JSON.stringify(updated.blocks)).not.toContain(ACTIONS.approve);
      await h.slack.waitFor(() => h.slack.messagesTo('U0ALICE').find((m) => textOf(m).includes('is active until')));

      const end = await post(h.baseUrl, slashCommand({ text: 'end 1', userId: 'U0ALICE', responseUrl: h.slack.responseUrl('end') }));
      expect(end.status).toBe(200);
      await h.slack.waitFor(() => (!h.okta.isMember('00gPRODDB', 'alice@example.com') ? true : undefined), 5_000, 'alice removed from the group');
      await h.slack.waitFor(() => h.slack.messagesTo('U0ALICE').find((m) => textOf(m).includes('has ended')));

      const events = await h.bot.database.db.select().from(evidenceEvents).orderBy(evidenceEvents.seq);
      // The requester and the approvers are recorded as people when first met (person.seen), between these.
      expect(events.map((e) => e.kind).filter((k) => !k.startsWith('person.'))).toEqual(['config.loaded', 'bot.started', 'request.created', 'request.approved', 'grant.applied', 'grant.end_requested', 'grant.revoked']);
      expect(events.filter((e) => e.kind === 'person.seen').map((e) => (e.details as { aliases: Array<{ value: string }> }).aliases[0]?.value)).toContain('U0ALICE');
      expect(events.find((e) => e.kind === 'request.approved')).toMatchObject({ actor: 'U0BOB', subject: 'U0ALICE', resource: 'prod-db', requestId: '1' });
      expect(events.find((e) => e.kind === 'grant.revoked')?.details).toMatchObject({ reason: 'ended', provider_call: 'revoked' });
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}
