import { EvidenceHistory, scheduledEnd, type GrantApplied, type GrantRecord } from '../history.ts';
import { GAP_TITLES, LATE_REVOKE_TOLERANCE_MS, missingSignOffs, offboardingRecords, reviewCampaigns, type GapKind, type ReadinessReport } from '../readiness/readiness.ts';
import type { AccessInterval, AccessTimeline, Basis } from '../access/timeline.ts';

/**
 * What report.html shows, gathered from the evidence: plain data (strings, numbers, ISO instants),
 * no markup. report-html.ts renders it; keeping the two apart lets the figures be checked as data
 * and the page stay a pure function of them.
 */

export type BasisKind = 'grant' | 'emergency' | 'review_keep' | 'unmanaged';

export const BASIS_LABELS: Record<BasisKind, string> = {
  grant: 'approved grant',
  emergency: 'emergency self-grant',
  review_keep: 'kept in an access review',
  unmanaged: 'unmanaged (granted by nobody)',
};

export interface AccessRow {
  anchor: string;
  resource: string;
  person: string;
  principal: string | null;
  basis: BasisKind;
  /** What the basis says: the request and approvers, the review and reviewer, or why unmanaged. */
  basisText: string;
  from: string;
  /** Null: still held at the end of the period. */
  to: string | null;
  ended: string | null;
  seqs: number[];
}

export interface ResourceTimeline {
  resource: string;
  /** One lane per person, in order of first access; each bar is an AccessRow by index. */
  lanes: Array<{ person: string; rows: AccessRow[] }>;
}

export interface ExceptionRow {
  anchor: string;
  id: string;
  kind: GapKind;
  title: string;
  summary: string;
  at: string;
  seqs: number[];
  responses: Array<{ by: string; at: string; text: string; seq: number }>;
}

export interface ReviewRow {
  anchor: string;
  campaign: string;
  startedAt: string | null;
  dueAt: string | null;
  decided: number;
  kept: number;
  revoked: number;
  signOffs: number;
  /** Sign-offs the campaign needs, when the evidence says. */
  expected: number | null;
  missing: number;
  closedAt: string | null;
  seqs: number[];
}

export interface OffboardingRow {
  anchor: string;
  person: string;
  deactivatedAt: string | null;
  accessEndedAt: string | null;
  tookMs: number | null;
  slaMs: number | null;
  slaMet: boolean | null;
  seqs: number[];
}

export interface RevokeRow {
  anchor: string;
  grantId: string;
  person: string;
  resource: string;
  scheduledEnd: string;
  revokedAt: string;
  lateByMs: number;
  late: boolean;
  seqs: number[];
}

export interface ControlSection {
  id: string;
  meaning: string;
  narrative: string;
  population: Array<{ label: string; count: number; href: string }>;
  /** Anchors of the exceptions that bear on this control. */
  exceptions: Array<{ id: string; anchor: string; title: string }>;
  files: Array<{ file: string; checks: string }>;
}

export interface ReportData {
  period: { from: string; to: string };
  generatedAt: string;
  scope: { resources: string[]; policyHash: string; policyPath: string; policyVersions: Array<{ hash: string; since: string; seq: number }> };
  ledger: { ok: boolean; count: number; headHash: string; eventsInPeriod: number; problem: string | null };
  population: Array<{ label: string; count: number; href: string }>;
  controls: ControlSection[];
  exceptions: ExceptionRow[];
  timelines: ResourceTimeline[];
  reviews: ReviewRow[];
  offboarding: OffboardingRow[];
  revokes: RevokeRow[];
  lateToleranceMs: number;
  notes: string[];
}

export interface ReportInput {
  period: { from: Date; to: Date };
  now: Date;
  history: EvidenceHistory;
  timeline: AccessTimeline;
  readiness: ReadinessReport;
  verification: { ok: boolean; count: number; head_hash: string; problem?: { seq: number; reason: string } | null | undefined };
  eventsInPeriod: number;
  access: { hash: string; path: string; resources: string[] };
  policyVersions: Array<{ hash: string; since: string; seq: number }>;
  files: Array<{ file: string; criteria: string[]; checks: string }>;
  criteria: Record<string, string>;
  notes: string[];
}

const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);
const within = (date: Date | null | undefined, period: { from: Date; to: Date }) => Boolean(date && date >= period.from && date < period.to);

/** An id usable in an HTML id attribute and a URL fragment, whatever the evidence named. */
export function anchorOf(prefix: string, key: string | number): string {
  return `${prefix}-${String(key).replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.codePointAt(0)!.toString(16)}`)}`;
}

export function gatherReport(input: ReportInput): ReportData {
  const { period } = input;
  const timelines = accessTimelines(input.timeline.between(period.from, period.to));
  const exceptions = exceptionRows(input.readiness);
  const reviews = reviewRows(input.history, period);
  const offboarding = offboardingRows(input.history, period);
  const revokes = revokeRows(input.history, period);
  const gathered = { timelines, exceptions, reviews, offboarding, revokes };
  const population = populationOf(input, gathered);
  return {
    period: { from: period.from.toISOString(), to: period.to.toISOString() },
    generatedAt: input.now.toISOString(),
    scope: { resources: [...new Set([...input.access.resources, ...timelines.map((t) => t.resource)])].sort(), policyHash: input.access.hash, policyPath: input.access.path, policyVersions: input.policyVersions },
    ledger: {
      ok: input.verification.ok,
      count: input.verification.count,
      headHash: input.verification.head_hash,
      eventsInPeriod: input.eventsInPeriod,
      problem: input.verification.problem ? `event ${input.verification.problem.seq}: ${input.verification.problem.reason}` : null,
    },
    population,
    controls: controlSections(input, population, exceptions),
    ...gathered,
    lateToleranceMs: input.readiness.late_revoke_tolerance_ms ?? LATE_REVOKE_TOLERANCE_MS,
    notes: input.notes,
  };
}

type Gathered = Pick<ReportData, 'timelines' | 'exceptions' | 'reviews' | 'offboarding' | 'revokes'>;

/** The headline counts, each linking to the rows it counts. */
function populationOf(input: ReportInput, g: Gathered): ReportData['population'] {
  const rows = g.timelines.flatMap((t) => t.lanes.flatMap((l) => l.rows));
  const byBasis = (basis: BasisKind) => rows.filter((r) => r.basis === basis).length;
  const people = new Set(rows.map((r) => r.person)).size;
  const alerts = [...input.history.alerts.values()].filter((a) => within(a.raisedAt, input.period)).length;
  return [
    { label: 'intervals of production access', count: rows.length, href: '#access' },
    { label: 'people who held access', count: people, href: '#access' },
    { label: 'approved grants', count: byBasis('grant'), href: '#access' },
    { label: 'emergency self-grants', count: byBasis('emergency'), href: '#access' },
    { label: 'access kept in reviews', count: byBasis('review_keep'), href: '#access' },
    { label: 'unmanaged access', count: byBasis('unmanaged'), href: '#access' },
    { label: 'revocations', count: g.revokes.length, href: '#revokes' },
    { label: 'review campaigns', count: g.reviews.length, href: '#reviews' },
    { label: 'offboardings', count: g.offboarding.length, href: '#offboarding' },
    { label: 'security alerts raised', count: alerts, href: '#exceptions' },
    { label: 'exceptions', count: g.exceptions.length, href: '#exceptions' },
  ];
}

function basisKind(basis: Basis): BasisKind {
  if (basis.kind === 'emergency_grant') return 'emergency';
  return basis.kind;
}

function basisText(basis: Basis): string {
  switch (basis.kind) {
    case 'grant':
    case 'emergency_grant': {
      const approved = basis.approvedBy.length > 0 ? `approved by ${basis.approvedBy.join(', ')}` : basis.selfGranted ? 'self-granted' : 'no approval recorded';
      const reviewed = basis.emergencyReview ? `; reviewed by ${basis.emergencyReview.by} at ${basis.emergencyReview.at.toISOString()}` : '';
      return `request ${basis.requestId ?? '?'} (grant ${basis.grantId}), ${approved}${reviewed}; reason: ${basis.reason ?? '(none recorded)'}${basis.ticket ? `; ticket ${basis.ticket}` : ''}`;
    }
    case 'review_keep':
      return `kept by ${basis.reviewer} in review campaign ${basis.campaignId}${basis.period ? ` (${basis.period})` : ''} at ${basis.decidedAt.toISOString()}`;
    case 'unmanaged':
      return basis.note ?? 'seen at the provider; no grant or review covers it';
  }
}

function accessRow(interval: AccessInterval, index: number): AccessRow {
  const ended = interval.ended;
  return {
    anchor: anchorOf('access', index + 1),
    resource: interval.resource,
    person: interval.person.label,
    principal: interval.principal,
    basis: basisKind(interval.basis),
    basisText: basisText(interval.basis),
    from: interval.from.toISOString(),
    to: iso(interval.to),
    ended: ended ? `${ended.how.replace(/_/g, ' ')}${ended.by ? ` by ${ended.by}` : ''}` : null,
    seqs: [...interval.evidence].sort((a, b) => a - b),
  };
}

/** Intervals of the period grouped by resource, then by person (one lane each). */
export function accessTimelines(intervals: AccessInterval[]): ResourceTimeline[] {
  const rows = intervals.map(accessRow);
  const resources = new Map<string, Map<string, AccessRow[]>>();
  for (const row of rows) {
    const lanes = resources.get(row.resource) ?? new Map<string, AccessRow[]>();
    resources.set(row.resource, lanes);
    lanes.set(row.person, [...(lanes.get(row.person) ?? []), row]);
  }
  return [...resources.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([resource, lanes]) => ({ resource, lanes: [...lanes.entries()].map(([person, laneRows]) => ({ person, rows: laneRows })) }));
}

function exceptionRows(readiness: ReadinessReport): ExceptionRow[] {
  return readiness.gaps.map((gap, index) => {
    const id = gap.id ?? `${gap.kind}:${gap.seqs[0] ?? gap.at}`;
    return { anchor: anchorOf('exception', index + 1), id, kind: gap.kind, title: GAP_TITLES[gap.kind], summary: gap.summary, at: gap.at, seqs: gap.seqs, responses: gap.responses ?? [] };
  });
}

/** Campaigns with any event in the period: lines decided, sign-offs against those needed. */
function reviewRows(history: EvidenceHistory, period: { from: Date; to: Date }): ReviewRow[] {
  return reviewCampaigns(history.reviewEvents)
    .filter((c) => c.events.some((e) => within(e.occurredAt, period)))
    .map((c) => {
      const decided = c.events.filter((e) => e.kind === 'review.decided');
      const missing = missingSignOffs(c, period.to);
      return {
        anchor: anchorOf('review', c.id),
        campaign: c.id,
        startedAt: iso(c.started?.occurredAt),
        dueAt: iso(c.dueAt),
        decided: decided.length,
        kept: decided.filter((e) => e.details.decision === 'keep').length,
        revoked: decided.filter((e) => e.details.decision === 'revoke').length,
        signOffs: c.signOffs.length,
        expected: c.reviewers.length > 0 ? c.reviewers.length : c.expectedSignOffs,
        missing: missing.count,
        closedAt: iso(c.closed?.occurredAt),
        seqs: c.events.map((e) => e.seq),
      };
    });
}

function offboardingRows(history: EvidenceHistory, period: { from: Date; to: Date }): OffboardingRow[] {
  return offboardingRecords(history.offboardingEvents)
    .filter((r) => within(r.detected?.occurredAt, period) || within(r.completed?.occurredAt, period))
    .map((r, index) => ({
      anchor: anchorOf('offboarding', index + 1),
      person: r.person ?? '(unknown)',
      deactivatedAt: iso(r.deactivatedAt),
      accessEndedAt: r.completion?.access_ended_at ?? null,
      tookMs: r.tookMs,
      slaMs: r.slaMs,
      slaMet: r.completion?.sla_met ?? null,
      seqs: [r.detected?.seq, r.completed?.seq].filter((s): s is number => s !== undefined),
    }));
}

/** Revocations in the period, with how long after the grant's end each came. */
function revokeRows(history: EvidenceHistory, period: { from: Date; to: Date }): RevokeRow[] {
  const tolerance = LATE_REVOKE_TOLERANCE_MS;
  return history
    .appliedGrants()
    .filter((g): g is GrantRecord & { applied: GrantApplied; revocation: NonNullable<GrantRecord['revocation']> } => g.revocation !== null && within(g.revocation.at, period))
    .sort((a, b) => a.revocation.seq - b.revocation.seq)
    .map((g) => ({
      anchor: anchorOf('revoke', g.grantId),
      grantId: g.grantId,
      person: g.person ?? '(unknown)',
      resource: g.resource ?? '(unknown)',
      scheduledEnd: (g.revocation.scheduledEnd ?? scheduledEnd(g)).toISOString(),
      revokedAt: g.revocation.at.toISOString(),
      lateByMs: Math.max(0, g.revocation.lateByMs),
      late: g.revocation.lateByMs > tolerance,
      seqs: [g.applied.seq, g.revocation.seq],
    }));
}

const CONTROL_GAPS: Record<string, GapKind[]> = {
  'CC6.1': ['ledger_tampered', 'checkpoint_missing', 'unapproved_grant'],
  'CC6.2': ['unapproved_grant', 'late_revoke', 'not_revoked', 'unreviewed_emergency', 'offboarding_past_sla'],
  'CC6.3': ['review_overdue', 'unapproved_grant'],
  'CC7.2': ['ledger_tampered', 'checkpoint_missing', 'checkpoint_overdue', 'silent_days', 'bot_down', 'bot_stopped', 'unacknowledged_alert'],
  'CC7.3': ['unacknowledged_alert', 'unreviewed_emergency'],
  'CC8.1': ['ledger_tampered'],
};

const NARRATIVES: Record<string, string> = {
  'CC6.1': 'Production access is given only through the groups, policies and roles breakglass manages, as written in access.yml; every change is a hash-chained evidence event, and the listings of each resource record access that appeared outside it.',
  'CC6.2': 'Access is granted only after a request with a reason and the configured approvals (or an emergency self-grant, reviewed afterwards), for a limited time, and removed at its end, at a review’s Revoke, or when the person leaves.',
  'CC6.3': 'Managers review everyone’s standing access each campaign, keeping or revoking each line, and sign off; nobody approves or reviews their own access.',
  'CC7.2': 'breakglass monitors its own evidence: the ledger is re-verified, signed checkpoints are posted daily, drift and failed revocations raise security alerts, and the bot’s uptime is recorded.',
  'CC7.3': 'Security alerts are acknowledged in Slack, emergency grants reviewed, and exceptions answered by management; each response is evidence.',
  'CC8.1': 'Every version of the access policy in force is recorded (`config.loaded`, with its SHA-256 and source), so each decision is tied to the policy it was made under.',
};

function controlSections(input: ReportInput, population: ReportData['population'], exceptions: ExceptionRow[]): ControlSection[] {
  const count = (label: string) => population.find((p) => p.label === label)!;
  const populations: Record<string, string[]> = {
    'CC6.1': ['intervals of production access', 'people who held access', 'unmanaged access'],
    'CC6.2': ['approved grants', 'emergency self-grants', 'revocations', 'offboardings'],
    'CC6.3': ['review campaigns', 'access kept in reviews'],
    'CC7.2': ['security alerts raised', 'exceptions'],
    'CC7.3': ['security alerts raised', 'emergency self-grants', 'exceptions'],
    'CC8.1': [],
  };
  return Object.entries(input.criteria).map(([id, meaning]) => ({
    id,
    meaning,
    narrative: NARRATIVES[id] ?? '',
    population: [
      ...(populations[id] ?? []).map(count),
      ...(id === 'CC8.1' || id === 'CC7.2' ? [{ label: id === 'CC8.1' ? 'policy versions in force' : 'evidence events in the period', count: id === 'CC8.1' ? input.policyVersions.length : input.eventsInPeriod, href: '#scope' }] : []),
    ],
    exceptions: exceptions.filter((e) => (CONTROL_GAPS[id] ?? []).includes(e.kind)).map((e) => ({ id: e.id, anchor: e.anchor, title: e.title })),
    files: input.files.filter((f) => f.criteria.includes(id)).map((f) => ({ file: f.file, checks: f.checks })),
  }));
}

