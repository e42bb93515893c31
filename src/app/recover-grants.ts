import { and, inArray, lte } from 'drizzle-orm';
import { GRANT_LEASE_MS } from '../db/grants-repo.ts';
import { grants } from '../db/schema.ts';
import { applyGrant } from './apply-grant.ts';
import type { AppDeps } from './deps.ts';
import { extendGrant } from './extend-grant.ts';
import { claimDue } from '../db/claim-due.ts';

/**
 * Grants left in `granting` or `extending` by a process that died between committing the
 * approval and recording the provider's answer: their lease has run out, so the grant or the
 * extension is applied again (providers are idempotent) and recorded once. Grants in `checking`
 * (the provider's answer was lost) are due when their backoff ends: the provider is listed again.
 */
export async function recoverGrants(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const isDue = and(inArray(grants.state, ['granting', 'checking', 'extending']), lte(grants.nextAttemptAt, now));
  const stranded = await claimDue(deps.db, {
    table: grants,
    id: grants.id,
    isDue,
    limit: 10,
    claim: (tx, ids) =>
      tx
        .update(grants)
        .set({ nextAttemptAt: new Date(now.getTime() + GRANT_LEASE_MS), leaseHolder: deps.leaseHolder ?? null })
        .where(inArray(grants.id, ids))
        .returning({ id: grants.id, state: grants.state }),
  });
  for (const grant of stranded) await (grant.state === 'extending' ? extendGrant : applyGrant)(deps, grant.id);
  return stranded.length;
}
