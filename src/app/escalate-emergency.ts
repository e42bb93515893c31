import { and, eq, isNull, lte } from 'drizzle-orm';
import { grants } from '../db/schema.ts';
import { EMERGENCY_REVIEW_WITHIN_MS } from '../domain/emergency.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';

export async function escalateUnreviewedEmergencies(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - EMERGENCY_REVIEW_WITHIN_MS);
  const isDue = and(eq(grants.emergency, true), isNull(grants.reviewedAt), isNull(grants.escalatedAt), lte(grants.createdAt, cutoff));
  if ((await deps.db.select({ id: grants.id }).from(grants).where(isDue).limit(1)).length === 0) return 0;
  const escalated = await deps.db.transaction(async (tx) => {
    const due = await tx
      .select()
      .from(grants)
      .where(isDue)
      .limit(20)
      .for('update', { skipLocked: true });
    for (const grant of due) {
      await tx.update(grants).set({ escalatedAt: now }).where(eq(grants.id, grant.id));
      await deps.ledger.append(tx, {
        kind: 'emergency.escalated',
        actor: 'breakglass',
        subject: grant.person,
        resource: grant.resource,
        requestId: grant.requestId,
        details: { grant_id: grant.id, granted_at: grant.createdAt.toISOString(), unreviewed_for_ms: now.getTime() - grant.createdAt.getTime() },
      });
      await raiseAlert(tx, deps, {
        kind: 'emergency_unreviewed',
        notification: { kind: 'emergency_unreviewed', requestId: grant.requestId, person: grant.person, resource: grant.resource },
        requestId: grant.requestId,
        grantId: grant.id,
        subject: grant.person,
        resource: grant.resource,
      });
    }
    return due.length;
  });
  if (escalated > 0) deps.wake.outbox();
  return escalated;
}
