/** Approve and Deny clicks as the use case sees them: who may decide, how many must, and that a decided request stays decided. */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { approveRequest, denyRequest } from '../../src/app/decide-request.ts';
import { requestAccess } from '../../src/app/request-access.ts';
import { accessRequests, grants } from '../../src/db/schema.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { ALICE, BOB, CAROL, DAVE, evidence, OKTA_GROUP, oktaUseCases, type OktaUseCases } from '../support/okta-use-cases.ts';

const HOUR = 3_600_000;
const ACCESS_YML = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: ${OKTA_GROUP} }
    max_duration: 4h
    approvers: { slack_users: [U0BOB, U0CAROL] }
  prod-admin:
    grant: { okta_group: ${OKTA_GROUP} }
    max_duration: 4h
    approvals_required: 2
    approvers: { slack_users: [U0BOB, U0CAROL, U0DAVE] }
`;

describeEachDatabase('decide-request', (ctx) => {
  const clock = new FakeClock('2026-03-02T09:00:00.000Z');
  let world: OktaUseCases;
  beforeAll(async () => {
    world = await oktaUseCases(ctx.database.db, { accessYml: ACCESS_YML, clock });
  });
  afterAll(() => world.okta.close());

  const ask = (requester: string, resource: string) => requestAccess(world.deps, { requester, resource, durationMs: HOUR, reason: 'INC-9 queue stuck' });
  const requestRow = async (id: number) => (await ctx.database.db.select().from(accessRequests).where(eq(accessRequests.id, id)))[0]!;
  const grantOf = async (requestId: number) => ctx.database.db.select().from(grants).where(eq(grants.requestId, requestId));
  const eventsFor = async (requestId: number) => (await evidence(ctx.database.db)).filter((e) => e.requestId === String(requestId) && e.kind !== 'person.seen');
  /** Whatever the click, it changed nothing about the request: same state, same evidence. */
  async function refusedWithoutChange(requestId: number, click: () => Promise<unknown>, code: string) {
    const before = { request: await requestRow(requestId), events: (await evidence(ctx.database.db)).length };
    await expect(click()).rejects.toMatchObject({ name: 'Refusal', reason: { code } });
    expect(await requestRow(requestId)).toEqual(before.request);
    expect((await evidence(ctx.database.db)).length).toBe(before.events);
  }

  it('one eligible approval approves the request and Okta adds the requester to the group', async () => {
    const { requestId } = await ask(ALICE.slack, 'prod-db');
    const outcome = await approveRequest(world.deps, { requestId, approver: BOB.slack });
    expect(outcome).toMatchObject({ kind: 'approved', final: true, approvals: 1, required: 1, grant: { state: 'active' } });
    expect(await requestRow(requestId)).toMatchObject({ state: 'approved', decidedBy: BOB.slack });
    expect((await eventsFor(requestId)).map((e) => [e.kind, e.actor])).toEqual([
      ['request.created', ALICE.slack],
      ['request.approved', BOB.slack],
      ['grant.applied', 'breakglass'],
    ]);
    expect(world.okta.isMember(OKTA_GROUP, ALICE.email)).toBe(true);
    expect((await grantOf(requestId))[0]!.endsAt.toISOString()).toBe('2026-03-02T10:00:00.000Z');
  });

  it('two of three approvers: the same approver twice counts once, and the second person makes it final', async () => {
    const { requestId } = await ask(ALICE.slack, 'prod-admin');
    expect(await approveRequest(world.deps, { requestId, approver: BOB.slack })).toMatchObject({ final: false, approvals: 1, required: 2 });
    expect(await requestRow(requestId)).toMatchObject({ state: 'pending' });
    await refusedWithoutChange(requestId, () => approveRequest(world.deps, { requestId, approver: BOB.slack }), 'already_approved');
    expect(await grantOf(requestId)).toEqual([]);
    expect(await approveRequest(world.deps, { requestId, approver: DAVE.slack })).toMatchObject({ final: true, approvals: 2, grant: { state: 'active' } });
    const approvals = (await eventsFor(requestId)).filter((e) => e.kind === 'request.approved');
    expect(approvals.map((e) => [e.actor, e.details.approvals, e.details.final])).toEqual([
      [BOB.slack, 1, false],
      [DAVE.slack, 2, true],
    ]);
  });

  it('an approver cannot approve their own request, and someone not an approver cannot approve at all', async () => {
    const { requestId } = await ask(BOB.slack, 'prod-db');
    await refusedWithoutChange(requestId, () => approveRequest(world.deps, { requestId, approver: BOB.slack }), 'own_request');
    await refusedWithoutChange(requestId, () => approveRequest(world.deps, { requestId, approver: DAVE.slack }), 'not_request_approver');
    expect(await requestRow(requestId)).toMatchObject({ state: 'pending', decidedBy: null });
  });

  it('of two approvers clicking at once, one decides; a later Approve or Deny changes nothing', async () => {
    const { requestId } = await ask(ALICE.slack, 'prod-db');
    const clicks = await Promise.allSettled([
      approveRequest(world.deps, { requestId, approver: BOB.slack }),
      denyRequest(world.deps, { requestId, approver: CAROL.slack, reason: 'not during the freeze' }),
    ]);
    expect(clicks.filter((c) => c.status === 'fulfilled')).toHaveLength(1);
    expect(clicks.find((c) => c.status === 'rejected')).toMatchObject({ reason: { name: 'Refusal', reason: { code: 'request_decided' } } });
    const decisions = (await eventsFor(requestId)).filter((e) => e.kind === 'request.approved' || e.kind === 'request.denied');
    expect(decisions).toHaveLength(1);
    await refusedWithoutChange(requestId, () => approveRequest(world.deps, { requestId, approver: CAROL.slack }), 'request_decided');
    await refusedWithoutChange(requestId, () => denyRequest(world.deps, { requestId, approver: BOB.slack, reason: 'changed my mind' }), 'request_decided');
  });
});
