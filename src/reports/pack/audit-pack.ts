import { createHash } from 'node:crypto';
import { finishTimeline } from '../access/access-record.ts';
import { ACCESS_CSV_COLUMNS, accessCsvRow } from '../access/access-render.ts';
import { TimelineBuilder } from '../access/timeline.ts';
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { inArray } from 'drizzle-orm';
import { EMERGENCY_REVIEW_WITHIN_MS } from '../../domain/emergency.ts';
import type { LoadedAccessConfig } from '../../config/access.ts';
import type { Db } from '../../db/client.ts';
import { evidenceEvents } from '../../db/schema.ts';
import { readDetails } from '../../domain/events.ts';
import { checkpointFromDetails, checkpointSignatureValid, keyFingerprint, type CheckpointSigner } from '../../ledger/checkpoint.ts';
import { CSV_CONVENTIONS, toSafeCsv } from '../csv-safe.ts';
import { GENESIS_HASH, type StoredEvent } from '../../ledger/event.ts';
import { headRowProblem, readHeadRow, type HeadRow } from '../../ledger/head-row.ts';
import { exportEvents } from '../export/export.ts';
import { approversOf, EvidenceHistory, humanDuration, scheduledEnd, text, type ApprovalRecord, type GrantApplied, type GrantRecord } from '../history.ts';
import { detailsText, slackToText } from '../human-text.ts';
import { PROOF_FILES, SIGNATURE_FILE, signSums, writePackProof } from './pack-proof.ts';
import { renderPolicy } from '../policy/policy-doc.ts';
import { assessReadiness, campaignId, escapeMarkdown, newestCheckpointCheck, offboardingRecords, readinessToMarkdown, type ReadinessReport } from '../readiness/readiness.ts';
import { readEventPages } from '../../ledger/read.ts';
import { verifyLedger, type VerifyResult } from '../../ledger/verify.ts';
import { PEOPLE_COLUMNS, PeopleHistory } from '../access/people-csv.ts';
import { REVIEW_LINES_COLUMNS, reviewLineRows } from './pack-review-lines.ts';
import { REPORT_FILES, writePackReport } from './pack-report.ts';
import type { ReportInput } from './report-data.ts';
import type { PdfOutcome, PdfPrinter } from './report-pdf.ts';
import type { AccessTimeline } from '../access/timeline.ts';

/**
 * The package an auditor gets for a period: one plain file per part (CSV, Markdown, JSON), an
 * index mapping each file to the SOC 2 criteria it supports, and SHA256SUMS over all of them.
 * Everything is derived from the evidence ledger (and the policy from access.yml); running it
 * twice over the same ledger writes the same bytes, except the generation time in README.md and
 * report.html (and so their lines in SHA256SUMS), and report.pdf, which Chromium dates.
 */

export interface Period {
  from: Date;
  /** Exclusive. */
  to: Date;
}

type Applied = GrantRecord & { applied: GrantApplied };
type Row = Record<string, string | number | boolean | null>;

/** Columns of each CSV, in order; every file has its header even when it has no rows. */
export const CSV_COLUMNS = {
  'grants.csv': [
    'request_id', 'grant_id', 'person', 'resource', 'emergency', 'approved_by', 'reason', 'ticket', 'granted_at', 'ends_at', 'extensions',
    'revoked_at', 'revoked_by', 'revoke_reason', 'late_by_ms', 'late_by', 'sessions_ended', 'evidence_seqs',
  ],
  'access.csv': ACCESS_CSV_COLUMNS,
  'approvals.csv': [
    'request_id', 'resource', 'requester', 'request_kind', 'reason', 'ticket', 'requested_at', 'eligible_approvers', 'approvals_required', 'decision',
    'decided_by', 'decided_at', 'approval_count', 'final', 'self_grant', 'decided_by_requester', 'deny_reason', 'config_hash', 'seq',
  ],
  'emergency.csv': [
    'request_id', 'grant_id', 'person', 'resource', 'reason', 'ticket', 'granted_at', 'ends_at', 'revoked_at', 'reviewed_by', 'reviewed_at', 'reviewed_after',
    'reviewed_within_24h', 'escalated_at', 'alert_acknowledged_by', 'alert_acknowledged_at', 'evidence_seqs', 'basis', 'on_call',
  ],
  'reviews.csv': ['seq', 'occurred_at', 'kind', 'campaign_id', 'period', 'actor', 'reviewer', 'subject', 'resource', 'decision', 'due_at', 'overdue', 'details'],
  'review-lines.csv': REVIEW_LINES_COLUMNS,
  'offboarding.csv': [
    'person', 'slack_user', 'source', 'deactivated_at', 'detected_at', 'completed_at', 'access_ended_at', 'took', 'sla', 'sla_met', 'systems', 'unmanaged_access',
    'detected_seq', 'completed_seq',
  ],
  'alerts.csv': [
    'alert_id', 'alert_kind', 'raised_at', 'text', 'resource', 'subject', 'request_id', 'grant_id', 'acknowledged_by', 'acknowledged_at', 'acknowledged_after',
    'raised_seq', 'acknowledged_seq',
  ],
  'people.csv': PEOPLE_COLUMNS,
} as const;

export type CsvFile = keyof typeof CSV_COLUMNS;

/** Every file the pack writes, the SOC 2 criteria it supports, and what the auditor checks there. */
export const PACK_FILES: Array<{ file: string; criteria: string[]; checks: string }> = [
  ...REPORT_FILES,
  {
    file: 'grants.csv',
    criteria: ['CC6.1', 'CC6.2', 'CC6.3'],
    checks: 'Every grant of production access in the period has a request with a reason and a ticket, named approvers, and a revocation at (or within a minute of) its end; `late_by` shows any overrun.',
  },
  {
    file: 'access.csv',
    criteria: ['CC6.1', 'CC6.2', 'CC6.3'],
    checks: 'The population of production access in the period, whatever granted it: every interval of access that overlapped the period, each with its basis (a breakglass grant and its request, an emergency self-grant, a review’s Keep, or `unmanaged`: seen at the provider, granted by nobody) and how it ended. Sample from here; `grants.csv` is the breakglass-granted subset.',
  },
  {
    file: 'approvals.csv',
    criteria: ['CC6.2', 'CC6.3'],
    checks: 'Each decision was made by an eligible approver other than the requester (`decided_by_requester` is only ever true for emergency self-grants), with N-of-M counted by distinct people, under a recorded policy version.',
  },
  {
    file: 'emergency.csv',
    criteria: ['CC6.2', 'CC7.2', 'CC7.3'],
    checks:
      'Each emergency self-grant was alerted to security and reviewed by an approver within 24 hours, or escalated when it was not. Rows with `basis` `pagerduty_on_call` are on-call approvals, not emergencies: approved at once because PagerDuty had the requester on call (`on_call`: the shifts as PagerDuty returned them), reviewed the same way, with no security alert.',
  },
  {
    file: 'reviews.csv',
    criteria: ['CC6.2', 'CC6.3'],
    checks: 'Periodic access reviews were started on schedule, each line was kept or revoked by the person’s manager, and every campaign was signed off by its due date.',
  },
  {
    file: 'review-lines.csv',
    criteria: ['CC6.2', 'CC6.3'],
    checks: 'The review population: every line of every access review open in the period, as its reviewer saw it (person, resource, provider principal, basis — `request #N` or `unmanaged` — and since when), the decision, who made it and when, the reviewer’s sign-off, and whether the revoke was seen done at the provider; `population_matches_ledger` says whether the campaign’s lines still hash to the population its `review.started` event recorded.',
  },
  {
    file: 'offboarding.csv',
    criteria: ['CC6.2', 'CC6.3'],
    checks: 'Leavers lost every access within the offboarding SLA, system by system.',
  },
  {
    file: 'alerts.csv',
    criteria: ['CC7.2', 'CC7.3'],
    checks: 'Security alerts (emergency grants, failed revocations, escalations, drift) were acknowledged, by whom and how quickly.',
  },
  {
    file: 'people.csv',
    criteria: ['CC6.1', 'CC6.2'],
    checks: 'Everyone the evidence names, by one stable id (the `subject` of their `person.*` events): every name they had in Slack, Okta and at the providers (so an event under a Slack id and one under an email can be tied to the same person), their manager, status, when first seen and when deactivated, as known at the end of the period.',
  },
  {
    file: 'policy.md',
    criteria: ['CC6.1', 'CC8.1'],
    checks: 'The access-control policy as enforced, rendered from access.yml; its SHA-256 matches the `config.loaded` events, so the written policy is the one in force.',
  },
  {
    file: 'readiness.md',
    criteria: ['CC6.1', 'CC6.2', 'CC6.3', 'CC7.2'],
    checks: 'The exceptions breakglass itself finds in the period (unapproved or late-ended access, unreviewed emergencies, unacknowledged alerts, overdue reviews, offboarding past SLA, silent days, evidence left over a day without a signed checkpoint), each with its evidence events.',
  },
  {
    file: 'readiness.json',
    criteria: ['CC6.1', 'CC6.2', 'CC6.3', 'CC7.2'],
    checks: 'The same readiness report, machine-readable, for sampling and re-performance.',
  },
  {
    file: 'verification.json',
    criteria: ['CC6.1', 'CC7.2', 'CC8.1'],
    checks: 'The whole evidence ledger was re-hashed from its first event and the chain is intact (count and head hash), and the periodic checkpoints in the period match it.',
  },
  {
    file: 'evidence.jsonl',
    criteria: ['CC6.1', 'CC6.2', 'CC6.3', 'CC7.2', 'CC7.3', 'CC8.1'],
    checks: 'The raw, hash-chained evidence events of the period, the source of every other file; any row above can be traced to its `seq` here and re-verified.',
  },
  ...PROOF_FILES,
  {
    file: 'README.md',
    criteria: [],
    checks: 'This index.',
  },
  {
    file: 'SHA256SUMS',
    criteria: [],
    checks: 'The SHA-256 of every other file (`sha256sum -c SHA256SUMS`), so the package can be shown unaltered since it was generated.',
  },
  SIGNATURE_FILE,
];

/** Files that SHA256SUMS covers: all but itself and its signature. */
const SUMMED_FILES = PACK_FILES.map((f) => f.file).filter((f) => f !== 'SHA256SUMS' && f !== SIGNATURE_FILE.file);

export const CRITERIA: Record<string, string> = {
  'CC6.1': 'logical access security: access to protected systems is restricted by policy and its records are protected',
  'CC6.2': 'access is authorised before it is granted and removed when no longer needed',
  'CC6.3': 'access is granted, changed and removed based on roles and least privilege, with separation of duties and periodic review',
  'CC7.2': 'system components are monitored for anomalies, and the monitoring is evidenced',
  'CC7.3': 'security events are evaluated and responded to',
  'CC8.1': 'changes (here: to the access policy) are authorised and traceable',
};

function inPeriod(date: Date | null | undefined, period: Period): boolean {
  return date !== null && date !== undefined && date >= period.from && date < period.to;
}

function iso(date: Date | null | undefined): string | null {
  return date ? date.toISOString() : null;
}

/** Grants whose access overlaps the period: started before its end, not revoked before its start. */
export function grantRows(history: EvidenceHistory, period: Period): Row[] {
  return history
    .appliedGrants()
    .filter((g) => g.applied.startsAt < period.to && (!g.revocation || g.revocation.at >= period.from))
    .map((grant) => {
      const request = history.requestOf(grant);
      const approvals = (request?.approvals ?? []).filter((a) => a.seq < grant.applied.seq);
      const seqs = new Set<number>([...(request?.createdSeq ? [request.createdSeq] : []), ...approvals.map((a) => a.seq), grant.applied.seq]);
      const extensions = grant.extensions.map((e) => {
        const extension = e.requestId === null ? undefined : history.requests.get(e.requestId);
        seqs.add(e.seq);
        for (const a of extension?.approvals ?? []) seqs.add(a.seq);
        return `request #${e.requestId ?? '?'} to ${e.endsAt.toISOString()} approved by ${approversOf(extension).join(' ') || 'nobody recorded'}`;
      });
      if (grant.revocation) seqs.add(grant.revocation.seq);
      if (grant.sessionsEnded) seqs.add(grant.sessionsEnded.seq);
      return {
        request_id: grant.requestId,
        grant_id: grant.grantId,
        person: grant.person,
        resource: grant.resource,
        emergency: grant.emergency,
        approved_by: [...new Set(approvals.map((a) => a.approver))].join(' '),
        reason: request?.reason ?? null,
        ticket: request?.ticket ?? null,
        granted_at: grant.applied.startsAt.toISOString(),
        ends_at: scheduledEnd(grant).toISOString(),
        extensions: extensions.join('; '),
        revoked_at: iso(grant.revocation?.at),
        revoked_by: grant.revocation?.by ?? null,
        revoke_reason: grant.revocation?.reason ?? null,
        late_by_ms: grant.revocation ? grant.revocation.lateByMs : null,
        late_by: grant.revocation ? (grant.revocation.lateByMs > 0 ? humanDuration(grant.revocation.lateByMs) : '') : 'not revoked',
        sessions_ended: sessionsEndedText(grant.sessionsEnded),
        evidence_seqs: [...seqs].sort((a, b) => a - b).join(' '),
      };
    });
}

/** What the revoke did to open sessions, for the grant's line: empty when it ended none (or could not). */
function sessionsEndedText(ended: GrantRecord['sessionsEnded']): string {
  if (!ended) return '';
  const how = ended.ended === null ? 'sessions ended (not counted)' : `${ended.ended} session(s) ended`;
  return `${how} from ${ended.effectiveAt.toISOString()}: ${ended.method}`;
}

/** Every decision on a request in the period: each approval, denial, expiry and cancellation. */
export function approvalRows(history: EvidenceHistory, period: Period): Array<Row & { seq: number }> {
  const rows: Array<Row & { seq: number }> = [];
  for (const request of history.requests.values()) {
    const common = {
      request_id: request.requestId,
      resource: request.resource,
      requester: request.requester,
      request_kind: request.kind,
      reason: request.reason,
      ticket: request.ticket,
      requested_at: iso(request.createdAt),
      eligible_approvers: request.approvers.join(' '),
      approvals_required: request.approvalsRequired,
    };
    for (const approval of request.approvals) {
      if (!inPeriod(approval.at, period)) continue;
      rows.push({
        ...common,
        decision: 'approved',
        decided_by: approval.approver,
        decided_at: approval.at.toISOString(),
        approval_count: approval.count,
        final: approval.final,
        self_grant: approval.selfGrant,
        decided_by_requester: approval.approver === request.requester,
        deny_reason: null,
        config_hash: approval.configHash,
        seq: approval.seq,
      });
    }
    const decision = request.decision;
    if (decision && inPeriod(decision.at, period)) {
      rows.push({
        ...common,
        decision: decision.kind,
        decided_by: decision.by,
        decided_at: decision.at.toISOString(),
        approval_count: new Set(request.approvals.filter((a) => a.seq < decision.seq).map((a) => a.approver)).size,
        final: true,
        self_grant: false,
        decided_by_requester: decision.by === request.requester,
        deny_reason: decision.kind === 'denied' ? decision.reason : null,
        config_hash: decision.configHash,
        seq: decision.seq,
      });
    }
  }
  return rows.sort((a, b) => a.seq - b.seq);
}

/** Emergency self-grants (and on-call approvals, labelled by `basis`) started in the period, with their after-the-fact review. */
export function emergencyRows(history: EvidenceHistory, period: Period, now: Date): Row[] {
  const alertsByGrant = new Map<string, { by: string; at: Date; seq: number } | null>();
  for (const alert of history.alerts.values()) {
    if (alert.grantId !== null && alert.kind === 'emergency_grant') alertsByGrant.set(alert.grantId, alert.ack);
  }
  return history
    .appliedGrants()
    .filter((g) => (g.emergency || history.approvedOnCall(g.requestId)) && inPeriod(g.applied.startsAt, period))
    .map((grant: Applied) => {
      const request = history.requestOf(grant);
      const onCall = request?.approvals.find((a) => a.onCall)?.onCall;
      const due = grant.applied.startsAt.getTime() + EMERGENCY_REVIEW_WITHIN_MS;
      const reviewedAfter = grant.review ? grant.review.at.getTime() - grant.applied.startsAt.getTime() : null;
      const ack = alertsByGrant.get(grant.grantId) ?? null;
      const seqs = [grant.applied.seq, ...(grant.review ? [grant.review.seq] : []), ...(grant.escalation ? [grant.escalation.seq] : []), ...(ack ? [ack.seq] : [])];
      return {
        request_id: grant.requestId,
        grant_id: grant.grantId,
        person: grant.person,
        resource: grant.resource,
        reason: request?.reason ?? null,
        ticket: request?.ticket ?? null,
        granted_at: grant.applied.startsAt.toISOString(),
        ends_at: scheduledEnd(grant).toISOString(),
        revoked_at: iso(grant.revocation?.at),
        reviewed_by: grant.review?.by ?? null,
        reviewed_at: iso(grant.review?.at),
        reviewed_after: reviewedAfter === null ? null : humanDuration(reviewedAfter),
        reviewed_within_24h: reviewedAfter !== null ? (reviewedAfter <= EMERGENCY_REVIEW_WITHIN_MS ? 'yes' : 'no') : due <= now.getTime() ? 'no' : 'pending',
        escalated_at: iso(grant.escalation?.at),
        alert_acknowledged_by: ack?.by ?? null,
        alert_acknowledged_at: iso(ack?.at),
        evidence_seqs: [...new Set(seqs)].sort((a, b) => a - b).join(' '),
        basis: onCall ? 'pagerduty_on_call' : 'emergency_self_grant',
        on_call: onCall ? onCallText(onCall) : null,
      };
    });
}

/** Every review.* event in the period: campaigns started, lines decided, reminders, escalations, sign-offs, closes. */
export function reviewRows(history: EvidenceHistory, period: Period): Row[] {
  return history.reviewEvents
    .filter((e) => inPeriod(e.occurredAt, period))
    .map((e) => ({
      seq: e.seq,
      occurred_at: e.occurredAt.toISOString(),
      kind: e.kind,
      campaign_id: campaignId(e),
      period: text(e.details.period),
      actor: e.actor,
      reviewer: text(e.details.reviewer),
      subject: e.subject,
      resource: e.resource,
      decision: text(e.details.decision),
      due_at: text(e.details.due_at),
      overdue: typeof e.details.overdue === 'boolean' ? e.details.overdue : null,
      details: detailsText(e.details),
    }));
}

/** One row per offboarding (detection and completion paired) detected or completed in the period. */
export function offboardingRows(history: EvidenceHistory, period: Period): Row[] {
  return offboardingRecords(history.offboardingEvents)
    .filter((r) => inPeriod(r.detected?.occurredAt, period) || inPeriod(r.completed?.occurredAt, period))
    .map((r) => {
      const systems = r.completion?.systems ?? [];
      return {
        person: r.person,
        slack_user: text(r.detection?.slack_user),
        source: text(r.completion?.source ?? r.detection?.source),
        deactivated_at: iso(r.deactivatedAt),
        detected_at: iso(r.detected?.occurredAt),
        completed_at: iso(r.completed?.occurredAt),
        access_ended_at: text(r.completion?.access_ended_at),
        took: r.tookMs === null ? null : humanDuration(r.tookMs),
        sla: r.slaMs === null ? null : humanDuration(r.slaMs),
        sla_met: r.completion?.sla_met ?? null,
        systems: r.completion
          ? systems.map((x) => `${x.resource} (${x.provider}): ${x.outcome}${x.ended_at !== null ? ` at ${x.ended_at}` : ''}`).join('; ')
          : (r.held ?? []).map((x) => `${x.resource} (${x.provider}): still held by ${x.principal} since ${x.since}`).join('; '),
        unmanaged_access: r.completion ? r.completion.unmanaged_access.join(' ') : null,
        detected_seq: r.detected?.seq ?? null,
        completed_seq: r.completed?.seq ?? null,
      };
    });
}

/** Alerts raised in the period, and those acknowledged in it, with who acknowledged and when. */
export function alertRows(history: EvidenceHistory, period: Period): Row[] {
  return [...history.alerts.values()]
    .filter((a) => inPeriod(a.raisedAt, period) || inPeriod(a.ack?.at, period))
    .sort((a, b) => (a.raisedSeq ?? a.ack?.seq ?? 0) - (b.raisedSeq ?? b.ack?.seq ?? 0))
    .map((a) => ({
      alert_id: a.alertId,
      alert_kind: a.kind,
      raised_at: iso(a.raisedAt),
      text: a.text === null ? null : slackToText(a.text),
      resource: a.resource,
      subject: a.subject,
      request_id: a.requestId,
      grant_id: a.grantId,
      acknowledged_by: a.ack?.by ?? null,
      acknowledged_at: iso(a.ack?.at),
      acknowledged_after: a.ack && a.raisedAt ? humanDuration(a.ack.at.getTime() - a.raisedAt.getTime()) : null,
      raised_seq: a.raisedSeq,
      acknowledged_seq: a.ack?.seq ?? null,
    }));
}

/** RFC 4180 CSV with a header row, safe to open in a spreadsheet (csv-safe.ts says how). */
export function toCsv(columns: readonly string[], rows: Row[], options: { bom?: boolean } = {}): string {
  return toSafeCsv(columns, rows, { ...options, hashColumns: ['config_hash'] });
}

export interface CheckpointView {
  seq: number;
  occurred_at: string;
  /** What the checkpoint signed: the ledger held `count` events, event #count's hash was `head`, at `at`. */
  count: number | null;
  head: string | null;
  at: string | null;
  key: string | null;
  signature_valid: boolean | null;
  /** Whether event #count still has that hash in the ledger. */
  head_matches: boolean | null;
  problem: string | null;
}

export interface Verification {
  ok: boolean;
  count: number;
  head_hash: string;
  problem: VerifyResult['problem'] | null;
  /** Every checkpoint in the period is genuine and matches the ledger (true when there are none). */
  checkpoints_ok: boolean;
  checkpoints: CheckpointView[];
  /** The database's record of the newest event (ledger_head), and why it disagrees with the ledger, if it does. */
  head_row: HeadRow | null;
  head_row_problem: string | null;
}

/** The signed checkpoints in the period, each checked: its signature, and its head against the ledger as it is now. */
export async function checkpointViews(db: Db, checkpoints: StoredEvent[], period: Period): Promise<CheckpointView[]> {
  const inside = checkpoints.filter((c) => inPeriod(c.occurredAt, period));
  const parsed = inside.map((event) => {
    try {
      return { event, checkpoint: checkpointFromDetails(event.details), error: null };
    } catch (error) {
      return { event, checkpoint: null, error: error instanceof Error ? error.message : String(error) };
    }
  });
  const wanted = [...new Set(parsed.flatMap((p) => (p.checkpoint && p.checkpoint.count > 0 ? [p.checkpoint.count] : [])))];
  const stored = new Map<number, string>([[0, GENESIS_HASH]]);
  for (let i = 0; i < wanted.length; i += 1_000) {
    const rows = await db.select({ seq: evidenceEvents.seq, hash: evidenceEvents.hash }).from(evidenceEvents).where(inArray(evidenceEvents.seq, wanted.slice(i, i + 1_000)));
    for (const row of rows) stored.set(row.seq, row.hash);
  }
  return parsed.map(({ event, checkpoint, error }) => {
    if (!checkpoint) return { seq: event.seq, occurred_at: event.occurredAt.toISOString(), count: null, head: null, at: null, key: null, signature_valid: null, head_matches: null, problem: error };
    const signatureValid = checkpointSignatureValid(checkpoint);
    const actual = stored.get(checkpoint.count);
    const headMatches = actual === checkpoint.head;
    return {
      seq: event.seq,
      occurred_at: event.occurredAt.toISOString(),
      count: checkpoint.count,
      head: checkpoint.head,
      at: checkpoint.at,
      key: keyFingerprint(checkpoint.publicKey),
      signature_valid: signatureValid,
      head_matches: headMatches,
      problem: !signatureValid
        ? 'its signature does not verify'
        : actual === undefined
          ? `event #${checkpoint.count} is missing from the ledger`
          : !headMatches
            ? `event #${checkpoint.count}'s hash differs from the checkpoint: the chain was rewritten`
            : null,
    };
  });
}

/** The policy versions in force during the period: the last one recorded before it, and each change in it. */
export function policyVersions(history: EvidenceHistory, period: Period): Array<{ hash: string; since: string; seq: number }> {
  const versions: Array<{ hash: string; since: string; seq: number }> = [];
  let before: StoredEvent | undefined;
  for (const event of history.configLoads) {
    const hash = text(readDetails('config.loaded', event.details)?.config_hash);
    if (!hash) continue;
    if (event.occurredAt < period.from) before = event;
    else if (event.occurredAt < period.to) versions.push({ hash, since: event.occurredAt.toISOString(), seq: event.seq });
  }
  if (before) versions.unshift({ hash: readDetails('config.loaded', before.details)!.config_hash, since: before.occurredAt.toISOString(), seq: before.seq });
  return versions;
}

export interface AuditPackOptions extends Period {
  db: Db;
  outDir: string;
  access: Pick<LoadedAccessConfig, 'config' | 'hash' | 'path'>;
  /** The present, for what may still be on time (readiness) and the index's generation time. */
  now: Date;
  onProgress?: (step: string) => void;
  /** The ledger signing key, to sign SHA256SUMS; without it the pack is written unsigned, and says so. */
  signer?: CheckpointSigner | undefined;
  /** CSV files start with a UTF-8 byte order mark unless this is false. */
  bom?: boolean | undefined;
  /** Prints report.html to report.pdf; without it the pack has no PDF (`--no-pdf`). */
  pdf?: PdfPrinter | undefined;
}

export interface AuditPackResult {
  dir: string;
  files: string[];
  /** Events of the period, in evidence.jsonl. */
  events: number;
  /** Events of the whole ledger, read to judge the period. */
  read: number;
  verification: Verification;
  readiness: ReadinessReport;
  notes: string[];
  /** Whether report.pdf was written, and why not when it was not. */
  pdf: PdfOutcome;
}

export async function writeAuditPack(options: AuditPackOptions): Promise<AuditPackResult> {
  const { db, outDir, now } = options;
  const period: Period = { from: options.from, to: options.to };
  const step = options.onProgress ?? (() => {});
  mkdirSync(outDir, { recursive: true });
  const write = (file: string, content: string) => writeFileSync(join(outDir, file), content);
  const counted = (what: string) => (n: number) => step(`${what}… ${n.toLocaleString('en-US')} events`);

  step('verifying the evidence ledger…');
  const verify = await verifyLedger(db, counted('verifying the evidence ledger'));
  counted('verifying the evidence ledger')(verify.count);
  const read = await readWholeLedger(db, counted('reading the evidence'), step);
  const { history } = read;

  step('writing the grant and revoke log…');
  const timeline = await finishTimeline(db, read.timeline);
  const counts = writeCsvFiles(read, timeline, (await reviewLineRows(db, period, now)) as Row[], period, now, (file, content) => write(file, content), options.bom);
  step('writing the policy…');
  write('policy.md', renderPolicy(options.access));

  step('assessing readiness…');
  const readiness = assessReadiness(history, { ...period, now, verify, checkpoint: await newestCheckpointCheck(db) });
  write('readiness.md', readinessToMarkdown(readiness));
  write('readiness.json', `${JSON.stringify(readiness, null, 2)}\n`);
  const verification = await verificationOf(db, verify, history, period);
  write('verification.json', `${JSON.stringify(verification, null, 2)}\n`);

  step('exporting the evidence of the period…');
  const stream = createWriteStream(join(outDir, 'evidence.jsonl'));
  const events = await exportEvents(db, period, 'jsonl', stream, counted('exporting the evidence of the period'));
  stream.end();
  await finished(stream);

  step('writing the proof…');
  const proof = await writePackProof(db, outDir, period, history.checkpoints.filter((c) => inPeriod(c.occurredAt, period)), options.signer);
  const versions = policyVersions(history, period);
  const notes = packNotes({ counts, verification, verify, versions, accessHash: options.access.hash, signed: Boolean(options.signer) });
  step('writing the report…');
  const reportInput = { period, now, history, timeline, readiness, verification, eventsInPeriod: events, policyVersions: versions, notes };
  const pdf = await writePackReport(outDir, packReportInput(reportInput, options.access), options.pdf);
  if (!pdf.written) notes.push(`\`report.pdf\` was not written: ${pdf.why}. \`report.html\` prints to the same pages from any browser.`);
  write('README.md', indexMarkdown({ period, now, events, counts, verification, readiness, access: options.access, versions, notes }));

  const files = SUMMED_FILES.filter((f) => (f !== 'public-key.pem' || proof.publicKey) && (f !== 'report.pdf' || pdf.written));
  signSumsFile(outDir, files, options.signer);
  step('done');
  return { dir: outDir, files: [...files, 'SHA256SUMS', ...(options.signer ? [SIGNATURE_FILE.file] : [])], events, read: history.count, verification, readiness, notes, pdf };
}

/** What report.html is drawn from: the pack's own findings, its files and the criteria they support. */
function packReportInput(gathered: Omit<ReportInput, 'access' | 'files' | 'criteria'>, access: AuditPackOptions['access']): ReportInput {
  const resources = Object.keys(access.config?.resources ?? {});
  return { ...gathered, access: { hash: access.hash, path: access.path, resources }, files: PACK_FILES, criteria: CRITERIA };
}

interface LedgerRead {
  history: EvidenceHistory;
  timeline: TimelineBuilder;
  people: PeopleHistory;
}

/** The whole ledger, folded once for every file: a grant applied before the period, or reviewed after it, is judged on all its evidence. */
async function readWholeLedger(db: Db, onCount: (n: number) => void, step: (text: string) => void): Promise<LedgerRead> {
  step('reading the evidence…');
  const read: LedgerRead = { history: new EvidenceHistory(), timeline: new TimelineBuilder(), people: new PeopleHistory() };
  for await (const page of readEventPages(db)) {
    for (const event of page) {
      read.history.add(event);
      read.timeline.add(event);
      read.people.add(event);
    }
    onCount(read.history.count);
  }
  return read;
}

/** The pack's CSV files; returns how many rows each has. */
function writeCsvFiles(read: LedgerRead, timeline: AccessTimeline, reviewLines: Row[], period: Period, now: Date, write: (file: string, content: string) => void, bom: boolean | undefined): Record<string, number> {
  const { history } = read;
  const counts: Record<string, number> = {};
  const csv = (file: CsvFile, rows: Row[]) => {
    counts[file] = rows.length;
    write(file, toCsv(CSV_COLUMNS[file], rows, { bom }));
  };
  csv('grants.csv', grantRows(history, period));
  csv('access.csv', timeline.between(period.from, period.to).map(accessCsvRow));
  csv('approvals.csv', approvalRows(history, period));
  csv('emergency.csv', emergencyRows(history, period, now));
  csv('reviews.csv', reviewRows(history, period));
  csv('review-lines.csv', reviewLines);
  csv('offboarding.csv', offboardingRows(history, period));
  csv('alerts.csv', alertRows(history, period));
  csv('people.csv', read.people.rows(period.to));
  return counts;
}

/** verification.json: the chain, the checkpoints of the period checked against it, and the database's head row. */
async function verificationOf(db: Db, verify: VerifyResult, history: EvidenceHistory, period: Period): Promise<Verification> {
  const headRow = (await readHeadRow(db)) ?? null;
  const checkpoints = await checkpointViews(db, history.checkpoints, period);
  return {
    ok: verify.ok,
    count: verify.count,
    head_hash: verify.headHash,
    problem: verify.problem ?? null,
    checkpoints_ok: checkpoints.every((c) => c.problem === null),
    checkpoints,
    head_row: headRow,
    head_row_problem: verify.ok ? (headRowProblem(headRow ?? undefined, verify) ?? null) : null,
  };
}

/** What the index tells the reader about the pack: empty files, a policy that changed, anything that does not verify. */
function packNotes(input: { counts: Record<string, number>; verification: Verification; verify: VerifyResult; versions: ReturnType<typeof policyVersions>; accessHash: string; signed: boolean }): string[] {
  const { counts, verification, verify, versions } = input;
  const notes: string[] = [];
  if (counts['reviews.csv'] === 0) notes.push('`reviews.csv` has only its header: no access-review events (`review.*`) are recorded in this period.');
  if (counts['offboarding.csv'] === 0) notes.push('`offboarding.csv` has only its header: no offboarding events (`offboarding.*`) are recorded in this period.');
  if (verification.checkpoints.length === 0) notes.push('No `ledger.checkpoint` events are recorded in this period; `verification.json` lists none.');
  if (versions.length > 0 && versions.at(-1)!.hash !== input.accessHash) {
    notes.push(`\`policy.md\` is rendered from the current access.yml (SHA-256 \`${input.accessHash}\`), which is not the version in force at the end of the period (\`${versions.at(-1)!.hash}\`); the versions in force are listed above.`);
  }
  if (!verification.checkpoints_ok) {
    notes.push(`**Checkpoints that do not match the ledger**: ${verification.checkpoints.filter((c) => c.problem).map((c) => `event ${c.seq} (${c.problem})`).join('; ')}. See \`verification.json\`.`);
  }
  if (verification.head_row_problem) notes.push(`**The ledger's newest events are not all there**: ${verification.head_row_problem}. See \`verification.json\`.`);
  if (!input.signed) notes.push('**This package is not signed** (no `SHA256SUMS.sig`): breakglass had no ledger signing key here (`LEDGER_SIGNING_KEY` or `DATA_DIR/ledger-signing-key`). `public-key.pem` is the key of the newest checkpoint of the period, if any.');
  if (!verify.ok) notes.push(`**The ledger does not verify**: ${verify.problem?.reason ?? ''} (event ${verify.problem?.seq ?? '?'}). See \`verification.json\`.`);
  return notes;
}

/** SHA256SUMS over the pack's files, and its signature by the ledger key when there is one. */
function signSumsFile(outDir: string, files: readonly string[], signer: AuditPackOptions['signer']): void {
  const sums = [...files].sort().map((file) => `${createHash('sha256').update(readFileSync(join(outDir, file))).digest('hex')}  ${file}`);
  writeFileSync(join(outDir, 'SHA256SUMS'), `${sums.join('\n')}\n`);
  // An unsigned pack written over a signed one must not keep the old signature.
  if (signer) writeFileSync(join(outDir, SIGNATURE_FILE.file), signSums(signer, readFileSync(join(outDir, 'SHA256SUMS'))));
  else rmSync(join(outDir, SIGNATURE_FILE.file), { force: true });
}

function indexMarkdown(input: {
  period: Period;
  now: Date;
  events: number;
  counts: Record<string, number>;
  verification: Verification;
  readiness: ReadinessReport;
  access: Pick<LoadedAccessConfig, 'hash' | 'path'>;
  versions: Array<{ hash: string; since: string; seq: number }>;
  notes: string[];
}): string {
  const { period, verification, readiness } = input;
  const lines: string[] = [];
  lines.push('# Audit evidence package', '');
  lines.push(`- **Period:** ${period.from.toISOString()} to ${period.to.toISOString()} (UTC; the end is exclusive)`);
  lines.push(`- **Generated:** ${input.now.toISOString()} with \`npx breakglass audit-pack --from ${period.from.toISOString()} --to ${period.to.toISOString()} --out <dir>\``);
  lines.push(
    `- **Evidence ledger:** ${verification.count} event(s) in the whole ledger re-verified, ${verification.ok ? `chain intact, head \`${verification.head_hash}\`` : `**chain broken at event ${verification.problem?.seq ?? '?'}**`}; ${input.events} event(s) in the period (\`evidence.jsonl\`)`,
  );
  lines.push(`- **Policy:** \`policy.md\`, rendered from \`${input.access.path}\`, SHA-256 \`${input.access.hash}\``);
  lines.push(`- **Readiness:** ${readiness.ok ? 'no gaps found' : `${readiness.gaps.length} gap(s) found`} (\`readiness.md\`)`, '');

  lines.push('## Files', '');
  lines.push('| file | SOC 2 criteria | what the auditor checks here |', '| --- | --- | --- |');
  for (const f of PACK_FILES) {
    const rows = input.counts[f.file];
    lines.push(`| \`${f.file}\` | ${f.criteria.join(', ') || '—'} | ${f.checks}${rows !== undefined ? ` (${rows} row${rows === 1 ? '' : 's'})` : ''} |`);
  }
  lines.push('');

  lines.push('## Policy versions in force during the period', '');
  if (input.versions.length === 0) lines.push('No `config.loaded` event is recorded up to the end of the period.');
  for (const v of input.versions) lines.push(`- \`${v.hash}\` from ${v.since} (event ${v.seq})${v.hash === input.access.hash ? ' — the version rendered in `policy.md`' : ''}`);
  lines.push('');

  if (input.notes.length > 0) {
    lines.push('## Notes', '');
    for (const note of input.notes) lines.push(`- ${note}`);
    lines.push('');
  }

  lines.push('## How to check this package', '');
  lines.push('1. `node verify.mjs` in this folder (Node alone, offline) checks the files, their signature, the hash chain and the checkpoints; `VERIFY.md` states every format, to check with other tools. `sha256sum -c SHA256SUMS` checks the files alone.');
  lines.push('2. Each CSV row names the evidence events (`seq`) it comes from; find them in `evidence.jsonl`.');
  lines.push('3. `npx breakglass evidence verify` against the live ledger re-computes the chain; its head must match `verification.json` or extend it.');
  lines.push('4. `npx breakglass who <resource> --at <time>` answers "who had access then, and why" for any sampled instant.', '');

  lines.push('## Reading the CSV files', '', ...CSV_CONVENTIONS.map((c) => `- ${c}`), '');

  lines.push('## SOC 2 criteria', '');
  for (const [criterion, meaning] of Object.entries(CRITERIA)) lines.push(`- **${criterion}**: ${escapeMarkdown(meaning)}`);
  lines.push('');
  return lines.join('\n');
}

/** PagerDuty's shifts behind an on-call approval, as it returned them, in one cell. */
export function onCallText(onCall: NonNullable<ApprovalRecord['onCall']>): string {
  const shifts = onCall.shifts.map((s) => `schedule ${s.scheduleId} level ${s.escalationLevel} from ${s.start ?? 'always'} to ${s.end ?? 'no end'}`);
  return `PagerDuty user ${onCall.pagerDutyUserId}: ${shifts.join('; ')}`;
}
