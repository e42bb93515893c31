import type { SQL } from 'drizzle-orm';
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Db, Tx } from './client.ts';

/** Which rows of which table are due, and what claiming them means. */
export interface DueRows<Claimed> {
  table: PgTable;
  /** The table's integer primary key. */
  id: AnyPgColumn;
  isDue: SQL | undefined;
  /** Oldest first by default (the primary key). */
  orderBy?: AnyPgColumn;
  limit: number;
  /**
   * `wait` when the caller already holds a lease on these rows, so a lock held now is a concurrent
   * click that commits at once; otherwise another replica is working the row and it is skipped.
   */
  whenLocked?: 'skip' | 'wait';
  /** Leases, transitions or finishes the locked rows, in the transaction that locked them. */
  claim: (tx: Tx, ids: number[]) => Promise<Claimed[]>;
}

/**
 * The lease pattern every worker uses: a plain probe (most ticks find nothing, and on PGlite a
 * transaction would hold its only connection), then `FOR UPDATE SKIP LOCKED` so replicas split the
 * due rows and never take one twice, then `claim` in the same transaction.
 */
export async function claimDue<Claimed>(db: Db, due: DueRows<Claimed>): Promise<Claimed[]> {
  const probe = await db.select({ id: due.id }).from(due.table).where(due.isDue).limit(1);
  if (probe.length === 0) return [];
  return db.transaction(async (tx) => {
    const locked = await tx
      .select({ id: due.id })
      .from(due.table)
      .where(due.isDue)
      .orderBy(due.orderBy ?? due.id)
      .limit(due.limit)
      .for('update', due.whenLocked === 'wait' ? {} : { skipLocked: true });
    if (locked.length === 0) return [];
    return due.claim(tx, locked.map((row) => row.id as number));
  });
}
