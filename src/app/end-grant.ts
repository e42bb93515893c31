import { and, eq, gt, inArray } from 'drizzle-orm';
import { isRunning } from '../db/grants-repo.ts';
import { grants, RUNNING_GRANT_STATES } from '../db/schema.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { isSecurity } from './security.ts';
import { aboutGrant } from './grant-evidence.ts';

/**
 * Ends access early: the grant's end moves to now and the revoke worker is woken, so revocation
 * takes the same durable, retried path as expiry (after an extension in flight has finished, which
 * then sees the end and applies nothing). The holder or security may end it.
 */
export async function endGrant(deps: AppDeps, input: { requestId?: number; grantId?: number; user: string }): Promise<{ grantId: number; resource: string }> {
  const now = deps.clock.now();
  const security = await isSecurity(deps, input.user);
  const ended = await deps.db.transaction(async (tx) => {
    const where = input.grantId !== undefined ? eq(grants.id, input.grantId) : eq(grants.requestId, input.requestId ?? -1);
    const [grant] = await tx.select().from(grants).where(where).for('update');
    const access = input.grantId !== undefined ? { grantId: input.grantId } : { requestId: input.requestId ?? -1 };
    if (!grant || (grant.person !== input.user && !security)) throw new Refusal({ code: 'no_active_access', access });
    if (!isRunning(grant, now)) throw new Refusal({ code: 'access_already_ending', access, state: grant.state });
    const [updated] = await tx
      .update(grants)
      .set({ endsAt: now, revokeReason: 'ended', revokeRequestedBy: input.user })
      .where(and(eq(grants.id, grant.id), inArray(grants.state, RUNNING_GRANT_STATES), gt(grants.endsAt, now)))
      .returning();
    await deps.ledger.append(tx, {
      kind: 'grant.end_requested',
      actor: input.user,
      ...aboutGrant(grant),
      details: { grant_id: grant.id, scheduled_end: grant.endsAt.toISOString(), by_security: input.user !== grant.person },
    });
    return updated!;
  });
  deps.wake.grants();
  return { grantId: ended.id, resource: ended.resource };
}
