import type { Db } from '../../db/client.ts';
import type { StoredEvent } from '../../ledger/event.ts';
import { approversOf, EvidenceHistory, humanDuration, scheduledEnd, type ApprovalRecord, type GrantApplied, type GrantRecord } from '../history.ts';
import { readEvents } from '../../ledger/read.ts';

/**
 * "Who had access to this resource at that instant, under which request, approved by whom, why?"
 * answered from the evidence ledger alone.
 *
 * Boundaries: a grant holds access from its `grant.applied` `starts_at` (inclusive) until its
 * `grant.revoked` `revoked_at` (exclusive). A grant with no revocation recorded holds access while
 * its scheduled end (the original `ends_at`, moved by `grant.extended` and `grant.end_requested`
 * recorded by then) is still after the instant; past that end with no revocation recorded it is
 * still listed, as `past_end`, because nothing in the evidence says the access was removed.
 */

export interface ExtensionView {
  requestId: string | null;
  approvedBy: string[];
  /** The new end it set, and when it was recorded. */
  endsAt: Date;
  at: Date;
}

/** What a breakglass grant rests on: the request, its approvals and the emergency review. */
export interface GrantDecision {
  grantId: string;
  requestId: string | null;
  /** standard, emergency or extension, as request.created recorded it. */
  requestKind: string | null;
  reason: string | null;
  ticket: string | null;
  /** Everyone whose request.approved counted, in order; for an emergency self-grant, the requester. */
  approvedBy: string[];
  approvalsRequired: number | null;
  selfGranted: boolean;
  /** Who reviewed an emergency grant (or an on-call approval) after the fact, when. */
  emergencyReview: { by: string; at: Date } | null;
  /** Approved because PagerDuty had the person on call (not an emergency): its shifts as PagerDuty returned them. */
  onCall: ApprovalRecord['onCall'] | null;
  /** The end in force at the instant asked about (extensions and early ends recorded by then). */
  scheduledEndAt: Date;
}

export interface AccessHolder extends GrantDecision {
  person: string;
  resource: string;
  emergency: boolean;
  grantedAt: Date;
  /** When access actually ended (the revocation), if recorded at all. */
  endedAt: Date | null;
  endReason: string | null;
  endedBy: string | null;
  /** active: before its scheduled end; past_end: past it, and the revocation came later or never. */
  status: 'active' | 'past_end';
  extensions: ExtensionView[];
  /** The seq numbers of the events this answer rests on. */
  evidence: number[];
}

export interface WhoAnswer {
  resource: string;
  at: Date;
  holders: AccessHolder[];
  /** How many grants of this resource the ledger records at all (any time). */
  grantsRecorded: number;
}

/** Answers from any events; those of other resources are ignored. */
export function whoHadAccess(events: Iterable<StoredEvent>, resource: string, at: Date): WhoAnswer {
  const history = new EvidenceHistory();
  for (const event of events) if (event.resource === resource) history.add(event);
  return whoFromHistory(history, resource, at);
}

export function whoFromHistory(history: EvidenceHistory, resource: string, at: Date): WhoAnswer {
  const grants = history.appliedGrants().filter((g) => g.resource === resource);
  const holders = grants.filter((g) => holds(g, at)).map((g) => describeGrant(history, g, at));
  holders.sort((a, b) => a.grantedAt.getTime() - b.grantedAt.getTime() || Number(a.grantId) - Number(b.grantId) || a.grantId.localeCompare(b.grantId));
  return { resource, at, holders, grantsRecorded: grants.length };
}

/** Start inclusive, end (the revocation) exclusive; unrevoked grants hold until revoked. */
export function holds(grant: GrantRecord & { applied: GrantApplied }, at: Date): boolean {
  const t = at.getTime();
  if (t < grant.applied.startsAt.getTime()) return false;
  if (grant.revocation) return t < grant.revocation.at.getTime();
  return true;
}

/** One grant as a holder at `at` (its end as recorded by then); the timeline reuses it for its grant intervals. */
export function describeGrant(history: EvidenceHistory, grant: GrantRecord & { applied: GrantApplied }, at: Date): AccessHolder {
  const request = history.requestOf(grant);
  const end = scheduledEnd(grant, at);
  const evidence = new Set<number>();
  if (request?.createdSeq) evidence.add(request.createdSeq);
  for (const approval of request?.approvals ?? []) if (approval.seq < grant.applied.seq) evidence.add(approval.seq);
  evidence.add(grant.applied.seq);
  const extensions: ExtensionView[] = [];
  for (const extension of grant.extensions) {
    if (extension.at > at) continue;
    const extensionRequest = extension.requestId === null ? undefined : history.requests.get(extension.requestId);
    if (extensionRequest?.createdSeq) evidence.add(extensionRequest.createdSeq);
    for (const approval of extensionRequest?.approvals ?? []) evidence.add(approval.seq);
    evidence.add(extension.seq);
    extensions.push({ requestId: extension.requestId, approvedBy: approversOf(extensionRequest), endsAt: extension.endsAt, at: extension.at });
  }
  if (grant.endRequested && grant.endRequested.at <= at) evidence.add(grant.endRequested.seq);
  if (grant.revocation) evidence.add(grant.revocation.seq);
  if (grant.review) evidence.add(grant.review.seq);
  const approvals = (request?.approvals ?? []).filter((a) => a.seq < grant.applied.seq);
  return {
    person: grant.person ?? '(unknown)',
    resource: grant.resource ?? '(unknown)',
    grantId: grant.grantId,
    requestId: grant.requestId,
    requestKind: request?.kind ?? null,
    emergency: grant.emergency,
    reason: request?.reason ?? null,
    ticket: request?.ticket ?? null,
    approvedBy: [...new Set(approvals.map((a) => a.approver))],
    approvalsRequired: request?.approvalsRequired ?? null,
    selfGranted: approvals.some((a) => a.selfGrant),
    emergencyReview: grant.review ? { by: grant.review.by, at: grant.review.at } : null,
    onCall: approvals.find((a) => a.onCall)?.onCall ?? null,
    grantedAt: grant.applied.startsAt,
    scheduledEndAt: end,
    endedAt: grant.revocation?.at ?? null,
    endReason: grant.revocation?.reason ?? null,
    endedBy: grant.revocation?.by ?? null,
    status: at < end ? 'active' : 'past_end',
    extensions,
    evidence: [...evidence].sort((a, b) => a - b),
  };
}

/** The answer as JSON-ready data (ISO instants, snake_case keys like the evidence export). */
export function whoToJson(answer: WhoAnswer): Record<string, unknown> {
  return {
    resource: answer.resource,
    at: answer.at.toISOString(),
    grants_recorded: answer.grantsRecorded,
    holders: answer.holders.map((h) => ({
      person: h.person,
      resource: h.resource,
      grant_id: h.grantId,
      request_id: h.requestId,
      request_kind: h.requestKind,
      emergency: h.emergency,
      reason: h.reason,
      ticket: h.ticket,
      approved_by: h.approvedBy,
      approvals_required: h.approvalsRequired,
      self_granted: h.selfGranted,
      emergency_review: h.emergencyReview ? { by: h.emergencyReview.by, at: h.emergencyReview.at.toISOString() } : null,
      ...(h.onCall ? { on_call: { pagerduty_user_id: h.onCall.pagerDutyUserId, shifts: h.onCall.shifts.map((s) => ({ schedule_id: s.scheduleId, escalation_level: s.escalationLevel, start: s.start, end: s.end })) } } : {}),
      granted_at: h.grantedAt.toISOString(),
      scheduled_end_at: h.scheduledEndAt.toISOString(),
      ended_at: h.endedAt?.toISOString() ?? null,
      end_reason: h.endReason,
      ended_by: h.endedBy,
      status: h.status,
      extensions: h.extensions.map((e) => ({ request_id: e.requestId, approved_by: e.approvedBy, ends_at: e.endsAt.toISOString(), at: e.at.toISOString() })),
      evidence_seqs: h.evidence,
    })),
  };
}

/** The answer for a person at a terminal. */
export function whoToText(answer: WhoAnswer): string {
  const at = answer.at.toISOString();
  if (answer.holders.length === 0) {
    return answer.grantsRecorded === 0
      ? `No grant of ${answer.resource} is recorded in the evidence ledger at all, so nobody had access to it through breakglass at ${at}.\n`
      : `Nobody had access to ${answer.resource} at ${at} (UTC) according to the evidence ledger (${answer.grantsRecorded} grant(s) of it are recorded in total).\n`;
  }
  const lines = [`Access to ${answer.resource} at ${at} (UTC): ${answer.holders.length} ${answer.holders.length === 1 ? 'person' : 'people'}`, ''];
  for (const h of answer.holders) {
    lines.push(`${h.person}: request #${h.requestId ?? '?'}${h.requestKind ? ` (${h.requestKind})` : ''}, grant ${h.grantId}`);
    lines.push(`  reason:       ${h.reason ?? '(none recorded)'}`);
    lines.push(`  ticket:       ${h.ticket ?? '(none)'}`);
    const required = h.approvalsRequired === null ? '' : ` (${h.approvalsRequired} required)`;
    lines.push(
      `  approved by:  ${
        h.onCall ? onCallApproval(h) : h.selfGranted ? `${h.approvedBy.join(', ')} (emergency self-grant; ${h.emergencyReview ? `reviewed by ${h.emergencyReview.by} at ${h.emergencyReview.at.toISOString()}` : 'not reviewed'})` : h.approvedBy.length > 0 ? `${h.approvedBy.join(', ')}${required}` : 'NO APPROVAL RECORDED'
      }`,
    );
    lines.push(`  granted:      ${h.grantedAt.toISOString()}`);
    for (const e of h.extensions) {
      lines.push(`  extended:     to ${e.endsAt.toISOString()} at ${e.at.toISOString()} under request #${e.requestId ?? '?'}, approved by ${e.approvedBy.join(', ') || 'nobody recorded'}`);
    }
    lines.push(`  ends:         ${h.scheduledEndAt.toISOString()}${h.status === 'past_end' ? ' (already past at this instant)' : ''}`);
    lines.push(
      `  ended:        ${
        h.endedAt
          ? `${h.endedAt.toISOString()} (${h.endReason ?? 'revoked'}${h.endedBy && h.endedBy !== 'breakglass' ? ` by ${h.endedBy}` : ''}${h.endedAt > h.scheduledEndAt && h.status === 'past_end' ? `, ${humanDuration(h.endedAt.getTime() - h.scheduledEndAt.getTime())} after its end` : ''})`
          : 'no revocation recorded yet'
      }`,
    );
    lines.push(`  evidence:     seq ${h.evidence.join(', ')}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** Reads the resource's events from the ledger (in seq order, a page at a time) and answers. */
export async function whoFromLedger(db: Db, resource: string, at: Date): Promise<WhoAnswer> {
  const history = new EvidenceHistory();
  for await (const event of readEvents(db, { resource })) history.add(event);
  return whoFromHistory(history, resource, at);
}

/** An on-call approval in the text answer: PagerDuty's shifts, and the review that followed. */
function onCallApproval(h: AccessHolder): string {
  const shifts = h.onCall!.shifts.map((s) => `schedule ${s.scheduleId} level ${s.escalationLevel} ${s.start ?? 'always'}–${s.end ?? 'no end'}`).join('; ');
  return `on call in PagerDuty (${shifts}; ${h.emergencyReview ? `reviewed by ${h.emergencyReview.by} at ${h.emergencyReview.at.toISOString()}` : 'not reviewed'})`;
}
