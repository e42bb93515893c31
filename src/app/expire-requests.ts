import { and, eq, lte } from 'drizzle-orm';
import { enqueue } from '../db/outbox.ts';
import { accessRequests } from '../db/schema.ts';
import type { AppDeps } from './deps.ts';

/** Pending requests past their `request_ttl` expire, with evidence, and their cards say so. */
export async function expireRequests(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const isDue = and(eq(accessRequests.state, 'pending'), lte(accessRequests.pendingUntil, now));
  // Most ticks find nothing: a plain read first keeps idle ticks off the (PGlite: only) connection.
  if ((await deps.db.select({ id: accessRequests.id }).from(accessRequests).where(isDue).limit(1)).length === 0) return 0;
  const expired = await deps.db.transaction(async (tx) => {
    const due = await tx
      .select()
      .from(accessRequests)
      .where(isDue)
      .limit(50)
      .for('update', { skipLocked: true });
    for (const request of due) {
      await tx.update(accessRequests).set({ state: 'expired', decidedAt: now }).where(eq(accessRequests.id, request.id));
      await deps.ledger.append(tx, {
        kind: 'request.expired',
        actor: 'breakglass',
        subject: request.requester,
        resource: request.resource,
        requestId: request.id,
        details: { pending_until: request.pendingUntil.toISOString() },
      });
      await enqueue(
        tx,
        now,
        { type: 'refresh_cards', requestId: request.id },
        { type: 'notify_user', user: request.requester, notification: { kind: 'request_expired', requestId: request.id, resource: request.resource } },
      );
    }
    return due.length;
  });
  if (expired > 0) deps.wake.outbox();
  return expired;
}
