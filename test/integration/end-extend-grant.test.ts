/** Ending access early and extending it, as the use cases see them: who ended it and when, and where the end moved. */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { approveRequest } from '../../src/app/decide-request.ts';
import { endGrant } from '../../src/app/end-grant.ts';
import { requestExtension } from '../../src/app/request-access.ts';
import { revokeDueGrants } from '../../src/app/revoke-due-grants.ts';
import { grants } from '../../src/db/schema.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { activeGrant, ALICE, BOB, CAROL, DAVE, evidence, OKTA_GROUP, oktaUseCases, SECURITY, type OktaUseCases, type Person } from '../support/okta-use-cases.ts';

const HOUR = 3_600_000;
const ACCESS_YML = `security_channel: C0SEC
security: { slack_users: [U0SEC] }
resources:
  prod-db:
    grant: { okta_group: ${OKTA_GROUP} }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

describeEachDatabase('end-grant and extend-grant', (ctx) => {
  const clock = new FakeClock('2026-03-02T09:00:00.000Z');
  let world: OktaUseCases;
  beforeAll(async () => {
    world = await oktaUseCases(ctx.database.db, { accessYml: ACCESS_YML, clock });
  });
  afterAll(() => world.okta.close());
  const grantRow = async (id: number) => (await ctx.database.db.select().from(grants).where(eq(grants.id, id)))[0]!;
  const grantFor = (requester: Person) => activeGrant(world.deps, { requester, approver: BOB, resource: 'prod-db', durationMs: 2 * HOUR });

  it('the holder ends access early: who and the end they cut short are recorded, and Okta drops them at the revoke', async () => {
    const grant = await grantFor(ALICE);
    clock.advance(30 * 60_000);
    await expect(endGrant(world.deps, { requestId: grant.requestId, user: CAROL.slack })).rejects.toMatchObject({ reason: { code: 'no_active_access' } });
    expect(await grantRow(grant.id)).toEqual(grant);
    await endGrant(world.deps, { requestId: grant.requestId, user: ALICE.slack });
    expect(await grantRow(grant.id)).toMatchObject({ endsAt: clock.now(), revokeReason: 'ended', revokeRequestedBy: ALICE.slack });
    const [asked] = await evidence(ctx.database.db, 'grant.end_requested');
    expect(asked).toMatchObject({ actor: ALICE.slack, subject: ALICE.slack, details: { grant_id: grant.id, scheduled_end: '2026-03-02T11:00:00.000Z', by_security: false } });
    await expect(endGrant(world.deps, { requestId: grant.requestId, user: ALICE.slack })).rejects.toMatchObject({ reason: { code: 'access_already_ending' } });
    expect(await revokeDueGrants(world.deps)).toBe(1);
    expect(world.okta.isMember(OKTA_GROUP, ALICE.email)).toBe(false);
    const [revoked] = await evidence(ctx.database.db, 'grant.revoked');
    expect(revoked).toMatchObject({ actor: ALICE.slack, details: { grant_id: grant.id, reason: 'ended', provider_call: 'revoked' } });
  });

  it("security may end someone else's access, and that is what the record says", async () => {
    const grant = await grantFor(DAVE);
    await endGrant(world.deps, { grantId: grant.id, user: SECURITY.slack });
    const asked = (await evidence(ctx.database.db, 'grant.end_requested')).at(-1)!;
    expect(asked).toMatchObject({ actor: SECURITY.slack, subject: DAVE.slack, details: { grant_id: grant.id, by_security: true } });
    expect(await grantRow(grant.id)).toMatchObject({ revokeRequestedBy: SECURITY.slack });
  });

  it('an approved extension moves the end by its duration and re-grants at Okta', async () => {
    const grant = await grantFor(CAROL);
    const extension = await requestExtension(world.deps, { requester: CAROL.slack, requestId: grant.requestId, durationMs: HOUR });
    expect(await grantRow(grant.id)).toMatchObject({ endsAt: grant.endsAt });
    const puts = () => world.okta.requests.filter((r) => r.method === 'PUT').length;
    const before = puts();
    expect(await approveRequest(world.deps, { requestId: extension.requestId, approver: BOB.slack })).toMatchObject({ extension: true, grant: { state: 'active' } });
    expect(puts()).toBe(before + 1);
    expect(await grantRow(grant.id)).toMatchObject({ state: 'active', endsAt: new Date(grant.endsAt.getTime() + HOUR), extensionRequestId: null });
    const [extended] = await evidence(ctx.database.db, 'grant.extended');
    expect(extended).toMatchObject({
      requestId: String(extension.requestId),
      details: { grant_id: grant.id, original_request_id: grant.requestId, previous_ends_at: grant.endsAt.toISOString(), ends_at: new Date(grant.endsAt.getTime() + HOUR).toISOString(), extended_by: '1h' },
    });
  });

  it('an extension Okta refuses leaves the end where it was, with grant.failed on record', async () => {
    const grant = await grantFor(ALICE);
    const extension = await requestExtension(world.deps, { requester: ALICE.slack, requestId: grant.requestId, durationMs: HOUR });
    const heal = world.okta.failWhen((r) => r.method === 'PUT', 500);
    try {
      expect(await approveRequest(world.deps, { requestId: extension.requestId, approver: BOB.slack })).toMatchObject({ grant: { state: 'failed' } });
    } finally {
      heal();
    }
    expect(await grantRow(grant.id)).toMatchObject({ state: 'active', endsAt: grant.endsAt, extensionRequestId: null });
    const failed = (await evidence(ctx.database.db, 'grant.failed')).at(-1)!;
    expect(failed).toMatchObject({ requestId: String(extension.requestId), details: { grant_id: grant.id, extension: true, ends_at: grant.endsAt.toISOString() } });
    expect(world.okta.isMember(OKTA_GROUP, ALICE.email)).toBe(true);
  });
});
