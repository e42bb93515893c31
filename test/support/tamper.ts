import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.ts';

/**
 * What an attacker with the table owner's rights could do: switch the append-only triggers off,
 * rewrite the ledger, switch them back on. Tests use it to show that verify still notices.
 */
export async function tamper(db: Db, statement: ReturnType<typeof sql>): Promise<void> {
  await db.execute(sql`alter table evidence_events disable trigger user`);
  try {
    await db.execute(statement);
  } finally {
    await db.execute(sql`alter table evidence_events enable trigger user`);
  }
}

/** Empties the ledger and points its head back at the genesis hash, as on a fresh database. */
export async function wipeLedger(db: Db): Promise<void> {
  await tamper(db, sql`delete from evidence_events`);
  await db.execute(sql`update ledger_head set seq = 0, hash = repeat('0', 64), prev_hash = ''`);
}
