import { and, eq, lte } from 'drizzle-orm';
import { GRANT_LEASE_MS } from '../db/grants-repo.ts';
import { grants } from '../db/schema.ts';
import { applyGrant } from './apply-grant.ts';
import type { AppDeps } from './deps.ts';

/**
 * Grants left in `granting` by a process that died between committing the approval and
 * recording the provider's answer: their lease has run out, so the grant is applied again
 * (providers are idempotent) and recorded once.
 */
export async function recoverGrants(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const isDue = and(eq(grants.state, 'granting'), lte(grants.nextAttemptAt, now));
  if ((await deps.db.select({ id: grants.id }).from(grants).where(isDue).limit(1)).length === 0) return 0;
  const stranded = await deps.db.transaction(async (tx) => {
    const due = await tx
      .select({ id: grants.id })
      .from(grants)
      .where(isDue)
      .limit(10)
      .for('update', { skipLocked: true });
    for (const grant of due) {
      await tx.update(grants).set({ nextAttemptAt: new Date(now.getTime() + GRANT_LEASE_MS) }).where(eq(grants.id, grant.id));
    }
    return due;
  });
  for (const grant of stranded) await applyGrant(deps, grant.id);
  return stranded.length;
}
