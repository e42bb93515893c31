import { and, eq, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { enqueue } from '../db/outbox.ts';
import { reviewCampaigns, reviewCards, reviewItems } from '../db/schema.ts';
import type { AppDeps } from './deps.ts';

/**
 * Closes each open campaign whose cards are all signed off and whose revocations have all gone
 * through, with `review.closed` (the campaign's totals) and the report sent to the security
 * channel. A campaign waiting on a failing revoke stays open until the retries succeed.
 */
export async function closeFinishedCampaigns(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const closed = await deps.db.transaction(async (tx) => {
    const ready = await tx
      .select()
      .from(reviewCampaigns)
      .where(
        and(
          eq(reviewCampaigns.state, 'open'),
          sql`not exists (select 1 from ${reviewCards} where ${reviewCards.campaignId} = ${reviewCampaigns.id} and ${reviewCards.signedOffAt} is null)`,
          sql`not exists (select 1 from ${reviewItems} where ${reviewItems.campaignId} = ${reviewCampaigns.id} and (${reviewItems.decision} is null or ${reviewItems.revokeState} = 'pending'))`,
        ),
      )
      .limit(5)
      .for('update', { skipLocked: true });
    for (const campaign of ready) await closeCampaign(tx, deps, campaign, now);
    return ready.length;
  });
  if (closed > 0) deps.wake.outbox();
  return closed;
}

type Campaign = typeof reviewCampaigns.$inferSelect;

/** Records `review.closed` with the campaign's totals and queues the security channel's summary and report. */
async function closeCampaign(tx: Tx, deps: AppDeps, campaign: Campaign, now: Date): Promise<void> {
  const { totals, cards } = await campaignTotals(tx, campaign);
  await tx.update(reviewCampaigns).set({ state: 'closed', closedAt: now }).where(eq(reviewCampaigns.id, campaign.id));
  await deps.ledger.append(tx, {
    kind: 'review.closed',
    actor: 'breakglass',
    details: {
      campaign_id: campaign.id,
      period: campaign.period,
      scope: campaign.scope,
      opened_at: campaign.openedAt?.toISOString() ?? null,
      due_at: campaign.dueAt?.toISOString() ?? null,
      closed_at: now.toISOString(),
      population_sha256: campaign.populationHash,
      ...totals,
      revoked_verified: totals.verified,
      reviewers: cards.cards,
      signed_off_late: cards.late,
      escalated: cards.escalated,
      reminders: cards.reminders,
    },
  });
  const notification = { kind: 'review_closed' as const, campaignId: campaign.id, period: campaign.period, items: totals.items, kept: totals.kept, revoked: totals.revoked, verified: totals.verified, signOffs: cards.cards, late: cards.late, closedAt: now.toISOString() };
  await enqueue(tx, now, { type: 'notify_security', notification }, { type: 'review_report', campaignId: campaign.id });
}

async function campaignTotals(tx: Tx, campaign: Campaign) {
  const [totals] = (await tx
    .select({
      items: sql<number>`count(*)::int`,
      kept: sql<number>`(count(*) filter (where ${reviewItems.decision} = 'keep'))::int`,
      revoked: sql<number>`(count(*) filter (where ${reviewItems.decision} = 'revoke'))::int`,
      verified: sql<number>`(count(*) filter (where ${reviewItems.revokeVerified}))::int`,
      left: sql<number>`(count(*) filter (where ${reviewItems.route} = 'left'))::int`,
      unmanaged: sql<number>`(count(*) filter (where ${reviewItems.grantId} is null))::int`,
    })
    .from(reviewItems)
    .where(eq(reviewItems.campaignId, campaign.id))) as [{ items: number; kept: number; revoked: number; verified: number; left: number; unmanaged: number }];
  const [cards] = (await tx
    .select({
      cards: sql<number>`count(*)::int`,
      late: sql<number>`(count(*) filter (where ${reviewCards.signedOffAt} > ${campaign.dueAt?.toISOString() ?? null}::timestamptz))::int`,
      escalated: sql<number>`(count(*) filter (where ${reviewCards.escalatedAt} is not null))::int`,
      reminders: sql<number>`coalesce(sum(${reviewCards.reminders}), 0)::int`,
    })
    .from(reviewCards)
    .where(eq(reviewCards.campaignId, campaign.id))) as [{ cards: number; late: number; escalated: number; reminders: number }];
  return { totals, cards };
}
