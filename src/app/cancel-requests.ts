import type { SQL } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { enqueue } from '../db/outbox.ts';
import { accessRequests, type OutboxMessage } from '../db/schema.ts';
import type { EventDetails } from '../domain/events.ts';
import type { AppDeps } from './deps.ts';

type Request = typeof accessRequests.$inferSelect;

export interface Cancellation {
  details: EventDetails<'request.cancelled'>;
  /** Besides every card of the request closing in place. */
  tell?: OutboxMessage;
}

/**
 * Pending requests that can never be decided any more end like expired ones: state and evidence in
 * the caller's transaction, every approver's card closed in place.
 */
export async function cancelPendingRequests(
  tx: Tx,
  deps: Pick<AppDeps, 'ledger'>,
  now: Date,
  which: { where: SQL | undefined; outcomeReason: string },
  cancellation: (request: Request) => Cancellation,
): Promise<Request[]> {
  const cancelled = await tx
    .update(accessRequests)
    .set({ state: 'cancelled', decidedAt: now, decidedBy: 'breakglass', outcomeReason: which.outcomeReason })
    .where(which.where)
    .returning();
  for (const request of cancelled) {
    const { details, tell } = cancellation(request);
    await deps.ledger.append(tx, { kind: 'request.cancelled', actor: 'breakglass', subject: request.requester, resource: request.resource, requestId: request.id, details });
    await enqueue(tx, now, { type: 'refresh_cards', requestId: request.id }, ...(tell ? [tell] : []));
  }
  return cancelled;
}
