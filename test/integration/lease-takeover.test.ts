/**
 * Taking over the grant leases of processes that are gone (db/lease-holder.ts): a lease is freed only
 * when its holder's session lock is absent at both looks and the lease did not change in between;
 * a live holder's lease, this process's own, a backoff, a person's task and a lapsed lease are left
 * alone. On PostgreSQL the holders are real other sessions: one that ends is gone, and the lock a
 * bot holds is taken again after the server ends its session (a restart), so it never looks gone
 * for longer than the confirmation allows. The crash-safety e2e test kills real bot processes.
 */
import { eq, sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { takeOverGoneLeases, type LeaseHolder, type TakenOver } from '../../src/db/lease-holder.ts';
import { grants, offboardings, reviewCampaigns, reviewItems } from '../../src/db/schema.ts';
import type { GrantState } from '../../src/domain/grant-states.ts';
import { createPostgresDatabase, describeEachDatabase, postgresAvailable } from '../support/databases.ts';
import { leasedGrant } from '../support/leased-grant.ts';

const clock = { now: () => new Date() };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let nextKey = 1_000 + Math.floor(Math.random() * 1_000_000) * 1_000;
const key = () => ++nextKey;

/** A grant in `state`, leased by `holder` for `leaseMs` from now (negative: lapsed that long ago). */
function grantLeasedFor(database: Database, row: { state: GrantState; holder: number | null; leaseMs: number }): Promise<number> {
  return leasedGrant(database.db, { state: row.state, holder: row.holder, until: new Date(Date.now() + row.leaseMs) });
}

let nextSeq = 1_000_000;

/** A review line whose Revoke is pending under a lease (the click's or the worker's). */
async function leasedReviewRevoke(database: Database, row: { holder: number | null; leaseMs: number; state?: 'pending' | 'revoked' }): Promise<number> {
  const now = new Date();
  const [campaign] = await database.db
    .insert(reviewCampaigns)
    .values({ period: `T-${++nextSeq}`, scope: ['prod-db'], scopeKey: `t-${nextSeq}`, trigger: 'manual', requestedBy: 'U0SEC', requestedAt: now, state: 'open' })
    .returning({ id: reviewCampaigns.id });
  const [item] = await database.db
    .insert(reviewItems)
    .values({ campaignId: campaign!.id, resource: 'prod-db', principal: 'erin@example.com', route: 'manager', decision: 'revoke', revokeState: row.state ?? 'pending', revokeNextAt: new Date(now.getTime() + row.leaseMs), revokeLeaseHolder: row.holder })
    .returning({ id: reviewItems.id });
  return item!.id;
}

/** An open offboarding whose check is claimed under a lease. */
async function leasedOffboardingCheck(database: Database, row: { holder: number | null; leaseMs: number }): Promise<number> {
  const [offboarding] = await database.db
    .insert(offboardings)
    .values({ detectedSeq: ++nextSeq, subject: `leaver${nextSeq}@example.com`, nextCheckAt: new Date(Date.now() + row.leaseMs), leaseHolder: row.holder })
    .returning({ id: offboardings.id });
  return offboarding!.id;
}

const NOTHING: TakenOver = { grants: [], reviewRevokes: [], offboardingChecks: [] };

const leaseOf = async (database: Database, id: number) => (await database.db.select({ at: grants.nextAttemptAt, holder: grants.leaseHolder }).from(grants).where(eq(grants.id, id)))[0]!;

describeEachDatabase('taking over the leases of gone processes', (ctx) => {
  let me: LeaseHolder;
  beforeAll(async () => {
    me = { key: key() };
    await ctx.database.holdSessionLock(me.key);
  });

  it('frees the leases of a holder without its lock, in every leased state, and nothing else', async () => {
    // A live holder: another replica's lock, held by a session that stays up (on PGlite, the one session).
    const live = key();
    await ctx.database.holdSessionLock(live);
    const gone = key();
    const freedIds = [
      await grantLeasedFor(ctx.database, { state: 'granting', holder: gone, leaseMs: 30_000 }),
      await grantLeasedFor(ctx.database, { state: 'checking', holder: gone, leaseMs: 30_000 }),
      await grantLeasedFor(ctx.database, { state: 'extending', holder: gone, leaseMs: 30_000 }),
      await grantLeasedFor(ctx.database, { state: 'revoking', holder: gone, leaseMs: 30_000 }),
    ];
    const kept = {
      live: await grantLeasedFor(ctx.database, { state: 'revoking', holder: live, leaseMs: 30_000 }),
      mine: await grantLeasedFor(ctx.database, { state: 'granting', holder: me.key, leaseMs: 30_000 }),
      // A backoff or a person's task: no process holds it.
      nobody: await grantLeasedFor(ctx.database, { state: 'revoking', holder: null, leaseMs: 30_000 }),
      // Only the leased states read the holder.
      active: await grantLeasedFor(ctx.database, { state: 'active', holder: gone, leaseMs: 30_000 }),
      // Already due: nothing to take over.
      lapsed: await grantLeasedFor(ctx.database, { state: 'granting', holder: gone, leaseMs: -1_000 }),
    };
    const before = Object.fromEntries(await Promise.all(Object.entries(kept).map(async ([name, id]) => [name, await leaseOf(ctx.database, id)])));
    const reviewRevokes = { gone: await leasedReviewRevoke(ctx.database, { holder: gone, leaseMs: 30_000 }), live: await leasedReviewRevoke(ctx.database, { holder: live, leaseMs: 30_000 }), done: await leasedReviewRevoke(ctx.database, { holder: gone, leaseMs: 30_000, state: 'revoked' }) };
    const checks = { gone: await leasedOffboardingCheck(ctx.database, { holder: gone, leaseMs: 30_000 }), live: await leasedOffboardingCheck(ctx.database, { holder: live, leaseMs: 30_000 }), scheduled: await leasedOffboardingCheck(ctx.database, { holder: null, leaseMs: 30_000 }) };

    const taken = await takeOverGoneLeases(ctx.database.db, clock, me, { confirmAfterMs: 0 });
    expect({ ...taken, grants: [...taken.grants].sort((a, b) => a - b) }).toEqual({ grants: freedIds, reviewRevokes: [reviewRevokes.gone], offboardingChecks: [checks.gone] });
    const [line] = await ctx.database.db.select().from(reviewItems).where(eq(reviewItems.id, reviewRevokes.gone));
    expect(line!.revokeLeaseHolder).toBeNull();
    expect(line!.revokeNextAt!.getTime()).toBeLessThanOrEqual(Date.now());
    const [check] = await ctx.database.db.select().from(offboardings).where(eq(offboardings.id, checks.gone));
    expect(check!.leaseHolder).toBeNull();
    expect(check!.nextCheckAt.getTime()).toBeLessThanOrEqual(Date.now());
    for (const id of freedIds) {
      const lease = await leaseOf(ctx.database, id);
      expect(lease.holder).toBeNull();
      expect(lease.at!.getTime()).toBeLessThanOrEqual(Date.now());
    }
    for (const [name, id] of Object.entries(kept)) expect(await leaseOf(ctx.database, id), name).toEqual(before[name]);
  });

  it('leaves a lease that changed between the two looks, and a holder that took its lock again meanwhile', async () => {
    const gone = key();
    const renewed = await grantLeasedFor(ctx.database, { state: 'revoking', holder: gone, leaseMs: 30_000 });
    const back = key();
    const returning = await grantLeasedFor(ctx.database, { state: 'granting', holder: back, leaseMs: 30_000 });
    const taking = takeOverGoneLeases(ctx.database.db, clock, me, { confirmAfterMs: 2_000 });
    await sleep(500);
    // Another replica claimed the first after it ran out; the second's holder reconnected and locked again.
    const claimer = key();
    await ctx.database.holdSessionLock(claimer);
    const theirs = new Date(Date.now() + 60_000);
    await ctx.database.db.update(grants).set({ nextAttemptAt: theirs, leaseHolder: claimer }).where(eq(grants.id, renewed));
    await ctx.database.holdSessionLock(back);
    expect(await taking).toEqual(NOTHING);
    expect((await leaseOf(ctx.database, renewed)).at).toEqual(theirs);
    expect((await leaseOf(ctx.database, returning)).holder).toBe(back);
  });
});

describe.skipIf(!postgresAvailable)('lease holders are PostgreSQL sessions [postgres]', () => {
  let url: string;
  let drop: () => Promise<void>;
  let database: Database;
  const me: LeaseHolder = { key: key() };
  beforeAll(async () => {
    ({ url, drop } = await createPostgresDatabase({ migrated: true }));
    database = await openDatabase({ databaseUrl: url, dataDir: '', holder: 'test' });
    await database.holdSessionLock(me.key);
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it("never frees a live replica's lease; frees it once that replica's session is gone", async () => {
    const replica = postgres(url, { max: 1, onnotice: () => {} });
    const theirs = key();
    await replica`select pg_advisory_lock(${String(theirs)}::bigint)`;
    const id = await grantLeasedFor(database, { state: 'revoking', holder: theirs, leaseMs: 30_000 });
    expect(await takeOverGoneLeases(database.db, clock, me, { confirmAfterMs: 200 })).toEqual(NOTHING);
    // kill -9 of that replica: its connection closes and the server ends the session.
    await replica.end({ timeout: 1 });
    expect(await takeOverGoneLeases(database.db, clock, me, { confirmAfterMs: 200 })).toEqual({ ...NOTHING, grants: [id] });
  });

  it('takes its lock again after the server ends its session, within the confirmation window', async () => {
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const id = await grantLeasedFor(database, { state: 'granting', holder: me.key, leaseMs: 30_000 });
      const lockHolders = () => admin<Array<{ pid: number }>>`select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1 and ((classid::bigint << 32) | objid::bigint) = ${String(me.key)}::bigint`;
      const [before] = await lockHolders();
      expect(before).toBeDefined();
      await admin`select pg_terminate_backend(${before!.pid})`;
      // The signal is sent at once; the session ends (its lock with it) when its backend gets to it,
      // which on a loaded machine can come after a first look that would still find it alive.
      for (let waited = 0; (await admin`select 1 from pg_stat_activity where pid = ${before!.pid}`).length > 0; waited += 20) {
        if (waited > 5_000) throw new Error(`backend ${before!.pid} still there 5 s after pg_terminate_backend`);
        await sleep(20);
      }
      // Another bot starting now finds it gone at the first look (or already back), and back before the second.
      const other: LeaseHolder = { key: key() };
      expect(await takeOverGoneLeases(database.db, clock, other, { confirmAfterMs: 3_000 })).toEqual(NOTHING);
      const [after] = await lockHolders();
      expect(after!.pid).not.toBe(before!.pid);
      expect((await leaseOf(database, id)).holder).toBe(me.key);
    } finally {
      await admin.end({ timeout: 1 });
    }
  });

  it('keeps the lock on a connection of its own, not in the pool', async () => {
    const rows = await database.db.execute(sql`select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid where l.locktype = 'advisory' and a.application_name = 'breakglass lease holder' and a.datname = current_database()`);
    const n = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows)[0] as { n: number };
    expect(n.n).toBeGreaterThanOrEqual(1);
  });
});
