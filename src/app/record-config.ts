import { desc, eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { evidenceEvents } from '../db/schema.ts';
import { readDetails } from '../domain/events.ts';
import type { Ledger } from '../evidence/ledger.ts';

/**
 * Records `config.loaded` when the policy in force differs from the last one recorded, so every
 * later decision can be tied to the access.yml version it was made under.
 */
export async function recordConfigLoaded(db: Db, ledger: Ledger, loaded: { hash: string; path: string; resources: string[] }): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Under the append lock, so replicas starting together with the same policy record it once.
    await ledger.lockHead(tx);
    const [last] = await tx
      .select({ details: evidenceEvents.details })
      .from(evidenceEvents)
      .where(eq(evidenceEvents.kind, 'config.loaded'))
      .orderBy(desc(evidenceEvents.seq))
      .limit(1);
    const previousHash = last ? (readDetails('config.loaded', last.details)?.config_hash ?? null) : null;
    if (previousHash === loaded.hash) return false;
    await ledger.append(tx, {
      kind: 'config.loaded',
      actor: 'breakglass',
      subject: loaded.path,
      details: { config_hash: loaded.hash, previous_hash: previousHash, resources: loaded.resources },
    });
    return true;
  });
}
