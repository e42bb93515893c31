/** `/breakglass <resource> <duration> <reason>` as the use case sees it: a pending request, or a refusal that leaves no trace. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { requestAccess } from '../../src/app/request-access.ts';
import { accessRequests, outbox } from '../../src/db/schema.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { ALICE, BOB, CAROL, DAVE, evidence, OKTA_GROUP, oktaUseCases, type OktaUseCases } from '../support/okta-use-cases.ts';

const HOUR = 3_600_000;
const ACCESS_YML = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: ${OKTA_GROUP} }
    max_duration: 4h
    request_ttl: 30m
    requesters: { slack_users: [U0ALICE, U0BOB] }
    approvers: { slack_users: [U0BOB, U0CAROL] }
`;

describeEachDatabase('request-access', (ctx) => {
  const clock = new FakeClock('2026-03-02T09:00:00.000Z');
  let world: OktaUseCases;
  beforeAll(async () => {
    world = await oktaUseCases(ctx.database.db, { accessYml: ACCESS_YML, clock });
  });
  afterAll(() => world.okta.close());

  it('a standard request waits for its approvers, with request.created and the approval cards queued; Okta is not called', async () => {
    const outcome = await requestAccess(world.deps, { requester: ALICE.slack, resource: 'prod-db', durationMs: 2 * HOUR, reason: 'INC-7 disk full', ticket: 'INC-7' });
    expect(outcome).toMatchObject({ kind: 'pending', approvers: [BOB.slack, CAROL.slack], approvalsRequired: 1 });
    const [request] = await ctx.database.db.select().from(accessRequests);
    expect(request).toMatchObject({ requester: ALICE.slack, requesterEmail: ALICE.email, state: 'pending', kind: 'standard', approvers: [BOB.slack, CAROL.slack] });
    expect(request!.pendingUntil.toISOString()).toBe('2026-03-02T09:30:00.000Z');
    const [created] = await evidence(ctx.database.db, 'request.created');
    expect(created).toMatchObject({ actor: ALICE.slack, resource: 'prod-db', requestId: String(outcome.requestId) });
    expect(created!.details).toMatchObject({ request_kind: 'standard', duration: '2h', reason: 'INC-7 disk full', ticket: 'INC-7', approvers: [BOB.slack, CAROL.slack], approvals_required: 1 });
    expect((await ctx.database.db.select().from(outbox)).map((m) => m.message)).toContainEqual({ type: 'approval_cards', requestId: outcome.requestId });
    expect(world.okta.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it.each([
    ['someone not among the requesters', { requester: DAVE.slack, resource: 'prod-db', durationMs: HOUR }, 'not_requestable'],
    ['a resource access.yml does not have', { requester: ALICE.slack, resource: 'prod-dbb', durationMs: HOUR }, 'not_requestable'],
    ['longer than max_duration', { requester: ALICE.slack, resource: 'prod-db', durationMs: 5 * HOUR }, 'too_long'],
  ])('a request from %s is refused and writes nothing', async (_, ask, code) => {
    const before = { events: (await evidence(ctx.database.db)).length, requests: (await ctx.database.db.select().from(accessRequests)).length };
    await expect(requestAccess(world.deps, { ...ask, reason: 'curious' })).rejects.toMatchObject({ name: 'Refusal', reason: { code } });
    expect((await evidence(ctx.database.db)).length).toBe(before.events);
    expect((await ctx.database.db.select().from(accessRequests)).length).toBe(before.requests);
  });
});
