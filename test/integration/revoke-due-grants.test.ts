/**
 * The revoke worker: access past its end is removed at Okta and recorded; an Okta outage leaves it
 * retrying, on the record. The access being gone is observed by a listing after the revoke, which
 * the access inventory records with it.
 */
import { desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { reconcileDrift } from '../../src/app/reconcile-drift.ts';
import { MAX_REVOKE_BACKOFF_MS } from '../../src/app/revoke-retry.ts';
import { revokeDueGrants } from '../../src/app/revoke-due-grants.ts';
import { alerts, grants, inventoryListings } from '../../src/db/schema.ts';
import { readTimeline } from '../../src/reports/access/access-record.ts';
import { accessBetween, accessToJson } from '../../src/reports/access/access-render.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { activeGrant, ALICE, BOB, CAROL, DAVE, evidence, OKTA_GROUP, oktaUseCases, type OktaUseCases, type Person } from '../support/okta-use-cases.ts';

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

  /** Okta's listings of the group (GET …/groups/{id}/users), for counting the calls a pass makes. */
  const listings = () => world.okta.requests.filter((r) => r.method === 'GET' && r.path === `/api/v1/groups/${OKTA_GROUP}/users`).length;
  const eventsSince = async (seq: number) => (await evidence(ctx.database.db)).filter((e) => e.seq > seq);
  const lastSeq = async () => (await evidence(ctx.database.db)).at(-1)?.seq ?? 0;
  /** What `access --format json` says of one person's grant intervals on prod-db over the whole story. */
  const intervalsOf = async (person: Person) => {
    const answer = accessToJson(accessBetween(await readTimeline(ctx.database.db), new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z'), 'prod-db'));
    return (answer.intervals as Array<Record<string, any>>).filter((i) => i.aliases.includes(person.slack) && i.basis.kind === 'grant');
  };

  it('revokes are observed by one listing after them: grant.revoked says it saw the access gone, and the inventory records it gone with the revokes', async () => {
    const alice = await activeGrant(world.deps, { requester: ALICE, approver: BOB, resource: 'prod-db', durationMs: HOUR });
    const dave = await activeGrant(world.deps, { requester: DAVE, approver: BOB, resource: 'prod-db', durationMs: HOUR });
    clock.advance(10 * 60_000);
    await reconcileDrift(world.deps);
    const drift = (await evidence(ctx.database.db, 'access.observed')).filter((e) => e.details.source === 'drift');
    expect(drift.map((e) => [e.details.principal, e.details.basis_hint])).toEqual([
      [ALICE.email, 'grant'],
      [DAVE.email, 'grant'],
    ]);
    const driftAt = drift[0]!.details.listed_at as string;

    clock.advance(HOUR);
    const before = { seq: await lastSeq(), listings: listings() };
    expect(await revokeDueGrants(world.deps)).toBe(2);
    expect(world.okta.memberLogins(OKTA_GROUP)).toEqual([]);
    // Two revokes of one group, one listing.
    expect(listings() - before.listings).toBe(1);
    const recorded = await eventsSince(before.seq);
    const listedAt = clock.now().toISOString();
    expect(recorded.filter((e) => e.kind === 'grant.revoked').map((e) => [e.subject, e.details])).toEqual([
      [ALICE.slack, expect.objectContaining({ grant_id: alice.id, reason: 'expired', provider_call: 'revoked', verified: true, listed_at: listedAt })],
      [DAVE.slack, expect.objectContaining({ grant_id: dave.id, reason: 'expired', provider_call: 'revoked', verified: true, listed_at: listedAt })],
    ]);
    // The inventory's events commit with the revokes they confirm: nothing else between them.
    expect(recorded.filter((e) => e.kind.startsWith('grant.') || e.kind.startsWith('access.')).map((e) => e.kind)).toEqual(['grant.revoked', 'grant.revoked', 'access.gone', 'access.gone']);
    const gone = recorded.filter((e) => e.kind === 'access.gone').map((e) => e.details);
    expect(gone.sort((a, b) => String(a.principal).localeCompare(String(b.principal)))).toEqual([
      expect.objectContaining({ principal: ALICE.email, source: 'revoke', listed_at: listedAt, last_seen_at: driftAt }),
      expect.objectContaining({ principal: DAVE.email, source: 'revoke', listed_at: listedAt, last_seen_at: driftAt }),
    ]);
    const [ended] = (await intervalsOf(DAVE)).filter((i) => i.basis.grant_id === String(dave.id));
    expect(ended).toMatchObject({ to: clock.now().toISOString(), ended: { how: 'expired', by: 'breakglass', seen_gone_at: listedAt, last_seen_at: driftAt } });
  });

  it('a listing after a revoke that changes nothing writes no inventory event, and grant.revoked still says when the access was seen gone', async () => {
    // Never listed while it ran: the inventory never held it, so the listing after finds nothing new.
    const carol = await activeGrant(world.deps, { requester: CAROL, approver: BOB, resource: 'prod-db', durationMs: HOUR });
    clock.advance(HOUR);
    const seq = await lastSeq();
    expect(await revokeDueGrants(world.deps)).toBe(1);
    const listedAt = clock.now().toISOString();
    expect((await eventsSince(seq)).map((e) => e.kind).filter((k) => k.startsWith('access.'))).toEqual([]);
    expect((await evidence(ctx.database.db, 'grant.revoked')).at(-1)?.details).toMatchObject({ grant_id: carol.id, verified: true, listed_at: listedAt });
    const [latest] = await ctx.database.db.select().from(inventoryListings).where(eq(inventoryListings.resource, 'prod-db')).orderBy(desc(inventoryListings.coveredTo)).limit(1);
    expect(latest?.coveredTo.toISOString()).toBe(listedAt);
    const [interval] = (await intervalsOf(CAROL)).filter((i) => i.basis.grant_id === String(carol.id));
    expect(interval?.ended).toMatchObject({ how: 'expired', seen_gone_at: listedAt, last_seen_at: null });
  });

  it('a revoke Okta answers 404 is confirmed by the provider\'s own listing, which is recorded rather than taken twice', async () => {
    const dave = await activeGrant(world.deps, { requester: DAVE, approver: BOB, resource: 'prod-db', durationMs: HOUR });
    clock.advance(10 * 60_000);
    await reconcileDrift(world.deps);
    world.okta.removeMember(OKTA_GROUP, DAVE.email); // gone already, so Okta answers the removal 404
    const heal = world.okta.failWhen((r) => r.method === 'DELETE', 404);
    try {
      clock.advance(HOUR);
      const before = { seq: await lastSeq(), listings: listings() };
      expect(await revokeDueGrants(world.deps)).toBe(1);
      expect(listings() - before.listings).toBe(1);
      const recorded = await eventsSince(before.seq);
      expect(recorded.find((e) => e.kind === 'grant.revoked')?.details).toMatchObject({ grant_id: dave.id, verified: true, listed_at: clock.now().toISOString() });
      expect(recorded.find((e) => e.kind === 'access.gone')?.details).toMatchObject({ principal: DAVE.email, source: 'revoke' });
    } finally {
      heal();
    }
  });

  it('a listing that fails after a revoke leaves it revoked but not verified; the next drift pass sees the access gone, and the access record says so', async () => {
    const alice = await activeGrant(world.deps, { requester: ALICE, approver: BOB, resource: 'prod-db', durationMs: HOUR });
    clock.advance(10 * 60_000);
    await reconcileDrift(world.deps);
    const heal = world.okta.failWhen((r) => r.method === 'GET' && r.path === `/api/v1/groups/${OKTA_GROUP}/users`, 500);
    let seq: number;
    try {
      clock.advance(HOUR);
      seq = await lastSeq();
      expect(await revokeDueGrants(world.deps)).toBe(1);
    } finally {
      heal();
    }
    expect(world.okta.isMember(OKTA_GROUP, ALICE.email)).toBe(false);
    expect(await grantRow(alice.id)).toMatchObject({ state: 'revoked' });
    const recorded = await eventsSince(seq);
    expect(recorded.find((e) => e.kind === 'grant.revoked')?.details).toMatchObject({ grant_id: alice.id, verified: false, listed_at: null, listing_error: expect.stringMatching(/500|Internal Server Error/) });
    expect(recorded.filter((e) => e.kind.startsWith('access.'))).toEqual([]);

    clock.advance(5 * 60_000);
    await reconcileDrift(world.deps);
    const gone = (await evidence(ctx.database.db, 'access.gone')).at(-1)!;
    expect(gone.details).toMatchObject({ principal: ALICE.email, source: 'drift', listed_at: clock.now().toISOString() });
    const [interval] = (await intervalsOf(ALICE)).filter((i) => i.basis.grant_id === String(alice.id));
    expect(interval?.ended).toMatchObject({ how: 'expired', seen_gone_at: gone.details.listed_at, last_seen_at: gone.details.last_seen_at });
  });
});
