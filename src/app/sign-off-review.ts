import { and, eq, isNull, sql } from 'drizzle-orm';
import { enqueue } from '../db/outbox.ts';
import { reviewCards, reviewItems } from '../db/schema.ts';
import { clampPage } from '../domain/review.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { assertMayDecide, decider, lockCard } from './review-authority.ts';

/**
 * Sign-off of one reviewer's card, once every line on it is decided. The signer (the reviewer,
 * or security for an absent one) is the actor of `review.signed_off`; whether it came after the
 * due date is recorded with it.
 */
export async function signOffReview(deps: AppDeps, input: { cardId: number; user: string }): Promise<{ lines: number; kept: number; revoked: number; overdue: boolean }> {
  const who = await decider(deps, input.user);
  const now = deps.clock.now();
  const outcome = await deps.db.transaction(async (tx) => {
    const { card, campaign } = await lockCard(tx, input.cardId);
    assertMayDecide(card, who);
    if (card.signedOffAt) throw new Refusal({ code: 'review_already_signed_off', by: card.signedOffBy });
    const rows = await tx
      .select({ decision: reviewItems.decision, count: sql<number>`count(*)::int` })
      .from(reviewItems)
      .where(eq(reviewItems.cardId, card.id))
      .groupBy(reviewItems.decision);
    const count = (decision: string | null) => rows.find((r) => r.decision === decision)?.count ?? 0;
    const undecided = count(null);
    if (undecided > 0) throw new Refusal({ code: 'review_lines_undecided', undecided });
    const [signed] = await tx
      .update(reviewCards)
      .set({ signedOffBy: who.user, signedOffAt: now })
      .where(and(eq(reviewCards.id, card.id), isNull(reviewCards.signedOffAt)))
      .returning({ id: reviewCards.id });
    if (!signed) throw new Refusal({ code: 'review_signed_off_meanwhile' });
    const lines = rows.reduce((n, r) => n + r.count, 0);
    const overdue = campaign.dueAt !== null && now > campaign.dueAt;
    await deps.ledger.append(tx, {
      kind: 'review.signed_off',
      actor: who.user,
      subject: card.audience === 'manager' ? card.recipient : null,
      details: {
        campaign_id: campaign.id,
        period: campaign.period,
        card_id: card.id,
        audience: card.audience,
        reviewer: card.recipient,
        by_assigned_reviewer: card.audience === 'manager' && card.recipient === who.user,
        lines,
        kept: count('keep'),
        revoked: count('revoke'),
        due_at: campaign.dueAt?.toISOString() ?? null,
        overdue,
      },
    });
    await enqueue(tx, now, { type: 'review_card', cardId: card.id });
    return { lines, kept: count('keep'), revoked: count('revoke'), overdue };
  });
  deps.wake.outbox();
  return outcome;
}

/** Previous / Next on a paged card: the page shown is kept with the card, and the message is redrawn. */
export async function turnReviewPage(deps: AppDeps, input: { cardId: number; delta: number }): Promise<void> {
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    const [card] = await tx.select().from(reviewCards).where(eq(reviewCards.id, input.cardId)).for('update');
    if (!card) throw new Refusal({ code: 'review_page_card_gone' });
    const [{ lines }] = (await tx.select({ lines: sql<number>`count(*)::int` }).from(reviewItems).where(eq(reviewItems.cardId, card.id))) as [{ lines: number }];
    const page = clampPage(card.page + input.delta, lines);
    if (page === card.page) return;
    await tx.update(reviewCards).set({ page }).where(eq(reviewCards.id, card.id));
    await enqueue(tx, now, { type: 'review_card', cardId: card.id });
  });
  deps.wake.outbox();
}
