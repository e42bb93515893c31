import { and, eq, inArray } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { accessRequests } from '../db/schema.ts';
import { cancelPendingRequests } from './cancel-requests.ts';
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
  const cancelled = await cancelPendingRequests(
    tx,
    deps,
    now,
    { where: and(inArray(accessRequests.extendsGrantId, ended.map((g) => g.id)), eq(accessRequests.state, 'pending')), outcomeReason: EXTENDED_ACCESS_ENDED },
    (request) => {
      const grant = ended.find((g) => g.id === request.extendsGrantId)!;
      return {
        details: { reason: 'grant_ended', grant_id: grant.id, original_request_id: grant.requestId, grant_end_reason: grant.revokeReason ?? 'expired' },
        tell: {
          type: 'notify_user',
          user: request.requester,
          notification: { kind: 'extension_cancelled', requestId: request.id, resource: request.resource, extendedRequestId: grant.requestId },
        },
      };
    },
  );
  return cancelled.length;
}
