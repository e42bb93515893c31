import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { postgresAvailable } from '../support/databases.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { blockAction, post, slashCommand } from '../support/slack-requests.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

/** One sample's value from Prometheus text, e.g. `breakglass_grants_active` or `…_count`. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`GET /metrics [${database}]`, () => {
    let h: Harness;
    const scrape = async () => {
      const res = await fetch(`${h.baseUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      return res.text();
    };
    beforeAll(async () => {
      h = await startHarness({
        database,
        accessYml: ACCESS,
        slack: { users: [{ id: 'U0ALICE', name: 'alice', email: 'alice@example.com' }, { id: 'U0BOB', name: 'bob', email: 'bob@example.com' }] },
      });
      h.okta.addUser({ login: 'alice@example.com', email: 'alice@example.com', firstName: 'Alice', lastName: 'A' });
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
    });
    afterAll(async () => h?.stop());

    it('reports the grant, its lags, the provider calls and the ack latency as Prometheus text', async () => {
      const before = await scrape();
      expect(sample(before, 'breakglass_grants_active')).toBe(0);
      expect(sample(before, 'breakglass_checkpoint_age_seconds')).toBe(-1);
      expect(sample(before, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      const headBefore = sample(before, 'breakglass_ledger_head_seq')!;

      await post(h.baseUrl, slashCommand({ text: 'prod-db 2h INC-1 metrics', userId: 'U0ALICE', responseUrl: h.slack.responseUrl('r') }));
      const card = await h.slack.waitFor(() => h.slack.lastMessage('U0BOB'));
      await post(h.baseUrl, blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: card }));
      await h.slack.waitFor(() => h.okta.isMember('00gPRODDB', 'alice@example.com') || undefined, 5_000, 'alice in the group');
      await h.slack.waitFor(() => h.slack.messagesTo('U0ALICE').length > 0 || undefined, 5_000, 'alice told');

      const during = await scrape();
      expect(sample(during, 'breakglass_grants_active')).toBe(1);
      expect(sample(during, 'breakglass_revokes_overdue')).toBe(0);
      expect(sample(during, 'breakglass_approve_to_grant_seconds_count')).toBe(1);
      expect(sample(during, 'breakglass_provider_calls_total', '{provider="okta",operation="grant"}')).toBe(1);
      expect(sample(during, 'breakglass_provider_errors_total', '{provider="okta",operation="grant"}')).toBeUndefined();
      expect(sample(during, 'breakglass_slack_ack_seconds_count')).toBeGreaterThanOrEqual(2);
      expect(sample(during, 'breakglass_ledger_head_seq')).toBeGreaterThanOrEqual(headBefore + 3);

      await post(h.baseUrl, slashCommand({ text: 'end 1', userId: 'U0ALICE', responseUrl: h.slack.responseUrl('end') }));
      await h.slack.waitFor(() => (!h.okta.isMember('00gPRODDB', 'alice@example.com') ? true : undefined), 5_000, 'alice removed');
      const after = await scrape();
      expect(sample(after, 'breakglass_grants_active')).toBe(0);
      expect(sample(after, 'breakglass_provider_calls_total', '{provider="okta",operation="revoke"}')).toBe(1);
      // Ended early by its holder: not an expiry, so no expiry-to-revoke lag is observed.
      expect(sample(after, 'breakglass_expiry_to_revoke_seconds_count')).toBe(0);
    });
  });
}
