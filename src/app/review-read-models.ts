import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { reviewCampaigns, reviewCards, reviewItems } from '../db/schema.ts';
import { clampPage, pageCount, REVIEW_LINES_PER_PAGE } from '../domain/review.ts';
import type { HomeView, ReviewCardView } from './views.ts';

type Item = typeof reviewItems.$inferSelect;

/** A review card as it should look now, at the page its reviewer turned to; with where it was posted. */
export async function reviewCardView(
  db: Db,
  cardId: number,
): Promise<(ReviewCardView & { channel: string | null; ts: string | null }) | undefined> {
  const [row] = await db.select({ card: reviewCards, campaign: reviewCampaigns }).from(reviewCards).innerJoin(reviewCampaigns, eq(reviewCards.campaignId, reviewCampaigns.id)).where(eq(reviewCards.id, cardId));
  if (!row || !row.campaign.dueAt) return undefined;
  const { card, campaign } = row;
  const [totals] = (await db
    .select({
      lines: sql<number>`count(*)::int`,
      decided: sql<number>`(count(*) filter (where ${reviewItems.decision} is not null))::int`,
      kept: sql<number>`(count(*) filter (where ${reviewItems.decision} = 'keep'))::int`,
      revoked: sql<number>`(count(*) filter (where ${reviewItems.decision} = 'revoke'))::int`,
      people: sql<number>`count(distinct coalesce(${reviewItems.directoryId}, lower(${reviewItems.email}), lower(${reviewItems.principal})))::int`,
    })
    .from(reviewItems)
    .where(eq(reviewItems.cardId, card.id))) as [{ lines: number; decided: number; kept: number; revoked: number; people: number }];
  const page = clampPage(card.page, totals.lines);
  const lines = await db
    .select()
    .from(reviewItems)
    .where(eq(reviewItems.cardId, card.id))
    .orderBy(sql`lower(coalesce(${reviewItems.personName}, ${reviewItems.principal}))`, asc(reviewItems.principal), asc(reviewItems.resource), asc(reviewItems.id))
    .limit(REVIEW_LINES_PER_PAGE)
    .offset(page * REVIEW_LINES_PER_PAGE);
  return {
    campaign: { id: campaign.id, period: campaign.period, dueAt: campaign.dueAt!, state: campaign.state },
    cardId: card.id,
    audience: card.audience,
    recipient: card.recipient,
    page,
    pages: pageCount(totals.lines),
    totals,
    signedOff: card.signedOffBy && card.signedOffAt ? { by: card.signedOffBy, at: card.signedOffAt } : undefined,
    escalated: card.escalatedAt !== null,
    lines: lines.map((item) => lineView(item, campaign.targets?.[item.resource]?.kind === 'manual')),
    channel: card.channel,
    ts: card.ts,
  };
}

function lineView(item: Item, byHand: boolean): ReviewCardView['lines'][number] {
  return {
    itemId: item.id,
    person: item.personName ?? item.principal,
    email: item.email ?? undefined,
    slackId: item.personSlack ?? undefined,
    resource: item.resource,
    since: item.since ?? undefined,
    sinceSource: item.sinceSource ?? 'first_seen',
    isNew: item.isNew,
    requestId: item.requestId ?? undefined,
    route: item.route,
    routeNote: item.routeNote ?? undefined,
    decision: item.decision && item.decidedBy && item.decidedAt ? { kind: item.decision, by: item.decidedBy, at: item.decidedAt } : undefined,
    revoke: item.revokeState ? { state: item.revokeState, verified: item.revokeVerified === true, error: item.revokeError ?? undefined } : undefined,
    ...(byHand ? { byHand } : {}),
  };
}

/** App Home's "Access reviews due": this person's open, unsigned review cards. */
export async function reviewsDueFor(db: Db, user: string): Promise<HomeView['reviewsDue']> {
  const rows = await db
    .select({
      campaignId: reviewCampaigns.id,
      dueAt: reviewCampaigns.dueAt,
      items: sql<number>`(select count(*)::int from ${reviewItems} where ${reviewItems.cardId} = ${reviewCards.id} and ${reviewItems.decision} is null)`,
    })
    .from(reviewCards)
    .innerJoin(reviewCampaigns, eq(reviewCards.campaignId, reviewCampaigns.id))
    .where(and(eq(reviewCards.recipient, user), eq(reviewCards.audience, 'manager'), isNull(reviewCards.signedOffAt), eq(reviewCampaigns.state, 'open')))
    .orderBy(asc(reviewCampaigns.dueAt));
  return rows.map((r) => ({ campaignId: r.campaignId, items: r.items, dueAt: r.dueAt! }));
}
