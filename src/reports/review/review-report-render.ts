import { toSafeCsv, type Cell } from '../csv-safe.ts';
import type { ReviewReport, ReviewReportLine } from './review-report.ts';

/** The review report worded: CSV for spreadsheets, Markdown for people. */

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
  'removal_confirmed_by',
  'removal_confirmed_at',
] as const;

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const flag = (b: boolean | null) => (b === null ? null : b ? 'yes' : 'no');

/** One row per line of access: what the reviewer saw, the decision, the sign-off, the revoke. */
export function reviewLineRow(campaign: ReviewReport['campaign'], l: ReviewReportLine): Record<(typeof REVIEW_REPORT_COLUMNS)[number], Cell> {
  return {
    campaign_id: campaign.id,
    period: campaign.period,
    item_id: l.itemId,
    resource: l.resource,
    person: l.person,
    email: l.email,
    principal: l.principal,
    slack_user: l.slackUser,
    granted_by: l.grantedBy,
    since: iso(l.since),
    since_source: l.sinceSource,
    new_since_last_review: flag(l.newSinceLastReview),
    reviewer: l.reviewer,
    route: l.route,
    route_note: l.routeNote,
    decision: l.decision,
    decided_by: l.decidedBy,
    decided_at: iso(l.decidedAt),
    signed_off_by: l.signedOffBy,
    signed_off_at: iso(l.signedOffAt),
    overdue: flag(l.overdue),
    revoke_state: l.revokeState,
    revoked_at: iso(l.revokedAt),
    revoke_verified: flag(l.revokeVerified),
    revoke_error: l.revokeError,
    removal_confirmed_by: l.removalConfirmedBy,
    removal_confirmed_at: iso(l.removalConfirmedAt),
  };
}

/** One row per line of access, RFC 4180, Excel-safe (csv-safe.ts), without a byte order mark (for piping). */
export function reviewReportCsv(report: ReviewReport): string {
  return toSafeCsv(REVIEW_REPORT_COLUMNS, report.lines.map((l) => reviewLineRow(report.campaign, l)), { bom: false });
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
  const out = [...heading(report), ...summary(report), ...notReviewed(report), ...signOffs(report), ...overdue(report), ...revocations(report), ...allLines(report)];
  return `${out.join('\n')}\n`;
}

/** The title, and the campaign's facts: scope, dates, state, its population and the policy it ran under. */
function heading(report: ReviewReport): string[] {
  const c = report.campaign;
  const t = report.totals;
  return [
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
  ];
}

function summary({ totals: t }: ReviewReport): string[] {
  return [
    '## Summary',
    '',
    `- Lines: ${t.lines} — kept ${t.kept}, revoked ${t.revoked}, undecided ${t.undecided}`,
    `- Revocations: ${t.revoked} — ${t.revokedVerified} verified gone at the provider, ${t.revokedConfirmedByOwners} removed by hand and confirmed by the system's owners, ${t.revokePending} still pending (being retried, or awaiting an owner's Done)`,
    `- Unmanaged (granted outside breakglass): ${t.unmanaged}; new since the last review: ${t.newSinceLastReview}; people who have left (revoked automatically): ${t.left}`,
    `- Sign-offs: ${t.signOffs} of ${t.cards}; overdue: ${t.overdueCards}`,
    '',
  ];
}

function notReviewed(report: ReviewReport): string[] {
  return ['## Not reviewed', '', ...table(['Resource', 'Reason'], report.skipped.map((s) => [s.resource, s.reason]))];
}

function signOffs(report: ReviewReport): string[] {
  return [
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
  ];
}

function overdue(report: ReviewReport): string[] {
  return [
    '## Overdue',
    '',
    ...table(
      ['Reviewer', 'Undecided', 'Signed off at', 'Escalated at'],
      report.signOffs.filter((s) => s.overdue).map((s) => [s.reviewer, s.undecided, iso(s.signedOffAt) || 'not signed off', iso(s.escalatedAt)]),
    ),
  ];
}

function revocations(report: ReviewReport): string[] {
  return [
    '## Revocations',
    '',
    ...table(
      ['Person', 'Email', 'Resource', 'Granted by', 'Decided by', 'Decided at', 'Revoked at', 'Verified', 'Error'],
      report.lines
        .filter((l) => l.decision === 'revoke')
        .map((l) => [l.person, l.email, l.resource, l.grantedBy, l.decidedBy, iso(l.decidedAt), iso(l.revokedAt) || 'pending', l.removalConfirmedBy ? `confirmed by owner ${l.removalConfirmedBy}` : flag(l.revokeVerified), l.revokeError]),
    ),
  ];
}

function allLines(report: ReviewReport): string[] {
  return [
    '## All lines',
    '',
    ...table(
      ['Person', 'Email', 'Resource', 'Granted by', 'Since', 'New', 'Reviewer', 'Route', 'Decision', 'Decided by', 'Decided at'],
      report.lines.map((l) => [l.person, l.email, l.resource, l.grantedBy, iso(l.since), flag(l.newSinceLastReview), l.reviewer, l.route + (l.routeNote ? `: ${l.routeNote}` : ''), l.decision ?? 'undecided', l.decidedBy, iso(l.decidedAt)]),
    ),
  ];
}
