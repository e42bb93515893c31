/** A request nobody decided within its request_ttl expires: once, with evidence, however many workers look at once. */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { approveRequest } from '../../src/app/decide-request.ts';
import { expireRequests } from '../../src/app/expire-requests.ts';
import { remindPendingApprovers } from '../../src/app/remind-due.ts';
import { requestAccess } from '../../src/app/request-access.ts';
import { accessRequests, outbox } from '../../src/db/schema.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { ALICE, BOB, CAROL, evidence, OKTA_GROUP, oktaUseCases, type OktaUseCases } from '../support/okta-use-cases.ts';

const MINUTE = 60_000;
const ACCESS_YML = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: ${OKTA_GROUP} }
    max_duration: 4h
    request_ttl: 30m
    approvers: { slack_users: [U0BOB] }
`;

describeEachDatabase('expire-requests', (ctx) => {
  const clock = new FakeClock('2026-03-02T09:00:00.000Z');
  let world: OktaUseCases;
  beforeAll(async () => {
    world = await oktaUseCases(ctx.database.db, { accessYml: ACCESS_YML, clock });
  });
  afterAll(() => world.okta.close());
  const stateOf = async (id: number) => (await ctx.database.db.select().from(accessRequests).where(eq(accessRequests.id, id)))[0]!.state;

  it('a pending request past its pendingUntil expires once, even with two workers at once; a younger one waits on', async () => {
    const old = await requestAccess(world.deps, { requester: ALICE.slack, resource: 'prod-db', durationMs: MINUTE * 60, reason: 'INC-3' });
    clock.advance(10 * MINUTE);
    const young = await requestAccess(world.deps, { requester: CAROL.slack, resource: 'prod-db', durationMs: MINUTE * 60, reason: 'INC-4' });
    clock.advance(20 * MINUTE - 1);
    expect(await expireRequests(world.deps)).toBe(0);
    clock.advance(1);
    const counts = await Promise.all([expireRequests(world.deps), expireRequests(world.deps)]);
    expect(counts.reduce((a, b) => a + b)).toBe(1);
    expect(await stateOf(old.requestId)).toBe('expired');
    expect(await stateOf(young.requestId)).toBe('pending');
    const expired = await evidence(ctx.database.db, 'request.expired');
    expect(expired.map((e) => [e.requestId, e.actor, e.subject, e.details.pending_until])).toEqual([[String(old.requestId), 'breakglass', ALICE.slack, '2026-03-02T09:30:00.000Z']]);
    const told = (await ctx.database.db.select().from(outbox)).map((m) => m.message).filter((m) => m.type === 'notify_user');
    expect(told).toEqual([{ type: 'notify_user', user: ALICE.slack, notification: { kind: 'request_expired', requestId: old.requestId, resource: 'prod-db' } }]);
    expect(await expireRequests(world.deps)).toBe(0);
  });

  it('an Approve on an expired request is refused and grants nothing', async () => {
    const [expired] = await evidence(ctx.database.db, 'request.expired');
    const requestId = Number(expired!.requestId);
    await expect(approveRequest(world.deps, { requestId, approver: BOB.slack })).rejects.toMatchObject({ reason: { code: 'request_decided', state: 'expired' } });
    expect(await evidence(ctx.database.db, 'request.approved')).toEqual([]);
    expect(world.okta.memberLogins(OKTA_GROUP)).toEqual([]);
  });

  it('a request past its request_ttl that has not expired yet is not reminded to its approvers: it is expiring, not waiting', async () => {
    const late = await requestAccess(world.deps, { requester: CAROL.slack, resource: 'prod-db', durationMs: MINUTE * 60, reason: 'INC-5' });
    // The reminder worker and the expiry worker both find it due when a clock jumps past its end.
    clock.advance(31 * MINUTE);
    expect(await remindPendingApprovers(world.deps)).toBe(0);
    expect((await evidence(ctx.database.db, 'reminder.sent')).filter((e) => e.requestId === String(late.requestId))).toEqual([]);
    await expireRequests(world.deps);
    expect(await stateOf(late.requestId)).toBe('expired');
  });
});
