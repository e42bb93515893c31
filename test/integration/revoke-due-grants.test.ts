/** The revoke worker: access past its end is removed at Okta and recorded; an Okta outage leaves it retrying, on the record. */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MAX_REVOKE_BACKOFF_MS } from '../../src/app/revoke-retry.ts';
import { revokeDueGrants } from '../../src/app/revoke-due-grants.ts';
import { alerts, grants } from '../../src/db/schema.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { activeGrant, ALICE, BOB, CAROL, evidence, OKTA_GROUP, oktaUseCases, type OktaUseCases } from '../support/okta-use-cases.ts';

const HOUR = 3_600_000;
const ACCESS_YML = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: ${OKTA_GROUP} }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

describeEachDatabase('revoke-due-grants', (ctx) => {
  const clock = new FakeClock('2026-03-02T09:00:00.000Z');
  let world: OktaUseCases;
  beforeAll(async () => {
    world = await oktaUseCases(ctx.database.db, { accessYml: ACCESS_YML, clock });
  });
  afterAll(() => world.okta.close());
  const grantRow = async (id: number) => (await ctx.database.db.select().from(grants).where(eq(grants.id, id)))[0]!;

  it('a grant past its end is removed from the Okta group and grant.revoked recorded, once', async () => {
    const grant = await activeGrant(world.deps, { requester: ALICE, approver: BOB, resource: 'prod-db', durationMs: HOUR });
    clock.advance(HOUR - 1);
    expect(await revokeDueGrants(world.deps)).toBe(0);
    expect(world.okta.isMember(OKTA_GROUP, ALICE.email)).toBe(true);
    clock.advance(1_001);
    const counts = await Promise.all([revokeDueGrants(world.deps), revokeDueGrants(world.deps)]);
    expect(counts.reduce((a, b) => a + b)).toBe(1);
    expect(world.okta.isMember(OKTA_GROUP, ALICE.email)).toBe(false);
    expect(await grantRow(grant.id)).toMatchObject({ state: 'revoked', revokedAt: clock.now(), attempts: 1 });
    const revoked = await evidence(ctx.database.db, 'grant.revoked');
    expect(revoked.map((e) => [e.actor, e.subject, e.details])).toEqual([
      ['breakglass', ALICE.slack, expect.objectContaining({ grant_id: grant.id, reason: 'expired', late_by_ms: 1_000, attempts: 1, provider_call: 'revoked', ends_at: grant.endsAt.toISOString() })],
    ]);
  });

  it('an Okta 500 leaves the grant revoking, the attempt and the error recorded and security alerted; it is revoked once Okta answers', async () => {
    const grant = await activeGrant(world.deps, { requester: CAROL, approver: BOB, resource: 'prod-db', durationMs: HOUR });
    clock.advance(HOUR);
    const heal = world.okta.failWhen((r) => r.method === 'DELETE', 500);
    expect(await revokeDueGrants(world.deps)).toBe(0);
    const failing = await grantRow(grant.id);
    expect(failing).toMatchObject({ state: 'revoking', attempts: 1, revokedAt: null });
    expect(failing.lastError).toMatch(/500|Internal Server Error/);
    expect(failing.nextAttemptAt!.getTime() - clock.now().getTime()).toBeLessThanOrEqual(MAX_REVOKE_BACKOFF_MS);
    expect(world.okta.isMember(OKTA_GROUP, CAROL.email)).toBe(true);
    const [failed] = await evidence(ctx.database.db, 'grant.revoke_failed');
    expect(failed).toMatchObject({ subject: CAROL.slack, details: { grant_id: grant.id, attempts: 1, retrying: true } });
    expect((await ctx.database.db.select().from(alerts)).filter((a) => a.kind === 'revoke_failed').map((a) => a.grantId)).toEqual([grant.id]);

    clock.set(failing.nextAttemptAt!);
    expect(await revokeDueGrants(world.deps)).toBe(0);
    expect(await grantRow(grant.id)).toMatchObject({ state: 'revoking', attempts: 2 });
    // One outage, one alert and one grant.revoke_failed: later retries only update the row.
    expect(await evidence(ctx.database.db, 'grant.revoke_failed')).toHaveLength(1);

    heal();
    clock.advance(MAX_REVOKE_BACKOFF_MS);
    expect(await revokeDueGrants(world.deps)).toBe(1);
    expect(world.okta.isMember(OKTA_GROUP, CAROL.email)).toBe(false);
    expect(await grantRow(grant.id)).toMatchObject({ state: 'revoked', attempts: 3, lastError: null });
    expect((await evidence(ctx.database.db, 'grant.revoked')).at(-1)).toMatchObject({ subject: CAROL.slack, details: { grant_id: grant.id, reason: 'expired', attempts: 3 } });
  });
});
