import { and, eq, inArray } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { enqueue } from '../db/outbox.ts';
import { accessRequests } from '../db/schema.ts';
import type { AppDeps } from './deps.ts';

/** What a cancelled extension's card and any later click on it say. */
export const EXTENDED_ACCESS_ENDED = 'the access it extends has ended';

/**
 * Access has ended (expired, ended early, revoked in a review, taken at offboarding), so its pending
 * extension requests can never be applied: they are cancelled in the transaction that ends the
 * access, with evidence, their cards closed in place and the requester told.
 */
export async function cancelPendingExtensions(tx: Tx, deps: Pick<AppDeps, 'ledger'>, ended: Array<{ id: number; requestId: number; revokeReason: string | null }>, now: Date): Promise<number> {
  if (ended.length === 0) return 0;
  const cancelled = await tx
    .update(accessRequests)
    .set({ state: 'cancelled', decidedAt: now, decidedBy: 'breakglass', outcomeReason: EXTENDED_ACCESS_ENDED })
    .where(and(inArray(accessRequests.extendsGrantId, ended.map((g) => g.id)), eq(accessRequests.state, 'pending')))
    .returning();
  for (const request of cancelled) {
    const grant = ended.find((g) => g.id === request.extendsGrantId)!;
    await deps.ledger.append(tx, {
      kind: 'request.cancelled',
      actor: 'breakglass',
      subject: request.requester,
      resource: request.resource,
      requestId: request.id,
      details: { reason: 'grant_ended', grant_id: grant.id, original_request_id: grant.requestId, grant_end_reason: grant.revokeReason ?? 'expired' },
    });
    await enqueue(
      tx,
      now,
      { type: 'refresh_cards', requestId: request.id },
      {
        type: 'notify_user',
        user: request.requester,
        notification: { kind: 'extension_cancelled', requestId: request.id, resource: request.resource, extendedRequestId: grant.requestId },
      },
    );
  }
  return cancelled.length;
}
