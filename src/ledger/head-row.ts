import type { Db } from '../db/client.ts';
import { ledgerHead } from '../db/schema.ts';

export interface HeadRow {
  seq: number;
  hash: string;
}

/** The database's own record of the chain's head (ledger_head), which every append moves forward with the event. */
export async function readHeadRow(db: Db): Promise<HeadRow | undefined> {
  const [row] = await db.select({ seq: ledgerHead.seq, hash: ledgerHead.hash }).from(ledgerHead);
  return row ? { seq: Number(row.seq), hash: row.hash } : undefined;
}

/**
 * Why the head row disagrees with the newest event of a chain that verified, or undefined when it
 * agrees. Deleting the newest events leaves a chain that verifies; only the head row (unless it
 * was rewritten too) or a signed checkpoint still remembers them.
 */
export function headRowProblem(row: HeadRow | undefined, newest: { count: number; headHash: string }): string | undefined {
  if (!row) return 'the ledger has no head row (ledger_head is empty), so whether its newest events were deleted cannot be told from the database';
  if (row.seq > newest.count) {
    const first = newest.count + 1;
    return `the ledger's head row (ledger_head) records event #${row.seq}, but the newest event is #${newest.count}: event(s) #${first}${row.seq > first ? `–#${row.seq}` : ''} were deleted`;
  }
  if (row.seq < newest.count) return `the ledger's head row (ledger_head) records event #${row.seq}, behind the newest event #${newest.count}: it was changed by hand`;
  if (row.hash !== newest.headHash) return `the ledger's head row (ledger_head) records a hash for event #${row.seq} other than the event's own: the newest event was replaced`;
  return undefined;
}
