import { randomInt } from 'node:crypto';
import { and, eq, getTableColumns, gt, inArray, isNotNull, ne, not, or, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Clock } from '../ports.ts';
import type { Database, Db } from './client.ts';
import { grants, offboardings, reviewItems } from './schema.ts';

/**
 * A lease is a time (grants.next_attempt_at, review_items.revoke_next_at, offboardings.next_check_at):
 * a process killed while holding one leaves the row alone until that time passes, up to 30 s in
 * which an expired grant keeps its access, a new grant waits, a review's Revoke or a leaver's
 * check waits. Time alone cannot tell a dead holder from a slow one. The database can: each bot
 * holds a session advisory lock on a key of its own for as long as it runs, and writes that key
 * beside every lease it takes. A session ends when its process dies (the operating system closes
 * the connection), so a lease whose holder's lock is gone was left by a process that is gone, and
 * a starting bot takes it over at once rather than waiting out the time. A live replica's lock is
 * there, so its leases are never taken; a process without a key (the CLI) leases by time alone.
 */
export interface LeaseHolder {
  /** Written beside each lease this process takes (grants.lease_holder, …). */
  readonly key: number;
}

/** Where a table keeps leases: the lease's time, its holder, and when the time is a lease at all. */
interface LeasedRows {
  table: PgTable;
  id: AnyPgColumn;
  until: AnyPgColumn;
  holder: AnyPgColumn;
  /** The rows whose time is a lease (while the holder is set); in other states the holder is not read. */
  leased: SQL;
}

/** Every lease a bot writes its key beside. */
const LEASES = {
  grants: { table: grants, id: grants.id, until: grants.nextAttemptAt, holder: grants.leaseHolder, leased: inArray(grants.state, ['granting', 'checking', 'extending', 'revoking']) },
  reviewRevokes: { table: reviewItems, id: reviewItems.id, until: reviewItems.revokeNextAt, holder: reviewItems.revokeLeaseHolder, leased: eq(reviewItems.revokeState, 'pending') },
  offboardingChecks: { table: offboardings, id: offboardings.id, until: offboardings.nextCheckAt, holder: offboardings.leaseHolder, leased: eq(offboardings.state, 'open') },
} satisfies Record<string, LeasedRows>;

export type TakenOver = Record<keyof typeof LEASES, number[]>;

/**
 * On PostgreSQL, how long a holder's lock must stay gone before its leases are taken: when the
 * server restarts every session ends, live ones too, and a live bot takes its lock again within a
 * second of reconnecting (client.ts); only a holder still without it after this is gone. PGlite has
 * one process by construction (its folder's lock), so any other holder is gone at once.
 */
export const TAKEOVER_CONFIRM_MS = 3_000;

/**
 * Draws this process's key and holds its lock for the life of the database connection. Keys are
 * random below 2^48 (exact as JavaScript numbers); two live processes drawing the same one is
 * unlikely, and would only make a gone holder look alive: its leases then run out by time.
 */
export async function holdLeaseKey(database: Database): Promise<LeaseHolder> {
  const key = randomInt(1, 2 ** 48);
  await database.holdSessionLock(key);
  return { key };
}

/** SQL: the lease holder in `column` holds its lock now, in this database (its process is up). */
function holderAlive(column: AnyPgColumn): SQL {
  return sql`exists (select 1 from pg_locks l where l.locktype = 'advisory' and l.granted and l.objsubid = 1 and l.database = (select oid from pg_database where datname = current_database()) and ((l.classid::bigint << 32) | l.objid::bigint) = ${column})`;
}

/**
 * Frees the leases of processes that are gone (see LeaseHolder): grants, review revokes and
 * offboarding checks, due now for the workers to claim as their own. A holder must be gone at two
 * looks `confirmAfterMs` apart, and a lease that changed in between (renewed, or claimed by another
 * replica after it ran out) is left alone. Returns the ids freed, by kind.
 */
export async function takeOverGoneLeases(db: Db, clock: Clock, me: LeaseHolder, options: { confirmAfterMs: number }): Promise<TakenOver> {
  const kinds = Object.entries(LEASES) as Array<[keyof typeof LEASES, LeasedRows]>;
  const gone = (l: LeasedRows) => and(l.leased, isNotNull(l.holder), ne(l.holder, me.key), not(holderAlive(l.holder)));
  const now = clock.now();
  const seen = await Promise.all(
    kinds.map(async ([, l]) => (await db.select({ id: l.id, holder: l.holder, until: l.until }).from(l.table).where(and(gone(l), gt(l.until, now)))) as Array<{ id: number; holder: number; until: Date }>),
  );
  const taken = Object.fromEntries(kinds.map(([kind]) => [kind, [] as number[]])) as TakenOver;
  if (seen.every((rows) => rows.length === 0)) return taken;
  if (options.confirmAfterMs > 0) await new Promise((resolve) => setTimeout(resolve, options.confirmAfterMs));
  for (const [index, [kind, l]] of kinds.entries()) {
    const rows = seen[index]!;
    if (rows.length === 0) continue;
    const unchanged = or(...rows.map((row) => and(eq(l.id, row.id), eq(l.holder, row.holder), eq(l.until, row.until))));
    const freed = (await db
      .update(l.table)
      .set({ [columnKey(l.table, l.until)]: clock.now(), [columnKey(l.table, l.holder)]: null })
      .where(and(gone(l), unchanged))
      .returning({ id: l.id })) as Array<{ id: number }>;
    taken[kind] = freed.map((row) => row.id);
  }
  return taken;
}

/** The property name drizzle's `set` takes for a column of the table. */
function columnKey(table: PgTable, column: AnyPgColumn): string {
  const entry = Object.entries(getTableColumns(table)).find(([, c]) => c === column);
  if (!entry) throw new Error(`${column.name} is not a column of this table`);
  return entry[0];
}
