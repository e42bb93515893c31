import { and, eq, inArray, isNull, lte, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { enqueue } from '../db/outbox.ts';
import { reviewCampaigns, reviewCards, reviewItems, type OutboxMessage } from '../db/schema.ts';
import type { Notification } from '../domain/notifications.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';

const BATCH = 50;

type Card = typeof reviewCards.$inferSelect;
type Campaign = typeof reviewCampaigns.$inferSelect;

/**
 * Reminds every reviewer who has not signed off, each `remind_every` (counted from the campaign's
 * start, then from the last reminder), and once a card is past the campaign's due date escalates
 * it to the reviewer's own manager and the security channel. Each reminder and escalation is a
 * `review.reminded` / `review.escalated` event committed with its message. Cards are claimed with
 * FOR UPDATE SKIP LOCKED, so replicas never remind twice. Returns how many events it wrote.
 */
export async function remindReviews(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - deps.access.config.reviews.remind_every);
  const written = await deps.db.transaction(async (tx) => {
    let events = 0;
    const reminders = await tx
      .select({ card: reviewCards, campaign: reviewCampaigns })
      .from(reviewCards)
      .innerJoin(reviewCampaigns, eq(reviewCards.campaignId, reviewCampaigns.id))
      .where(and(eq(reviewCampaigns.state, 'open'), isNull(reviewCards.signedOffAt), sql`coalesce(${reviewCards.remindedAt}, ${reviewCampaigns.openedAt}) <= ${cutoff.toISOString()}::timestamptz`))
      .orderBy(reviewCards.id)
      .limit(BATCH)
      .for('update', { of: reviewCards, skipLocked: true });
    const escalations = await tx
      .select({ card: reviewCards, campaign: reviewCampaigns })
      .from(reviewCards)
      .innerJoin(reviewCampaigns, eq(reviewCards.campaignId, reviewCampaigns.id))
      .where(and(eq(reviewCampaigns.state, 'open'), isNull(reviewCards.signedOffAt), isNull(reviewCards.escalatedAt), lte(reviewCampaigns.dueAt, now)))
      .orderBy(reviewCards.id)
      .limit(BATCH)
      .for('update', { of: reviewCards, skipLocked: true });
    const cardIds = [...new Set([...reminders, ...escalations].map((r) => r.card.id))];
    const open = await undecidedCounts(tx, cardIds);
    for (const { card, campaign } of reminders) {
      await remind(tx, deps, card, campaign, open.get(card.id) ?? { undecided: 0, lines: 0 }, now);
      events++;
    }
    for (const { card, campaign } of escalations) {
      await escalate(tx, deps, card, campaign, open.get(card.id) ?? { undecided: 0, lines: 0 }, now);
      events++;
    }
    return events;
  });
  if (written > 0) deps.wake.outbox();
  return written;
}

async function undecidedCounts(tx: Tx, cardIds: number[]): Promise<Map<number, { undecided: number; lines: number }>> {
  if (cardIds.length === 0) return new Map();
  const rows = await tx
    .select({ cardId: reviewItems.cardId, lines: sql<number>`count(*)::int`, undecided: sql<number>`(count(*) filter (where ${reviewItems.decision} is null))::int` })
    .from(reviewItems)
    .where(inArray(reviewItems.cardId, cardIds))
    .groupBy(reviewItems.cardId);
  return new Map(rows.map((r) => [r.cardId!, { undecided: r.undecided, lines: r.lines }]));
}

async function remind(tx: Tx, deps: AppDeps, card: Card, campaign: Campaign, open: { undecided: number; lines: number }, now: Date): Promise<void> {
  const number = card.reminders + 1;
  await tx.update(reviewCards).set({ remindedAt: now, reminders: number }).where(eq(reviewCards.id, card.id));
  await deps.ledger.append(tx, {
    kind: 'review.reminded',
    actor: 'breakglass',
    subject: card.audience === 'manager' ? card.recipient : null,
    details: { campaign_id: campaign.id, period: campaign.period, card_id: card.id, reviewer: card.recipient, audience: card.audience, reminder: number, undecided: open.undecided, lines: open.lines, due_at: campaign.dueAt?.toISOString() ?? null, overdue: campaign.dueAt !== null && now > campaign.dueAt },
  });
  const notification: Notification = {
    kind: 'review_reminder',
    campaignId: campaign.id,
    period: campaign.period,
    audience: card.audience === 'manager' ? 'manager' : 'security',
    dueAt: campaign.dueAt?.toISOString() ?? null,
    overdue: campaign.dueAt !== null && now > campaign.dueAt,
    undecided: open.undecided,
    lines: open.lines,
  };
  const messages: OutboxMessage[] =
    card.audience === 'manager' ? [{ type: 'notify_user', user: card.recipient, notification }] : [{ type: 'notify_security', notification }];
  await enqueue(tx, now, ...messages, { type: 'review_card', cardId: card.id });
}

async function escalate(tx: Tx, deps: AppDeps, card: Card, campaign: Campaign, open: { undecided: number; lines: number }, now: Date): Promise<void> {
  await tx.update(reviewCards).set({ escalatedAt: now }).where(eq(reviewCards.id, card.id));
  const escalatedTo = card.audience === 'manager' && card.escalateTo ? card.escalateTo : null;
  await deps.ledger.append(tx, {
    kind: 'review.escalated',
    actor: 'breakglass',
    subject: card.audience === 'manager' ? card.recipient : null,
    details: {
      campaign_id: campaign.id,
      period: campaign.period,
      card_id: card.id,
      reviewer: card.recipient,
      audience: card.audience,
      undecided: open.undecided,
      lines: open.lines,
      due_at: campaign.dueAt?.toISOString() ?? null,
      overdue_by_ms: campaign.dueAt ? now.getTime() - campaign.dueAt.getTime() : null,
      escalated_to: escalatedTo,
      security_channel: deps.access.config.security_channel,
    },
  });
  const dueAt = campaign.dueAt?.toISOString() ?? null;
  if (escalatedTo) {
    await enqueue(tx, now, {
      type: 'notify_user',
      user: escalatedTo,
      notification: { kind: 'review_overdue_report', campaignId: campaign.id, period: campaign.period, reviewer: card.recipient, dueAt, undecided: open.undecided, lines: open.lines },
    });
  }
  await raiseAlert(tx, deps, {
    kind: 'review_overdue',
    notification: { kind: 'review_overdue', campaignId: campaign.id, period: campaign.period, reviewer: card.audience === 'manager' ? card.recipient : null, dueAt, undecided: open.undecided, lines: open.lines, escalatedTo },
    subject: card.audience === 'manager' ? card.recipient : undefined,
  });
  await enqueue(tx, now, { type: 'review_card', cardId: card.id });
}
