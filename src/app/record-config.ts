import { desc, eq } from 'drizzle-orm';
import type { PolicySource } from '../config/policy-source.ts';
import type { Db } from '../db/client.ts';
import { evidenceEvents, policyVersions } from '../db/schema.ts';
import { readDetails } from '../domain/events.ts';
import type { Ledger } from '../ledger/ledger.ts';

export interface PolicyLoaded {
  hash: string;
  path: string;
  resources: string[];
  /** The file's text, kept by its hash so this version can be rendered again. */
  text: string;
  /** The commit and author that made it, or the file and host. */
  source: PolicySource;
  now: Date;
}

/**
 * Records `config.loaded` when the policy in force differs from the last one recorded, so every
 * later decision can be tied to the access.yml version it was made under, and keeps that
 * version's text (content-addressed) with where it came from.
 */
export async function recordConfigLoaded(db: Db, ledger: Ledger, loaded: PolicyLoaded): Promise<boolean> {
  return db.transaction(async (tx) => {
    // Under the append lock, so replicas starting together with the same policy record it once.
    await ledger.lockHead(tx);
    await tx.insert(policyVersions).values({ hash: loaded.hash, text: loaded.text, firstLoadedAt: loaded.now }).onConflictDoNothing();
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
      details: { config_hash: loaded.hash, previous_hash: previousHash, resources: loaded.resources, source: loaded.source },
    });
    return true;
  });
}
