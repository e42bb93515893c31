import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { evidenceEvents, reviewCampaigns, reviewCards, reviewItems } from '../../db/schema.ts';
import { readDetails } from '../../domain/events.ts';
import { comparePopulation, populationHash } from '../../domain/review.ts';

export { REVIEW_REPORT_COLUMNS, reviewReportCsv, reviewReportMarkdown } from './review-report-render.ts';

type Campaign = typeof reviewCampaigns.$inferSelect;
type Card = typeof reviewCards.$inferSelect;
type Item = typeof reviewItems.$inferSelect;

export interface ReviewReportLine {
  itemId: number;
  resource: string;
  person: string;
  email: string | null;
  principal: string;
  slackUser: string | null;
  /** `request #12`, or `unmanaged` for access granted outside breakglass. */
  grantedBy: string;
  since: Date | null;
  sinceSource: string | null;
  newSinceLastReview: boolean | null;
  reviewer: string | null;
  audience: 'manager' | 'security' | null;
  route: string;
  routeNote: string | null;
  decision: 'keep' | 'revoke' | null;
  decidedBy: string | null;
  decidedAt: Date | null;
  signedOffBy: string | null;
  signedOffAt: Date | null;
  overdue: boolean;
  revokeState: string | null;
  revokedAt: Date | null;
  revokeVerified: boolean | null;
  revokeError: string | null;
  /** Granted by hand: who of the system's owners confirmed the removal with Done (the line's evidence), and when. */
  removalConfirmedBy: string | null;
  removalConfirmedAt: Date | null;
}

export interface ReviewSignOff {
  cardId: number;
  audience: 'manager' | 'security';
  reviewer: string;
  lines: number;
  kept: number;
  revoked: number;
  undecided: number;
  signedOffBy: string | null;
  signedOffAt: Date | null;
  overdue: boolean;
  reminders: number;
  escalatedAt: Date | null;
  escalatedTo: string | null;
}

export interface ReviewReport {
  generatedAt: Date;
  campaign: Campaign;
  /** The population hash `review.started` recorded, and whether the stored lines still hash to it. */
  population: { recorded: string | null; recomputed: string; matches: boolean };
  /** Resources in scope the campaign did not review, and why (as `review.started` recorded them). */
  skipped: Array<{ resource: string; reason: string }>;
  totals: { lines: number; people: number; kept: number; revoked: number; undecided: number; revokedVerified: number; revokedConfirmedByOwners: number; revokePending: number; left: number; unmanaged: number; newSinceLastReview: number; signOffs: number; cards: number; overdueCards: number };
  signOffs: ReviewSignOff[];
  lines: ReviewReportLine[];
}

/** The latest campaign, or the one asked for; undefined when there is none. */
export async function loadReviewReport(db: Db, options: { campaignId?: number | undefined; now: Date }): Promise<ReviewReport | undefined> {
  const [campaign] =
    options.campaignId !== undefined
      ? await db.select().from(reviewCampaigns).where(eq(reviewCampaigns.id, options.campaignId))
      : await db.select().from(reviewCampaigns).where(inArray(reviewCampaigns.state, ['open', 'closed'])).orderBy(desc(reviewCampaigns.id)).limit(1);
  if (!campaign) return undefined;
  const cards = await db.select().from(reviewCards).where(eq(reviewCards.campaignId, campaign.id)).orderBy(reviewCards.id);
  const items = await db.select().from(reviewItems).where(eq(reviewItems.campaignId, campaign.id));
  const [started] = await db
    .select({ details: evidenceEvents.details })
    .from(evidenceEvents)
    .where(and(eq(evidenceEvents.kind, 'review.started'), sql`${evidenceEvents.details}->>'campaign_id' = ${String(campaign.id)}`))
    .limit(1);
  const byCard = new Map(cards.map((c) => [c.id, c]));
  const now = options.now;
  const overdue = (card: Card | undefined) => Boolean(card && campaign.dueAt && (card.signedOffAt ? card.signedOffAt > campaign.dueAt : campaign.state !== 'closed' && now > campaign.dueAt));
  const removals = await confirmedRemovals(db, campaign.id);
  const lines = items
    .sort((a, b) => comparePopulation(a, b) || a.id - b.id)
    .map((item) => ({ ...line(item, item.cardId !== null ? byCard.get(item.cardId) : undefined, overdue), ...byHand(campaign, item, removals) }));
  const recomputed = populationHash(
    items.map((i) => ({ resource: i.resource, principal: i.principal, email: i.email, grantId: i.grantId, requestId: i.requestId, route: i.route, reviewer: i.cardId !== null ? (byCard.get(i.cardId)?.recipient ?? null) : null })),
  );
  const start = started && readDetails('review.started', started.details);
  const recorded = start?.population_sha256 ?? null;
  const skipped = start?.skipped_resources ?? [];
  const signOffs = cards.map((card) => signOffOf(card, items, overdue));
  return {
    generatedAt: now,
    campaign,
    population: { recorded, recomputed, matches: recorded === recomputed },
    skipped,
    totals: { ...totalsOf(items, cards, signOffs), revokedConfirmedByOwners: lines.filter((l) => l.removalConfirmedBy !== null).length },
    signOffs,
    lines,
  };
}

function signOffOf(card: Card, items: Item[], overdue: (card: Card | undefined) => boolean): ReviewSignOff {
  const mine = items.filter((i) => i.cardId === card.id);
  return {
    cardId: card.id,
    audience: card.audience,
    reviewer: card.recipient,
    lines: mine.length,
    kept: mine.filter((i) => i.decision === 'keep').length,
    revoked: mine.filter((i) => i.decision === 'revoke').length,
    undecided: mine.filter((i) => i.decision === null).length,
    signedOffBy: card.signedOffBy,
    signedOffAt: card.signedOffAt,
    overdue: overdue(card),
    reminders: card.reminders,
    escalatedAt: card.escalatedAt,
    escalatedTo: card.escalatedAt ? card.escalateTo : null,
  };
}

/** Review revokes of access granted by hand, as their evidence records them: the owner whose Done confirmed each removal. */
async function confirmedRemovals(db: Db, campaignId: number): Promise<Map<number, { by: string; at: Date }>> {
  const rows = await db
    .select({ details: evidenceEvents.details })
    .from(evidenceEvents)
    .where(and(eq(evidenceEvents.kind, 'grant.revoked'), sql`${evidenceEvents.details}->>'campaign_id' = ${String(campaignId)}`, sql`${evidenceEvents.details}->>'provider_call' = 'confirmed_by_owner'`));
  const out = new Map<number, { by: string; at: Date }>();
  for (const row of rows) {
    const d = readDetails('grant.revoked', row.details);
    if (d && 'confirmed_by' in d) out.set(d.item_id, { by: d.confirmed_by, at: new Date(d.revoked_at) });
  }
  return out;
}

/** A line granted by hand says so in its basis, and names whose Done removed it. */
function byHand(campaign: Campaign, item: Item, removals: Map<number, { by: string; at: Date }>): Partial<ReviewReportLine> {
  if (campaign.targets?.[item.resource]?.kind !== 'manual') return {};
  const removal = removals.get(item.id);
  return {
    grantedBy: item.requestId !== null ? `request #${item.requestId} (granted by hand, confirmed by its owners)` : 'unmanaged',
    removalConfirmedBy: removal?.by ?? null,
    removalConfirmedAt: removal?.at ?? null,
  };
}

function totalsOf(items: Item[], cards: Card[], signOffs: ReviewSignOff[]): Omit<ReviewReport['totals'], 'revokedConfirmedByOwners'> {
  return {
    lines: items.length,
    people: new Set(items.map((i) => i.directoryId ?? (i.email ?? i.principal).toLowerCase())).size,
    kept: items.filter((i) => i.decision === 'keep').length,
    revoked: items.filter((i) => i.decision === 'revoke').length,
    undecided: items.filter((i) => i.decision === null).length,
    revokedVerified: items.filter((i) => i.revokeState === 'revoked' && i.revokeVerified).length,
    revokePending: items.filter((i) => i.revokeState === 'pending').length,
    left: items.filter((i) => i.route === 'left').length,
    unmanaged: items.filter((i) => i.grantId === null).length,
    newSinceLastReview: items.filter((i) => i.isNew === true).length,
    signOffs: cards.filter((c) => c.signedOffAt !== null).length,
    cards: cards.length,
    overdueCards: signOffs.filter((s) => s.overdue).length,
  };
}

function line(item: Item, card: Card | undefined, overdue: (card: Card | undefined) => boolean): ReviewReportLine {
  return {
    itemId: item.id,
    resource: item.resource,
    person: item.personName ?? item.principal,
    email: item.email,
    principal: item.principal,
    slackUser: item.personSlack,
    grantedBy: item.requestId !== null ? `request #${item.requestId}` : 'unmanaged',
    since: item.since,
    sinceSource: item.sinceSource,
    newSinceLastReview: item.isNew,
    reviewer: card?.recipient ?? null,
    audience: card?.audience ?? null,
    route: item.route,
    routeNote: item.routeNote,
    decision: item.decision,
    decidedBy: item.decidedBy,
    decidedAt: item.decidedAt,
    signedOffBy: card?.signedOffBy ?? null,
    signedOffAt: card?.signedOffAt ?? null,
    overdue: overdue(card),
    revokeState: item.revokeState,
    revokedAt: item.revokedAt,
    revokeVerified: item.revokeVerified,
    revokeError: item.revokeError,
    removalConfirmedBy: null,
    removalConfirmedAt: null,
  };
}
