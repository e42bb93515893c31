import { stringify } from 'csv-stringify/sync';
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { evidenceEvents, reviewCampaigns, reviewCards, reviewItems } from '../db/schema.ts';
import { readDetails } from '../domain/events.ts';
import { comparePopulation, populationHash } from '../domain/review.ts';

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
  totals: { lines: number; people: number; kept: number; revoked: number; undecided: number; revokedVerified: number; revokePending: number; left: number; unmanaged: number; newSinceLastReview: number; signOffs: number; cards: number; overdueCards: number };
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
  const lines = items.sort((a, b) => comparePopulation(a, b) || a.id - b.id).map((item) => line(item, item.cardId !== null ? byCard.get(item.cardId) : undefined, overdue));
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
    totals: totalsOf(items, cards, signOffs),
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

function totalsOf(items: Item[], cards: Card[], signOffs: ReviewSignOff[]): ReviewReport['totals'] {
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
  };
}

export const REVIEW_REPORT_COLUMNS = [
  'campaign_id',
  'period',
  'item_id',
  'resource',
  'person',
  'email',
  'principal',
  'slack_user',
  'granted_by',
  'since',
  'since_source',
  'new_since_last_review',
  'reviewer',
  'route',
  'route_note',
  'decision',
  'decided_by',
  'decided_at',
  'signed_off_by',
  'signed_off_at',
  'overdue',
  'revoke_state',
  'revoked_at',
  'revoke_verified',
  'revoke_error',
] as const;

const iso = (d: Date | null) => (d ? d.toISOString() : '');
const flag = (b: boolean | null) => (b === null ? '' : b ? 'yes' : 'no');

/** One row per line of access, RFC 4180. */
export function reviewReportCsv(report: ReviewReport): string {
  const c = report.campaign;
  return stringify(
    report.lines.map((l) => [
      c.id,
      c.period,
      l.itemId,
      l.resource,
      l.person,
      l.email ?? '',
      l.principal,
      l.slackUser ?? '',
      l.grantedBy,
      iso(l.since),
      l.sinceSource ?? '',
      flag(l.newSinceLastReview),
      l.reviewer ?? '',
      l.route,
      l.routeNote ?? '',
      l.decision ?? '',
      l.decidedBy ?? '',
      iso(l.decidedAt),
      l.signedOffBy ?? '',
      iso(l.signedOffAt),
      flag(l.overdue),
      l.revokeState ?? '',
      iso(l.revokedAt),
      flag(l.revokeVerified),
      l.revokeError ?? '',
    ]),
    { header: true, columns: [...REVIEW_REPORT_COLUMNS], record_delimiter: '\n' },
  );
}

/** A cell: pipes escaped, line breaks flattened, empty shown as a dash. */
function cell(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  return String(value).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

function table(head: string[], rows: Array<Array<string | number | null | undefined>>): string[] {
  if (rows.length === 0) return ['_None._', ''];
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`), ''];
}

/** The campaign for people: summary, sign-offs, overdue reviewers, revocations, then every line. */
export function reviewReportMarkdown(report: ReviewReport): string {
  const c = report.campaign;
  const t = report.totals;
  const out: string[] = [
    `# Access review #${c.id}: ${cell(c.period)}`,
    '',
    `Generated ${report.generatedAt.toISOString()} by breakglass.`,
    '',
    ...table(
      ['', ''],
      [
        ['Scope', c.scope.join(', ')],
        ['Started', `${iso(c.openedAt) || 'not yet (requested ' + c.requestedAt.toISOString() + ')'} by ${c.requestedBy} (${c.trigger})`],
        ['Due', iso(c.dueAt)],
        ['State', c.state === 'closed' ? `closed ${iso(c.closedAt)}` : c.state],
        ['Population', `${t.lines} line(s) of access, ${t.people} people; SHA-256 ${report.population.recomputed}`],
        ['Population check', report.population.recorded === null ? 'no review.started event yet' : report.population.matches ? 'matches the ledger (review.started)' : `DOES NOT MATCH the ledger (recorded ${report.population.recorded})`],
        ['Access policy (access.yml SHA-256)', c.configHash],
      ],
    ),
    '## Summary',
    '',
    `- Lines: ${t.lines} — kept ${t.kept}, revoked ${t.revoked}, undecided ${t.undecided}`,
    `- Revocations: ${t.revoked} — ${t.revokedVerified} verified gone at the provider, ${t.revokePending} still being retried`,
    `- Unmanaged (granted outside breakglass): ${t.unmanaged}; new since the last review: ${t.newSinceLastReview}; people who have left (revoked automatically): ${t.left}`,
    `- Sign-offs: ${t.signOffs} of ${t.cards}; overdue: ${t.overdueCards}`,
    '',
    '## Not reviewed',
    '',
    ...table(['Resource', 'Reason'], report.skipped.map((s) => [s.resource, s.reason])),
    '## Sign-offs',
    '',
    ...table(
      ['Reviewer', 'Lines', 'Kept', 'Revoked', 'Undecided', 'Signed off by', 'Signed off at', 'On time', 'Reminders', 'Escalated to'],
      report.signOffs.map((s) => [
        s.audience === 'security' ? `security channel ${s.reviewer}` : s.reviewer,
        s.lines,
        s.kept,
        s.revoked,
        s.undecided,
        s.signedOffBy,
        iso(s.signedOffAt),
        s.overdue ? 'OVERDUE' : s.signedOffAt ? 'yes' : 'pending',
        s.reminders,
        s.escalatedAt ? `${s.escalatedTo ? `${s.escalatedTo} and ` : ''}security, ${s.escalatedAt.toISOString()}` : '',
      ]),
    ),
    '## Overdue',
    '',
    ...table(
      ['Reviewer', 'Undecided', 'Signed off at', 'Escalated at'],
      report.signOffs.filter((s) => s.overdue).map((s) => [s.reviewer, s.undecided, iso(s.signedOffAt) || 'not signed off', iso(s.escalatedAt)]),
    ),
    '## Revocations',
    '',
    ...table(
      ['Person', 'Email', 'Resource', 'Granted by', 'Decided by', 'Decided at', 'Revoked at', 'Verified', 'Error'],
      report.lines.filter((l) => l.decision === 'revoke').map((l) => [l.person, l.email, l.resource, l.grantedBy, l.decidedBy, iso(l.decidedAt), iso(l.revokedAt) || 'pending', flag(l.revokeVerified), l.revokeError]),
    ),
    '## All lines',
    '',
    ...table(
      ['Person', 'Email', 'Resource', 'Granted by', 'Since', 'New', 'Reviewer', 'Route', 'Decision', 'Decided by', 'Decided at'],
      report.lines.map((l) => [l.person, l.email, l.resource, l.grantedBy, iso(l.since), flag(l.newSinceLastReview), l.reviewer, l.route + (l.routeNote ? `: ${l.routeNote}` : ''), l.decision ?? 'undecided', l.decidedBy, iso(l.decidedAt)]),
    ),
  ];
  return `${out.join('\n')}\n`;
}
