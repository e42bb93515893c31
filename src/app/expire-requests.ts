import { and, eq, inArray, lte } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { claimDue } from '../db/claim-due.ts';
import { enqueue } from '../db/outbox.ts';
import { accessRequests } from '../db/schema.ts';
import type { AppDeps } from './deps.ts';

type Request = typeof accessRequests.$inferSelect;

/** Pending requests past their `request_ttl` expire, with evidence, and their cards say so. */
export async function expireRequests(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const expired = await claimDue(deps.db, {
    table: accessRequests,
    id: accessRequests.id,
    isDue: and(eq(accessRequests.state, 'pending'), lte(accessRequests.pendingUntil, now)),
    limit: 50,
    claim: async (tx, ids) => {
      const due = (await tx.update(accessRequests).set({ state: 'expired', decidedAt: now }).where(inArray(accessRequests.id, ids)).returning()).sort((a, b) => a.id - b.id);
      for (const request of due) await recordExpiry(tx, deps, request, now);
      return due;
    },
  });
  if (expired.length > 0) deps.wake.outbox();
  return expired.length;
}

async function recordExpiry(tx: Tx, deps: AppDeps, request: Request, now: Date): Promise<void> {
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
