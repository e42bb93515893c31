import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { evidenceEvents } from '../db/schema.ts';
import { readDetails } from '../domain/events.ts';
import type { ApprovalThreadStep } from '../domain/notifications.ts';

const THREAD_KINDS = ['request.approved', 'request.denied', 'request.expired', 'request.cancelled', 'grant.applied', 'grant.failed', 'grant.revoked'];

/**
 * What a channel card's thread tells, read from the request's evidence: each decision, the grant,
 * and its end, by the seq of the event that recorded it, so each is replied once, in order.
 */
export async function approvalThreadSteps(db: Db, requestId: number): Promise<Array<{ seq: number; step: ApprovalThreadStep }>> {
  const events = await db
    .select()
    .from(evidenceEvents)
    .where(and(eq(evidenceEvents.requestId, String(requestId)), inArray(evidenceEvents.kind, THREAD_KINDS)))
    .orderBy(asc(evidenceEvents.seq));
  return events.flatMap((event) => {
    const step = stepOf(event);
    return step ? [{ seq: event.seq, step }] : [];
  });
}

function stepOf(event: typeof evidenceEvents.$inferSelect): ApprovalThreadStep | undefined {
  switch (event.kind) {
    case 'request.approved': {
      const d = readDetails('request.approved', event.details);
      // Only an approver's click is a step in the card's thread (not a self-grant or an on-call approval).
      return d && 'approvals_required' in d ? { step: 'approved', by: event.actor, approvals: d.approvals, required: d.approvals_required } : undefined;
    }
    case 'request.denied': {
      const d = readDetails('request.denied', event.details);
      return d ? { step: 'denied', by: event.actor, reason: d.reason } : undefined;
    }
    case 'request.expired':
      return { step: 'expired' };
    case 'request.cancelled':
      return { step: 'cancelled' };
    case 'grant.applied': {
      const d = readDetails('grant.applied', event.details);
      return d ? { step: 'granted', endsAt: d.ends_at } : undefined;
    }
    case 'grant.failed': {
      const d = readDetails('grant.failed', event.details);
      return d ? { step: 'grant_failed', error: d.error } : undefined;
    }
    case 'grant.revoked': {
      const d = readDetails('grant.revoked', event.details);
      return d ? { step: 'ended', reason: 'reason' in d ? d.reason.replace(/_/g, ' ') : 'ended' } : undefined;
    }
    default:
      return undefined;
  }
}
