import { and, eq, inArray, isNull, lte, or } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { claimDue } from '../db/claim-due.ts';
import { accessRequests, grants } from '../db/schema.ts';
import { EMERGENCY_REVIEW_WITHIN_MS } from '../domain/emergency.ts';
import type { AppDeps } from './deps.ts';
import { aboutGrant, raiseGrantAlert } from './grant-evidence.ts';

type Grant = typeof grants.$inferSelect;

/** Emergency self-grants (and on-call approvals) no approver reviewed within the window are escalated to security, once each. */
export async function escalateUnreviewedEmergencies(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - EMERGENCY_REVIEW_WITHIN_MS);
  const escalated = await claimDue(deps.db, {
    table: grants,
    id: grants.id,
    isDue: and(or(eq(grants.emergency, true), inArray(grants.requestId, onCallRequests(deps))), isNull(grants.reviewedAt), isNull(grants.escalatedAt), lte(grants.createdAt, cutoff)),
    limit: 20,
    claim: async (tx, ids) => {
      const due = (await tx.update(grants).set({ escalatedAt: now }).where(inArray(grants.id, ids)).returning()).sort((a, b) => a.id - b.id);
      const onCall = new Set((await tx.select({ id: accessRequests.id }).from(accessRequests).where(and(inArray(accessRequests.id, due.map((g) => g.requestId)), eq(accessRequests.kind, 'on_call')))).map((r) => r.id));
      for (const grant of due) await escalate(tx, deps, grant, now, onCall.has(grant.requestId));
      return due;
    },
  });
  if (escalated.length > 0) deps.wake.outbox();
  return escalated.length;
}

const onCallRequests = (deps: AppDeps) => deps.db.select({ id: accessRequests.id }).from(accessRequests).where(eq(accessRequests.kind, 'on_call'));

async function escalate(tx: Tx, deps: AppDeps, grant: Grant, now: Date, onCall: boolean): Promise<void> {
  await deps.ledger.append(tx, {
    kind: 'emergency.escalated',
    actor: 'breakglass',
    ...aboutGrant(grant),
    details: { grant_id: grant.id, granted_at: grant.createdAt.toISOString(), unreviewed_for_ms: now.getTime() - grant.createdAt.getTime() },
  });
  await raiseGrantAlert(tx, deps, grant, { kind: 'emergency_unreviewed', ...(onCall ? { onCall: true as const } : {}) });
}
