/**
 * Races: many clicks on one request, and several replicas revoking the same due grants. Whatever
 * the interleaving, the provider is called once per grant and once per revoke, with one evidence
 * row each.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { accessRequests, evidenceEvents, grants, requestApprovals } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { blockAction, post, slashCommand } from '../support/slack-requests.ts';
import { textOf } from '../support/slack-server.ts';

/** Generous: waits end as soon as the condition holds, and a loaded CI machine can be slow. */
const WAIT = 30_000;
vi.setConfig({ testTimeout: 120_000 });

const APPROVERS = ['U0AP1', 'U0AP2', 'U0AP3', 'U0AP4', 'U0AP5'];

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [${APPROVERS.join(', ')}] }
    approvals_required: 2
`;

const person = (id: string) => ({ id, name: id.toLowerCase(), email: `${id.toLowerCase()}@example.com` });

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`500 concurrent Approve clicks [${database}]`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ database, accessYml: ACCESS, slack: { users: [person('U0ALICE'), ...APPROVERS.map(person)] } });
      h.okta.addUser({ login: 'u0alice@example.com', email: 'u0alice@example.com' });
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
    });
    afterAll(async () => h?.stop());

    it('grants exactly once, with two approvals and one grant.applied', async () => {
      await post(h.baseUrl, slashCommand({ text: 'prod-db 1h INC-500 failover drill', userId: 'U0ALICE', responseUrl: h.slack.responseUrl('request') }));
      await h.slack.waitFor(() => h.slack.responses('request')[0], WAIT, 'the request answer');
      const cards = await h.slack.waitFor(() => {
        const found = APPROVERS.map((a) => h.slack.messagesTo(a).find((m) => textOf(m).includes('Access request #1')));
        return found.every(Boolean) ? found.map((m) => structuredClone(m!)) : undefined;
      }, WAIT, 'a card for each approver');

      // 5 approvers × 100 clicks each, all in flight together; each click is its own Slack delivery.
      const clicks = APPROVERS.flatMap((approver, a) =>
        Array.from({ length: 100 }, (_, i) =>
          blockAction({ userId: approver, actionId: ACTIONS.approve, message: cards[a]!, responseUrl: h.slack.responseUrl(`c-${approver}-${i}`) }),
        ),
      );
      const answers = await Promise.all(clicks.map((click) => post(h.baseUrl, click)));
      expect(answers.filter((a) => a.status !== 200)).toEqual([]);

      await h.slack.waitFor(() => h.okta.isMember('00gPRODDB', 'u0alice@example.com') || undefined, WAIT, 'alice in the Okta group');
      // Every click is answered (or, for the one that completed the approval, acted on) before we count.
      await h.slack.waitFor(() => {
        const replies = APPROVERS.flatMap((approver) => Array.from({ length: 100 }, (_, i) => h.slack.responses(`c-${approver}-${i}`))).flat();
        return replies.length >= 499 ? replies : undefined;
      }, WAIT, 'replies to the other clicks');
      await h.slack.waitFor(() => h.slack.messagesTo('U0ALICE').find((m) => textOf(m).includes('is active until')), WAIT, 'alice told');

      const puts = h.okta.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/api/v1/groups/00gPRODDB/users/'));
      expect(puts).toHaveLength(1);
      expect(h.okta.requests.filter((r) => r.method === 'DELETE')).toEqual([]);

      const db = h.bot.database.db;
      const approvals = await db.select().from(requestApprovals).where(eq(requestApprovals.requestId, 1));
      expect(approvals).toHaveLength(2);
      expect(new Set(approvals.map((a) => a.approver)).size).toBe(2);
      expect((await db.select().from(accessRequests).where(eq(accessRequests.id, 1)))[0]).toMatchObject({ state: 'approved' });
      const grantRows = await db.select().from(grants).where(eq(grants.requestId, 1));
      expect(grantRows.map((g) => g.state)).toEqual(['active']);

      const events = await db.select().from(evidenceEvents).orderBy(evidenceEvents.seq);
      // People met for the first time (the requester, each approver) are recorded as person.seen between these.
      expect(events.map((e) => e.kind).filter((k) => !k.startsWith('person.'))).toEqual(['config.loaded', 'bot.started', 'request.created', 'request.approved', 'request.approved', 'grant.applied']);
      const approved = events.filter((e) => e.kind === 'request.approved');
      expect(approved.map((e) => e.details)).toEqual([
        expect.objectContaining({ approvals: 1, final: false }),
        expect.objectContaining({ approvals: 2, final: true }),
      ]);
      expect(approved.map((e) => e.actor).sort()).toEqual(approvals.map((a) => a.approver).sort());

      // Every copy of the card ends up showing the decision, without buttons.
      for (const approver of APPROVERS) {
        await h.slack.waitFor(() => {
          const card = h.slack.messagesTo(approver).find((m) => textOf(m).includes('Access request #1'));
          return card && /access is active/i.test(textOf(card)) && !JSON.stringify(card.blocks).includes(ACTIONS.approve) ? card : undefined;
        }, WAIT, `${approver}'s card updated`);
      }
      // Alice and the two approvers whose approval counted are people now; the 498 other clicks recorded nobody.
      expect(events.filter((e) => e.kind === 'person.seen').map((e) => (e.details as { aliases: Array<{ value: string }> }).aliases[0]?.value).sort()).toEqual(['U0ALICE', ...approvals.map((a) => a.approver)].sort());
      expect(await verifyLedger(db)).toMatchObject({ ok: true, count: 9 }); // with bot.started at boot and the 3 person.seen
      expect(h.slack.violations).toEqual([]);
    });
  });
}

const REQUESTERS = Array.from({ length: 20 }, (_, i) => `U0P${String(i + 1).padStart(2, '0')}`);
const EXPIRY_ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

describe.skipIf(!postgresAvailable)('two replicas revoking 20 grants that expire at once [postgres]', () => {
  let h: Harness;
  const clock = new FakeClock();
  beforeAll(async () => {
    h = await startHarness({ database: 'postgres', accessYml: EXPIRY_ACCESS, clock, tickMs: 25, slack: { users: [person('U0BOB'), ...REQUESTERS.map(person)] } });
    for (const id of REQUESTERS) h.okta.addUser({ login: `${id.toLowerCase()}@example.com`, email: `${id.toLowerCase()}@example.com` });
    h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
  });
  afterAll(async () => h?.stop());

  it('revokes each exactly once at the provider, with one grant.revoked each', async () => {
    const replica = await h.replica();
    // All requested and approved at the same (fake) instant, so all end at the same instant.
    await Promise.all(
      REQUESTERS.map((id) => post(h.baseUrl, slashCommand({ text: 'prod-db 1h INC-20 load test', userId: id, responseUrl: h.slack.responseUrl(`r-${id}`) }))),
    );
    const cards = await h.slack.waitFor(() => {
      const found = h.slack.messagesTo('U0BOB').filter((m) => textOf(m).includes('Access request #'));
      return found.length === 20 ? found.map((m) => structuredClone(m)) : undefined;
    }, WAIT, '20 cards');
    // Approvals spread over both replicas' HTTP endpoints.
    const replicaUrl = `http://127.0.0.1:${replica.port}`;
    await Promise.all(cards.map((card, i) => post(i % 2 ? replicaUrl : h.baseUrl, blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: card, responseUrl: h.slack.responseUrl(`a-${i}`) }))));
    await h.slack.waitFor(() => REQUESTERS.every((id) => h.okta.isMember('00gPRODDB', `${id.toLowerCase()}@example.com`)) || undefined, WAIT, 'all 20 in the group');
    const db = h.bot.database.db;
    await h.slack.waitFor(async () => (await db.select().from(grants)).filter((g) => g.state === 'active').length === 20 || undefined, WAIT, '20 active grants');
    const endsAt = new Set((await db.select().from(grants)).map((g) => g.endsAt.getTime()));
    expect(endsAt.size).toBe(1);

    clock.advance(60 * 60_000 + 1_000);
    await h.slack.waitFor(async () => (await db.select().from(grants)).every((g) => g.state === 'revoked') || undefined, WAIT, 'all 20 revoked');
    expect(h.okta.memberLogins('00gPRODDB')).toEqual([]);

    const deletes = h.okta.requests.filter((r) => r.method === 'DELETE');
    expect(deletes).toHaveLength(20);
    expect(new Set(deletes.map((d) => d.path)).size).toBe(20);
    const revoked = (await db.select().from(evidenceEvents).orderBy(evidenceEvents.seq)).filter((e) => e.kind === 'grant.revoked');
    expect(revoked).toHaveLength(20);
    expect(new Set(revoked.map((e) => (e.details as { grant_id: number }).grant_id)).size).toBe(20);
    expect(new Set(revoked.map((e) => e.subject))).toEqual(new Set(REQUESTERS));
    for (const e of revoked) expect(e.details).toMatchObject({ reason: 'expired', provider_call: 'revoked', attempts: 1 });

    // Each requester hears once that access ended: the replicas share the outbox, not duplicate it.
    for (const id of REQUESTERS) {
      await h.slack.waitFor(() => h.slack.messagesTo(id).some((m) => textOf(m).includes('has ended')) || undefined, WAIT, `${id} told`);
    }
    await new Promise((r) => setTimeout(r, 200));
    for (const id of REQUESTERS) expect(h.slack.messagesTo(id).filter((m) => textOf(m).includes('has ended'))).toHaveLength(1);
    expect(await verifyLedger(db)).toMatchObject({ ok: true });
    expect(h.slack.violations).toEqual([]);
  });
});
