/**
 * Whether access a provider lists is explained by what breakglass granted or a review kept.
 * Pure: the caller reads the grants and review lines; times are UTC.
 */

import { HELD_GRANT_STATES, type GrantState } from './grant-states.ts';

/** One breakglass grant of the resource to the person. */
export interface GrantFact {
  id: number;
  state: GrantState;
  revokedAt: Date | null;
}

/** The person's line in one campaign that reviewed the resource. */
export interface ReviewLineFact {
  campaignId: number;
  itemId: number;
  decision: 'keep' | 'revoke' | null;
  decidedAt: Date | null;
  revokeState: 'pending' | 'revoked' | null;
  revokedAt: Date | null;
}

export interface AccessHistory {
  grants: GrantFact[];
  /**
   * Every campaign that reviewed the resource, newest first, with the person's line in it;
   * `line` undefined means that campaign did not find the access.
   */
  reviews: Array<{ campaignId: number; line: ReviewLineFact | undefined }>;
}

export type AccessVerdict =
  | { drift: false; why: 'granted' | 'kept' | 'being_revoked' | 'settling' }
  | { drift: 'unmanaged' }
  | { drift: 'revoke_ineffective'; grantId?: number; reviewLine?: { campaignId: number; itemId: number } };

/**
 * Access is explained by a live grant, or by a review's Keep. A Keep stands until a later
 * review decides that line otherwise, and lapses when a later review no longer found the access
 * (it went and came back) or breakglass revoked it after the Keep. Access breakglass revoked
 * (a grant's end or a review's Revoke) that is still listed once `settleMs` has passed is a
 * revoke that did not take; anything else is unmanaged.
 */
export function explainAccess(history: AccessHistory, now: Date, settleMs: number): AccessVerdict {
  if (history.grants.some((g) => (HELD_GRANT_STATES as readonly GrantState[]).includes(g.state))) return { drift: false, why: 'granted' };
  const decided = latestDecision(history.reviews);
  if (decided?.decision === 'revoke' && decided.revokeState !== 'revoked') return { drift: false, why: 'being_revoked' };

  const grantRevoke = history.grants
    .filter((g): g is GrantFact & { revokedAt: Date } => g.state === 'revoked' && g.revokedAt !== null)
    .sort((a, b) => a.revokedAt.getTime() - b.revokedAt.getTime())
    .at(-1);
  const reviewRevokedAt = decided?.decision === 'revoke' ? decided.revokedAt : null;
  const keptAt = decided?.decision === 'keep' ? decided.decidedAt : null;
  const lastRevokeAt = Math.max(grantRevoke?.revokedAt.getTime() ?? -Infinity, reviewRevokedAt?.getTime() ?? -Infinity);

  if (keptAt && keptAt.getTime() > lastRevokeAt) return { drift: false, why: 'kept' };
  if (lastRevokeAt === -Infinity) return { drift: 'unmanaged' };
  if (now.getTime() - lastRevokeAt < settleMs) return { drift: false, why: 'settling' };
  // A review Revoke also ends the grant behind it at the same instant: name the review then.
  if (decided && reviewRevokedAt && reviewRevokedAt.getTime() === lastRevokeAt) return { drift: 'revoke_ineffective', reviewLine: { campaignId: decided.campaignId, itemId: decided.itemId } };
  return { drift: 'revoke_ineffective', grantId: grantRevoke!.id };
}

/** The newest decision on the person's line, walking back only while the access was found undecided. */
function latestDecision(reviews: AccessHistory['reviews']): ReviewLineFact | undefined {
  for (const { line } of reviews) {
    if (!line) return undefined;
    if (line.decision) return line;
  }
  return undefined;
}
