import { eq } from 'drizzle-orm';
import type { Db } from '../../src/db/client.ts';
import { insertGrant } from '../../src/db/grants-repo.ts';
import { accessRequests, grants } from '../../src/db/schema.ts';
import type { GrantState } from '../../src/domain/grant-states.ts';

/**
 * An approved request for Alice's prod-db and its Okta grant, its lease (`next_attempt_at`) running
 * until `until`: in `state` (insertGrant leaves it granting) and held by `holder` (insertGrant leaves
 * none), as a worker leaves a grant while it calls the provider.
 */
export async function leasedGrant(db: Db, lease: { until: Date; state?: GrantState; holder?: number | null }): Promise<number> {
  const now = new Date();
  const id = await db.transaction(async (tx) => {
    const [request] = await tx
      .insert(accessRequests)
      .values({ requester: 'U0ALICE', requesterEmail: 'alice@example.com', resource: 'prod-db', durationMs: 3_600_000, reason: 'lease test', kind: 'standard', state: 'approved', approvalsRequired: 1, approvers: ['U0BOB'], configHash: 'test', createdAt: now, pendingUntil: now })
      .returning({ id: accessRequests.id });
    return insertGrant(tx, { requestId: request!.id, ask: { requester: 'U0ALICE', resource: 'prod-db', durationMs: 3_600_000, email: 'alice@example.com' }, target: { kind: 'okta_group', groupId: '00gPRODDB' }, emergency: false, now });
  });
  await db
    .update(grants)
    .set({ nextAttemptAt: lease.until, ...(lease.state ? { state: lease.state } : {}), ...(lease.holder !== undefined ? { leaseHolder: lease.holder } : {}) })
    .where(eq(grants.id, id));
  return id;
}
