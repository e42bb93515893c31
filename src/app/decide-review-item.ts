import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { enqueue } from '../db/outbox.ts';
import { reviewCampaigns, reviewCards, reviewItems } from '../db/schema.ts';
import { isByHand } from './manual-review.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { REVOKE_LEASE_MS, revokeReviewItems } from './revoke-review-items.ts';
import { assertMayDecide, assertNotSignedOff, isOwnLine, lineDecider, lockCard, type Campaign, type Decider } from './review-authority.ts';

type Item = typeof reviewItems.$inferSelect;
type Card = typeof reviewCards.$inferSelect;

export type ReviewDecision = 'keep' | 'revoke';

export interface DecideOutcome {
  itemId: number;
  decision: ReviewDecision;
  /** For a revoke: whether the provider has already removed the access (else it is being retried). */
  revoked?: boolean;
  error?: string | undefined;
  /** For a revoke of access granted by hand: the owners are asked to remove it; the line is revoked at their Done. */
  byHand?: boolean;
}

/**
 * One Keep or Revoke click on a review line. The line's row is locked and must still be
 * undecided, so concurrent or repeated clicks decide it once. The decider is the signed
 * payload's user and must be the card's reviewer (or security), never the person themselves.
 * A revoke is carried out at once, after the decision commits.
 */
export async function decideReviewItem(deps: AppDeps, input: { itemId: number; user: string; decision: ReviewDecision }): Promise<DecideOutcome> {
  const who = await lineDecider(deps, input.user);
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    // Lock order everywhere: the card, then its lines (keep-all and sign-off lock the card too).
    const [line] = await tx.select({ cardId: reviewItems.cardId }).from(reviewItems).where(eq(reviewItems.id, input.itemId));
    if (!line || line.cardId === null) throw new Refusal({ code: 'review_line_gone' });
    const { card, campaign } = await lockCard(tx, line.cardId);
    const [item] = await tx.select().from(reviewItems).where(eq(reviewItems.id, input.itemId)).for('update');
    if (!item) throw new Refusal({ code: 'review_line_gone' });
    assertMayDecide(card, who);
    if (isOwnLine(item, who)) throw new Refusal({ code: 'own_review_line' });
    assertNotSignedOff(card);
    if (item.decision) throw new Refusal({ code: 'review_line_decided', by: item.decidedBy, decision: item.decision, person: item.personName ?? item.principal, resource: item.resource });
    const [updated] = await tx
      .update(reviewItems)
      // A revoke is leased to this click, which carries it out right after the commit; should the
      // process die first, the worker takes it over when the lease ends (a bot that starts, at once).
      .set({ decision: input.decision, decidedBy: who.user, decidedAt: now, ...(input.decision === 'revoke' ? { revokeState: 'pending' as const, revokeNextAt: new Date(now.getTime() + REVOKE_LEASE_MS), revokeLeaseHolder: deps.leaseHolder ?? null } : {}) })
      .where(and(eq(reviewItems.id, item.id), isNull(reviewItems.decision)))
      .returning();
    await recordDecision(tx, deps, campaign, card, updated!, who, { bulk: false });
    await enqueue(tx, now, { type: 'review_card', cardId: card.id });
  });
  deps.wake.outbox();
  if (input.decision === 'keep') return { itemId: input.itemId, decision: 'keep' };
  await revokeReviewItems(deps, { itemIds: [input.itemId], leasedByCaller: true });
  const [after] = await deps.db
    .select({ state: reviewItems.revokeState, error: reviewItems.revokeError, resource: reviewItems.resource, targets: reviewCampaigns.targets })
    .from(reviewItems)
    .innerJoin(reviewCampaigns, eq(reviewCampaigns.id, reviewItems.campaignId))
    .where(eq(reviewItems.id, input.itemId));
  const target = after?.targets?.[after.resource];
  const byHand = target !== undefined && isByHand(deps, target);
  return { itemId: input.itemId, decision: 'revoke', revoked: after?.state === 'revoked', error: after?.state === 'revoked' ? undefined : (after?.error ?? undefined), ...(byHand ? { byHand } : {}) };
}

/**
 * "Keep all remaining": every undecided line on the card is kept, each with its own
 * `review.decided`. Lines about the decider's own access (a security member on the security
 * channel's card) are left for someone else.
 */
export async function keepAllRemaining(deps: AppDeps, input: { cardId: number; user: string }): Promise<{ kept: number; leftForOthers: number }> {
  const who = await lineDecider(deps, input.user);
  const now = deps.clock.now();
  const outcome = await deps.db.transaction(async (tx) => {
    const { card, campaign } = await lockCard(tx, input.cardId);
    assertMayDecide(card, who);
    assertNotSignedOff(card);
    const open = await tx.select().from(reviewItems).where(and(eq(reviewItems.cardId, card.id), isNull(reviewItems.decision))).orderBy(asc(reviewItems.id)).for('update');
    const mine = open.filter((item) => isOwnLine(item, who));
    const keep = open.filter((item) => !isOwnLine(item, who));
    if (keep.length === 0) {
      throw new Refusal({ code: mine.length > 0 ? 'review_only_own_lines_left' : 'review_all_decided' });
    }
    const updated = await tx
      .update(reviewItems)
      .set({ decision: 'keep', decidedBy: who.user, decidedAt: now })
      .where(and(inArray(reviewItems.id, keep.map((i) => i.id)), isNull(reviewItems.decision)))
      .returning();
    for (const item of updated.sort((a, b) => a.id - b.id)) await recordDecision(tx, deps, campaign, card, item, who, { bulk: true });
    await enqueue(tx, now, { type: 'review_card', cardId: card.id });
    return { kept: updated.length, leftForOthers: mine.length };
  });
  deps.wake.outbox();
  return outcome;
}

async function recordDecision(tx: Tx, deps: AppDeps, campaign: Campaign, card: Card, item: Item, who: Decider, how: { bulk: boolean }): Promise<void> {
  await deps.ledger.append(tx, {
    kind: 'review.decided',
    actor: who.user,
    subject: item.personSlack ?? item.email ?? item.principal,
    resource: item.resource,
    requestId: item.requestId,
    details: {
      campaign_id: campaign.id,
      period: campaign.period,
      item_id: item.id,
      decision: item.decision,
      principal: item.principal,
      email: item.email,
      granted_by: item.requestId ? `request #${item.requestId}` : 'unmanaged',
      new_since_last_review: item.isNew,
      route: item.route,
      reviewer: card.recipient,
      by_assigned_reviewer: card.audience === 'manager' && card.recipient === who.user,
      keep_all_remaining: how.bulk,
    },
  });
}
