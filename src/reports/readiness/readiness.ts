import { attachResponses, groupRepeatedAlerts } from './exceptions.ts';
import { EMERGENCY_REVIEW_WITHIN_MS } from '../../domain/emergency.ts';
import type { Db } from '../../db/client.ts';
import { parseDuration } from '../../domain/duration.ts';
import { readDetails, type EventDetails } from '../../domain/events.ts';
import type { StoredEvent } from '../../ledger/event.ts';
import { EvidenceHistory, humanDuration, id, instant, number, scheduledEnd, text, utcDay, type GrantApplied, type GrantRecord, type RequestRecord } from '../history.ts';
import { checkLedgerAgainstCheckpoint, latestCheckpointEvent } from '../../ledger/checkpoint-check.ts';
import { uncoveredDays } from '../../ledger/checkpoint-coverage.ts';
import { readEvents } from '../../ledger/read.ts';
import { verifyLedger, type VerifyResult } from '../../ledger/verify.ts';
import { slackToText } from '../human-text.ts';
import { uptimeFindings } from './uptime-findings.ts';
import { GAP_KINDS, type CheckpointStatus, type Gap, type GapKind, type ReadinessReport } from './readiness-report.ts';

export { GAP_KINDS, GAP_TITLES, type CheckpointStatus, type Gap, type GapKind, type ReadinessReport } from './readiness-report.ts';
export { escapeMarkdown, readinessToMarkdown, readinessToText } from './readiness-render.ts';

/** A revocation up to this long after the grant's end counts as on time. */
export const LATE_REVOKE_TOLERANCE_MS = 60_000;
/** Offboarding SLA when the evidence does not state one (access.yml's default). */
export const DEFAULT_OFFBOARDING_SLA_MS = 24 * 3_600_000;

export interface ReadinessOptions {
  from: Date;
  /** Exclusive. */
  to: Date;
  /** The present: what has not happened by now may still be on time. */
  now: Date;
  verify: VerifyResult;
  /** The newest signed checkpoint in the ledger checked against it (see newestCheckpointCheck), if there is one. */
  checkpoint?: CheckpointStatus | undefined;
  lateToleranceMs?: number;
}

type Applied = GrantRecord & { applied: GrantApplied };

/** What one assessment looks at: the period, the clock, the tolerance, and the tally of what it checked. */
interface Scope {
  from: Date;
  to: Date;
  now: Date;
  tolerance: number;
  inPeriod: (date: Date | null | undefined) => boolean;
  checked: ReadinessReport['checked'];
}

/**
 * The gaps an auditor would find in a period, each with the evidence (seq numbers) behind it.
 * Pure: the caller folds the ledger into an EvidenceHistory (the whole ledger, so a grant applied
 * before the period or reviewed after it is judged on all the evidence) and passes the clock.
 *
 * What is "in the period" for each kind:
 * - unapproved_grant: grants applied, and extensions recorded, in [from, to).
 * - late_revoke: revocations more than the tolerance after the grant's end, where the end or the
 *   revocation falls in the period.
 * - not_revoked: grants started before `to`, past their end (+ tolerance) now, with no revocation
 *   recorded at all.
 * - unreviewed_emergency: emergency grants applied in the period with no `emergency.reviewed`
 *   within 24 h of the start (once those 24 h have passed).
 * - unacknowledged_alert: alerts raised in the period never acknowledged.
 * - review_overdue: campaigns started before `to` and due before now, not signed off by their due
 *   time (reported once they are due, whether signed late or not at all).
 * - offboarding_past_sla: `offboarding.completed` in the period with `sla_met: false`, and
 *   `offboarding.detected` before `to` whose SLA has run out with no completion recorded.
 * - approvers_short: `approver.unavailable` in the period that left its resource with fewer
 *   approvers than `approvals_required` (requests for it were refused until access.yml is fixed).
 * - silent_days: whole UTC days in the period, already over, on which nothing was recorded.
 * - ledger_tampered: the chain does not verify.
 * - checkpoint_missing: events that waited more than a day for a signed checkpoint (see
 *   CheckpointCoverage), where that wait overlaps the period.
 * - checkpoint_overdue: more than 24 h (and 15 min of grace) from one signed checkpoint to the
 *   next, or to now, overlapping the period; counted from the first `bot.started` on.
 * - bot_down / bot_stopped: more than 2 h with no event at all, overlapping the period, from the
 *   first `bot.started` on: bot_stopped when `bot.stopping` comes before and `bot.started` after
 *   (a planned stop), bot_down otherwise (a crash or the host down).
 */
export function assessReadiness(history: EvidenceHistory, options: ReadinessOptions): ReadinessReport {
  const { from, to, now } = options;
  const tolerance = options.lateToleranceMs ?? LATE_REVOKE_TOLERANCE_MS;
  const inPeriod = (date: Date | null | undefined) => date !== null && date !== undefined && date >= from && date < to;
  const checked = { grants: 0, extensions: 0, revocations: 0, emergency_grants: 0, alerts: 0, review_campaigns: 0, offboardings: 0, days: 0 };
  const scope: Scope = { from, to, now, tolerance, inPeriod, checked };
  const uptime = uptimeFindings(history.uptime, { from, to, now });
  const gaps = inReportOrder([
    ...ledgerGaps(options),
    ...checkpointCoverageGaps(history, scope),
    ...history.appliedGrants().flatMap((grant) => grantGaps(history, grant, scope)),
    ...alertGaps(history, scope),
    ...reviewCampaignGaps(history, scope),
    ...offboardingGaps(history, scope),
    ...approverGaps(history, scope),
    ...silentDays(history, from, to, now, checked),
    ...uptime.gaps,
  ], history);
  return {
    period: { from: from.toISOString(), to: to.toISOString() },
    ok: gaps.length === 0,
    ledger: { ok: options.verify.ok && options.checkpoint?.ok !== false, count: options.verify.count, head_hash: options.verify.headHash, problem: options.verify.problem ?? null, checkpoint: options.checkpoint ?? null },
    checked,
    gaps,
    counts: Object.fromEntries(GAP_KINDS.map((k) => [k, gaps.filter((g) => g.kind === k).length])) as Record<GapKind, number>,
    late_revoke_tolerance_ms: tolerance,
    uptime: uptime.summary,
    unreadable: history.unreadable,
  };
}

/**
 * As exceptions (repeated alerts about one finding folded into one, each with its id and the
 * responses to it), grouped by kind in GAP_KINDS order, then by when, then by their first event.
 */
function inReportOrder(found: Gap[], history: EvidenceHistory): Gap[] {
  const order = new Map(GAP_KINDS.map((k, i) => [k, i]));
  const gaps = attachResponses(groupRepeatedAlerts(found), history.responses);
  return gaps.sort((a, b) => order.get(a.kind)! - order.get(b.kind)! || a.at.localeCompare(b.at) || (a.seqs[0] ?? 0) - (b.seqs[0] ?? 0));
}

/** The chain does not verify, or the newest signed checkpoint does not match it. */
function ledgerGaps(options: ReadinessOptions): Gap[] {
  const gaps: Gap[] = [];
  const at = options.now.toISOString();
  if (!options.verify.ok) {
    const p = options.verify.problem;
    gaps.push({
      kind: 'ledger_tampered',
      summary: `The chain breaks at event ${p?.seq ?? '?'}${p?.kind ? ` (${p.kind})` : ''}: ${p?.reason ?? 'unknown problem'}. Only the ${options.verify.count} event(s) before it verify; nothing after it can be relied on.`,
      seqs: p ? [p.seq] : [],
      at,
    });
  }
  if (options.checkpoint && !options.checkpoint.ok) {
    gaps.push({
      kind: 'ledger_tampered',
      summary: `The newest signed checkpoint (event ${options.checkpoint.seq}) does not match the ledger: ${options.checkpoint.message}.`,
      seqs: [options.checkpoint.seq],
      at,
    });
  }
  return gaps;
}

/** Stretches of evidence that waited more than a day for a signed checkpoint, overlapping the period. */
function checkpointCoverageGaps(history: EvidenceHistory, { from, to, now }: Scope): Gap[] {
  const coverage = history.coverage;
  return coverage
    .gaps(now)
    .filter((gap) => gap.since < to && gap.until >= from)
    .map((gap) => {
      const events = `event${gap.events === 1 ? '' : 's'} #${gap.firstSeq}${gap.lastSeq > gap.firstSeq ? `–#${gap.lastSeq}` : ''}`;
      const fate = gap.coveredBy
        ? `were first covered by the checkpoint of ${gap.coveredBy.at.toISOString()} (event ${gap.coveredBy.seq})`
        : coverage.checkpoints === 0
          ? `are covered by none: the ledger holds no signed checkpoint at all (as of ${gap.until.toISOString()})`
          : `are covered by none, though the ledger went on recording until ${gap.until.toISOString()}`;
      return {
        kind: 'checkpoint_missing',
        summary: `No signed checkpoint for ${uncoveredDays(gap)} day(s): ${events} (${gap.events} event(s), recorded from ${gap.since.toISOString()}) ${fate}; the bot signs at least daily, so checkpoints were removed or its checkpoint worker was not working, and deleting or rewriting those events would not show.`,
        seqs: sorted([gap.firstSeq, gap.lastSeq, ...(gap.coveredBy ? [gap.coveredBy.seq] : [])]),
        at: gap.since.toISOString(),
      };
    });
}

/** Everything one grant's evidence can fall short of: its approval, its emergency review, its extensions, its end. */
function grantGaps(history: EvidenceHistory, grant: Applied, scope: Scope): Gap[] {
  return [...grantStartGaps(history, grant, scope), ...extensionGaps(history, grant, scope), ...grantEndGaps(grant, scope)];
}

function grantFacts(grant: Applied): Pick<Gap, 'resource' | 'subject' | 'requestId' | 'grantId'> {
  return { resource: grant.resource, subject: grant.person, requestId: grant.requestId, grantId: grant.grantId };
}

/** A grant applied in the period: its final approval, and (an emergency one) its review within 24 h. */
function grantStartGaps(history: EvidenceHistory, grant: Applied, { inPeriod, checked, now }: Scope): Gap[] {
  if (!inPeriod(grant.applied.startsAt)) return [];
  checked.grants++;
  if (grant.emergency) checked.emergency_grants++;
  const gaps: Gap[] = [];
  const problem = approvalProblem(history.requestOf(grant), grant, grant.applied.seq);
  if (problem) {
    gaps.push({
      kind: 'unapproved_grant',
      summary: `${who(grant)} got ${grant.resource} at ${grant.applied.startsAt.toISOString()} (grant ${grant.grantId}, request #${grant.requestId ?? '?'}): ${problem.text}.`,
      seqs: sorted([grant.applied.seq, ...problem.seqs]),
      ...grantFacts(grant),
      at: grant.applied.startsAt.toISOString(),
    });
  }
  // An on-call approval owes the same after-the-fact review as an emergency self-grant.
  const onCall = !grant.emergency && history.approvedOnCall(grant.requestId);
  const review = grant.emergency || onCall ? emergencyReviewGap(grant, now, onCall ? 'on-call' : 'emergency') : null;
  if (review) gaps.push(review);
  return gaps;
}

/** An emergency grant reviewed more than 24 h after it started, or not at all once those 24 h are over. */
function emergencyReviewGap(grant: Applied, now: Date, what: 'emergency' | 'on-call'): Gap | null {
  const due = new Date(grant.applied.startsAt.getTime() + EMERGENCY_REVIEW_WITHIN_MS);
  const escalation = grant.escalation ? [grant.escalation.seq] : [];
  const at = grant.applied.startsAt.toISOString();
  if (grant.review && grant.review.at > due) {
    return {
      kind: 'unreviewed_emergency',
      summary: `${who(grant)}'s ${what} access to ${grant.resource} (request #${grant.requestId ?? '?'}) was reviewed by ${grant.review.by} only ${humanDuration(grant.review.at.getTime() - grant.applied.startsAt.getTime())} after it started (due within 24h, by ${due.toISOString()}).`,
      seqs: sorted([grant.applied.seq, grant.review.seq, ...escalation]),
      ...grantFacts(grant),
      at,
    };
  }
  if (!grant.review && due <= now) {
    return {
      kind: 'unreviewed_emergency',
      summary: `${who(grant)}'s ${what} access to ${grant.resource} (request #${grant.requestId ?? '?'}) has no review recorded; it was due by ${due.toISOString()}${grant.escalation ? `, and was escalated at ${grant.escalation.at.toISOString()}` : ''}.`,
      seqs: sorted([grant.applied.seq, ...escalation]),
      ...grantFacts(grant),
      at,
    };
  }
  return null;
}

/** Extensions recorded in the period that do not rest on a final approval. */
function extensionGaps(history: EvidenceHistory, grant: Applied, { inPeriod, checked }: Scope): Gap[] {
  const gaps: Gap[] = [];
  for (const extension of grant.extensions) {
    if (!inPeriod(extension.at)) continue;
    checked.extensions++;
    const request = extension.requestId === null ? undefined : history.requests.get(extension.requestId);
    const problem = approvalProblem(request, grant, extension.seq);
    if (!problem) continue;
    gaps.push({
      kind: 'unapproved_grant',
      summary: `${who(grant)}'s access to ${grant.resource} (grant ${grant.grantId}) was extended to ${extension.endsAt.toISOString()} under request #${extension.requestId ?? '?'}: ${problem.text}.`,
      seqs: sorted([extension.seq, ...problem.seqs]),
      ...grantFacts(grant),
      requestId: extension.requestId,
      at: extension.at.toISOString(),
    });
  }
  return gaps;
}

/** A revocation later than the grant's end (+ tolerance), or none recorded for a grant past its end. */
function grantEndGaps(grant: Applied, { inPeriod, checked, to, now, tolerance }: Scope): Gap[] {
  const revocation = grant.revocation;
  if (revocation) {
    const end = revocation.scheduledEnd ?? scheduledEnd(grant);
    if (!inPeriod(revocation.at) && !inPeriod(end)) return [];
    checked.revocations++;
    if (revocation.lateByMs <= tolerance) return [];
    return [
      {
        kind: 'late_revoke',
        summary: `${who(grant)}'s access to ${grant.resource} (grant ${grant.grantId}, request #${grant.requestId ?? '?'}) was due to end at ${end.toISOString()} but was revoked at ${revocation.at.toISOString()}, ${humanDuration(revocation.lateByMs)} late (tolerance ${humanDuration(tolerance)}).`,
        seqs: sorted([grant.applied.seq, revocation.seq, ...grant.revokeFailures.map((f) => f.seq)]),
        ...grantFacts(grant),
        at: revocation.at.toISOString(),
      },
    ];
  }
  const end = scheduledEnd(grant);
  if (grant.applied.startsAt >= to || end.getTime() + tolerance >= now.getTime()) return [];
  const failures = grant.revokeFailures;
  return [
    {
      kind: 'not_revoked',
      summary: `${who(grant)}'s access to ${grant.resource} (grant ${grant.grantId}, request #${grant.requestId ?? '?'}) was due to end at ${end.toISOString()} and no revocation is recorded${failures.length > 0 ? `; ${failures.length} failed revoke attempt(s) are, the last: ${failures.at(-1)!.error ?? 'no error text'}` : ''}.`,
      seqs: sorted([grant.applied.seq, ...grant.extensions.map((e) => e.seq), ...(grant.endRequested ? [grant.endRequested.seq] : []), ...failures.map((f) => f.seq)]),
      ...grantFacts(grant),
      at: end.toISOString(),
    },
  ];
}

/** Alerts raised in the period and never acknowledged. */
function alertGaps(history: EvidenceHistory, { inPeriod, checked }: Scope): Gap[] {
  const gaps: Gap[] = [];
  for (const alert of history.alerts.values()) {
    if (!inPeriod(alert.raisedAt) || alert.raisedSeq === null) continue;
    checked.alerts++;
    if (alert.ack) continue;
    gaps.push({
      kind: 'unacknowledged_alert',
      summary: `Alert ${alert.alertId} (${alert.kind ?? 'alert'}) raised at ${alert.raisedAt!.toISOString()} was never acknowledged${alert.text ? `: "${oneLine(slackToText(alert.text))}"` : ''}.`,
      seqs: [alert.raisedSeq],
      resource: alert.resource,
      subject: alert.subject,
      requestId: alert.requestId,
      grantId: alert.grantId,
      at: alert.raisedAt!.toISOString(),
      alert_kind: alert.kind ?? 'alert',
      alert_ids: [alert.alertId],
    });
  }
  return gaps;
}

/** A configured approver found unable to approve, which left the resource short of the approvals it needs. */
function approverGaps(history: EvidenceHistory, { inPeriod }: Scope): Gap[] {
  return history.unavailableApprovers.flatMap((event) => {
    const d = readDetails('approver.unavailable', event.details);
    if (!d || !inPeriod(event.occurredAt) || d.available >= d.required) return [];
    return [{
      kind: 'approvers_short' as const,
      summary: `${event.resource} needs ${d.required} approval(s) but only ${d.available} approver(s) could give them from ${event.occurredAt.toISOString()}: ${d.approver} is ${d.reason}.`,
      seqs: [event.seq],
      resource: event.resource,
      subject: d.approver,
      at: event.occurredAt.toISOString(),
    }];
  });
}

/** Review campaigns started before the period's end, due by now, not signed off by their due time. */
function reviewCampaignGaps(history: EvidenceHistory, { from, to, now, checked }: Scope): Gap[] {
  const gaps: Gap[] = [];
  for (const campaign of reviewCampaigns(history.reviewEvents)) {
    if (!campaign.started || campaign.started.occurredAt >= to) continue;
    checked.review_campaigns++;
    const due = campaign.dueAt;
    if (!due || due > now) continue;
    const atDue = missingSignOffs(campaign, due);
    const stillMissing = missingSignOffs(campaign, now);
    // Due before the period and settled by now: that belongs to an earlier period's report.
    if (atDue.count === 0 || (due < from && stillMissing.count === 0)) continue;
    gaps.push({
      kind: 'review_overdue',
      summary: `Access review ${campaign.id}, started ${campaign.started.occurredAt.toISOString()}, was due by ${due.toISOString()} and was not signed off${owedBy(campaign, atDue)} by then${lateness(atDue, stillMissing)}.`,
      seqs: sorted([campaign.started.seq, ...campaign.signOffs.map((e) => e.seq), ...campaign.escalations.map((e) => e.seq), ...(campaign.closed ? [campaign.closed.seq] : [])]),
      at: due.toISOString(),
    });
  }
  return gaps;
}

/** Who owed the sign-offs missing at the due time, as far as the evidence names them. */
function owedBy(campaign: ReviewCampaign, atDue: { count: number; names: string[] }): string {
  if (campaign.reviewers.length > 0) return ` by ${atDue.names.join(', ')}`;
  if (campaign.expectedSignOffs === null) return '';
  return ` by ${atDue.count} of its ${campaign.expectedSignOffs} reviewer(s)${atDue.names.length > 0 ? ` (including ${atDue.names.join(', ')})` : ''}`;
}

function lateness(atDue: { count: number }, stillMissing: { count: number }): string {
  if (stillMissing.count === 0) return ' (signed off late)';
  if (stillMissing.count < atDue.count) return ` (partly signed off late; ${stillMissing.count} still missing)`;
  return ' (still not signed off)';
}

/** Offboardings completed in the period past their SLA, and detected ones whose SLA ran out with no completion. */
function offboardingGaps(history: EvidenceHistory, scope: Scope): Gap[] {
  return offboardingRecords(history.offboardingEvents).flatMap((record) => {
    const gap = record.completed ? lateCompletionGap(record, record.completed, scope) : missingCompletionGap(record, scope);
    return gap ? [gap] : [];
  });
}

function lateCompletionGap(record: OffboardingRecord, completed: StoredEvent, { inPeriod, checked }: Scope): Gap | null {
  if (!inPeriod(completed.occurredAt)) return null;
  checked.offboardings++;
  if (record.completion?.sla_met !== false) return null;
  const unmanaged = record.completion.unmanaged_access;
  const facts = [
    ...(record.tookMs !== null ? [`access ended ${humanDuration(record.tookMs)} after deactivation`] : []),
    ...(record.slaMs !== null ? [`SLA ${humanDuration(record.slaMs)}`] : []),
    ...(unmanaged.length > 0 ? [`access breakglass did not grant remained on ${unmanaged.join(', ')}`] : []),
  ];
  return {
    kind: 'offboarding_past_sla',
    summary: `Offboarding of ${record.person ?? '(unknown)'} completed at ${completed.occurredAt.toISOString()}, past its SLA${facts.length > 0 ? ` (${facts.join('; ')})` : ''}.`,
    seqs: sorted([completed.seq, ...(record.detected ? [record.detected.seq] : [])]),
    subject: record.person,
    at: completed.occurredAt.toISOString(),
  };
}

function missingCompletionGap(record: OffboardingRecord, { inPeriod, checked, to, now }: Scope): Gap | null {
  const detected = record.detected;
  if (!detected || detected.occurredAt >= to) return null;
  if (inPeriod(detected.occurredAt)) checked.offboardings++;
  const deadline = new Date(record.deactivatedAt!.getTime() + (record.slaMs ?? DEFAULT_OFFBOARDING_SLA_MS));
  if (deadline > now) return null;
  return {
    kind: 'offboarding_past_sla',
    summary: `Offboarding of ${record.person ?? '(unknown)'}, deactivated at ${record.deactivatedAt!.toISOString()}, had to be completed by ${deadline.toISOString()} and no completion is recorded.`,
    seqs: [detected.seq],
    subject: record.person,
    at: detected.occurredAt.toISOString(),
  };
}

/**
 * Why a grant (or an extension) does not rest on a final approval recorded before it, or null.
 * A self-grant counts only as an emergency self-grant; otherwise the requester approving their
 * own request never counts (separation of duties).
 */
function approvalProblem(request: RequestRecord | undefined, grant: Applied, beforeSeq: number): { text: string; seqs: number[] } | null {
  if (!request) return { text: 'no request is recorded for it', seqs: [] };
  const seqs = [...(request.createdSeq ? [request.createdSeq] : []), ...request.approvals.map((a) => a.seq)];
  const prior = request.approvals.filter((a) => a.seq < beforeSeq);
  const final = prior.find((a) => a.final);
  if (!final) {
    const after = request.approvals.find((a) => a.final && a.seq > beforeSeq);
    if (after) return { text: `its final approval (by ${after.approver}) was recorded only after access was given`, seqs };
    const count = new Set(prior.map((a) => a.approver)).size;
    return {
      text: count === 0 ? 'no approval is recorded' : `only ${count} approval(s) are recorded and none completed the required ${request.approvalsRequired ?? '?'}`,
      seqs,
    };
  }
  const emergency = grant.emergency || request.kind === 'emergency';
  if (final.selfGrant && !emergency) return { text: `it was self-granted by ${final.approver}, but it is not an emergency grant`, seqs };
  const requester = request.requester;
  if (!final.selfGrant && requester && prior.some((a) => a.approver === requester && !a.selfGrant)) {
    return { text: `the requester ${requester} is recorded among the approvers (no self-approval is allowed)`, seqs };
  }
  return null;
}

export interface ReviewCampaign {
  id: string;
  started: StoredEvent | null;
  dueAt: Date | null;
  /** The reviewers the campaign names, when review.started lists them. */
  reviewers: string[];
  /**
   * How many cards need a sign-off, when review.started counts them instead (the review feature
   * records `reviewers`: the managers' cards, plus the security channel's card when
   * `security_items` > 0). Null when the evidence does not say.
   */
  expectedSignOffs: number | null;
  signOffs: StoredEvent[];
  /** review.closed: every card signed off and every revoke done. */
  closed: StoredEvent | null;
  escalations: StoredEvent[];
  events: StoredEvent[];
}

/**
 * review.* events grouped by campaign (details.campaign_id, else review_id, else the request id).
 * Unlike the rest of the history this reads their details field by field, not through the
 * catalogue: it also judges campaigns that name their reviewers (`reviewers` as a list), a shape
 * breakglass itself does not write, and such events stay in `unreadable` all the same.
 */
export function reviewCampaigns(events: StoredEvent[]): ReviewCampaign[] {
  const campaigns = new Map<string, ReviewCampaign>();
  for (const event of events) {
    const key = campaignId(event);
    let campaign = campaigns.get(key);
    if (!campaign) {
      campaign = { id: key, started: null, dueAt: null, reviewers: [], expectedSignOffs: null, signOffs: [], closed: null, escalations: [], events: [] };
      campaigns.set(key, campaign);
    }
    campaign.events.push(event);
    const d = event.details;
    if (event.kind === 'review.started') {
      campaign.started ??= event;
      campaign.dueAt = instant(d.due_at) ?? campaign.dueAt;
      if (Array.isArray(d.reviewers)) {
        campaign.reviewers = d.reviewers
          .map((r) => (typeof r === 'object' && r !== null ? String((r as Record<string, unknown>).id ?? (r as Record<string, unknown>).reviewer ?? '') : String(r)))
          .filter(Boolean);
        campaign.expectedSignOffs = campaign.reviewers.length;
      } else if (number(d.reviewers) !== null) {
        campaign.expectedSignOffs = number(d.reviewers)! + ((number(d.security_items) ?? 0) > 0 ? 1 : 0);
      }
    }
    if (event.kind === 'review.signed_off') campaign.signOffs.push(event);
    if (event.kind === 'review.escalated') campaign.escalations.push(event);
    if (event.kind === 'review.closed') campaign.closed ??= event;
  }
  return [...campaigns.values()];
}

/** Who signed a card off: the card (or its reviewer) it was for, else the signer. */
function signOffKey(event: StoredEvent): string {
  return id(event.details.card_id) ?? text(event.details.reviewer) ?? event.actor;
}

/**
 * How many sign-offs were still missing at `by`, and who is known to owe them. A campaign whose
 * size the evidence does not state needs at least one sign-off (or its review.closed).
 */
export function missingSignOffs(campaign: ReviewCampaign, by: Date): { count: number; names: string[] } {
  if (campaign.closed && campaign.closed.occurredAt <= by) return { count: 0, names: [] };
  const signed = campaign.signOffs.filter((s) => s.occurredAt <= by);
  if (campaign.reviewers.length > 0) {
    const done = new Set(signed.flatMap((s) => [text(s.details.reviewer), s.actor]).filter(Boolean));
    const names = campaign.reviewers.filter((r) => !done.has(r));
    return { count: names.length, names };
  }
  const cards = new Set(signed.map(signOffKey));
  const expected = campaign.expectedSignOffs ?? 1;
  const count = Math.max(0, expected - cards.size);
  // Reviewers escalated for being overdue and not signed off by then are the ones known to owe it.
  const signedReviewers = new Set(signed.flatMap((s) => [text(s.details.reviewer), s.actor]).filter(Boolean));
  const names = [...new Set(campaign.escalations.map((e) => text(e.details.reviewer)).filter((r): r is string => r !== null && !signedReviewers.has(r)))];
  return { count, names: count > 0 ? names : [] };
}

export function campaignId(event: StoredEvent): string {
  return id(event.details.campaign_id) ?? id(event.details.review_id) ?? event.requestId ?? `seq:${event.seq}`;
}

export interface OffboardingRecord {
  person: string | null;
  detected: StoredEvent | null;
  completed: StoredEvent | null;
  /** Their details as the catalogue reads them; null when absent or not of their kind's shape. */
  detection: EventDetails<'offboarding.detected'> | null;
  completion: EventDetails<'offboarding.completed'> | null;
  /** While open: what the newest check found the person still holding (offboarding.access_held), since when. */
  held: EventDetails<'offboarding.access_held'>['held'] | null;
  /** When the person was deactivated (details.deactivated_at), else when it was detected. */
  deactivatedAt: Date | null;
  slaMs: number | null;
  /** From deactivation to the end of the last access (details.took_ms), when recorded. */
  tookMs: number | null;
}

/**
 * offboarding.detected and .completed paired: a completion names its detection
 * (details.detected_seq), else it completes the latest open detection of the same person.
 */
export function offboardingRecords(events: StoredEvent[]): OffboardingRecord[] {
  const records: OffboardingRecord[] = [];
  const open = new Map<string, OffboardingRecord>();
  const bySeq = new Map<number, OffboardingRecord>();
  for (const event of events) {
    const person = event.subject;
    if (event.kind === 'offboarding.detected') {
      const d = readDetails('offboarding.detected', event.details) ?? null;
      const record: OffboardingRecord = { person, detected: event, completed: null, detection: d, completion: null, held: null, deactivatedAt: instant(d?.deactivated_at) ?? event.occurredAt, slaMs: slaOf(d), tookMs: null };
      records.push(record);
      bySeq.set(event.seq, record);
      open.set(person ?? '', record);
    } else if (event.kind === 'offboarding.completed') {
      const d = readDetails('offboarding.completed', event.details) ?? null;
      let record = (d ? bySeq.get(d.detected_seq) : undefined) ?? open.get(person ?? '');
      if (!record || record.completed) {
        record = { person, detected: null, completed: null, detection: null, completion: null, held: null, deactivatedAt: instant(d?.deactivated_at), slaMs: null, tookMs: null };
        records.push(record);
      }
      record.completed = event;
      record.completion = d;
      record.slaMs = slaOf(d) ?? record.slaMs;
      record.deactivatedAt = instant(d?.deactivated_at) ?? record.deactivatedAt;
      const ended = instant(d?.access_ended_at);
      record.tookMs = d?.took_ms ?? (ended && record.deactivatedAt ? ended.getTime() - record.deactivatedAt.getTime() : null);
      if (open.get(person ?? '') === record) open.delete(person ?? '');
    } else if (event.kind === 'offboarding.access_held') {
      const d = readDetails('offboarding.access_held', event.details);
      const record = d ? bySeq.get(d.detected_seq) : undefined;
      if (record && !record.completed) record.held = d!.held;
    }
  }
  return records;
}

/** The SLA an offboarding event states, a duration such as `24h` or `1d`. */
function slaOf(details: { sla: string } | null): number | null {
  const sla = text(details?.sla);
  return sla ? (parseDuration(sla) ?? null) : null;
}

function silentDays(history: EvidenceHistory, from: Date, to: Date, now: Date, checked: { days: number }): Gap[] {
  const gaps: Gap[] = [];
  const DAY = 86_400_000;
  let run: { first: string; last: string; days: number } | null = null;
  const flush = () => {
    if (!run) return;
    const before = [...history.days.entries()].filter(([day]) => day < run!.first).sort(([a], [b]) => a.localeCompare(b)).at(-1);
    const after = [...history.days.entries()].filter(([day]) => day > run!.last).sort(([a], [b]) => a.localeCompare(b))[0];
    const span = run.days === 1 ? run.first : `${run.first} to ${run.last}`;
    gaps.push({
      kind: 'silent_days',
      summary: `${span} (${run.days} day${run.days === 1 ? '' : 's'}, UTC): no event at all is recorded; ${
        before && after
          ? `the last event before is ${before[1].lastSeq} and the next after is ${after[1].firstSeq}`
          : after
            ? `it is before the first event in the ledger (${after[1].firstSeq})`
            : before
              ? `the last event before is ${before[1].lastSeq}, and none is recorded after it`
              : 'the ledger is empty'
      }.`,
      seqs: sorted([...(before ? [before[1].lastSeq] : []), ...(after ? [after[1].firstSeq] : [])]),
      at: `${run.first}T00:00:00.000Z`,
    });
    run = null;
  };
  for (let start = Math.floor(from.getTime() / DAY) * DAY; start < to.getTime(); start += DAY) {
    if (start + DAY > now.getTime()) break;
    checked.days++;
    const day = utcDay(new Date(start));
    if (history.days.has(day)) flush();
    else if (run) {
      run.last = day;
      run.days++;
    } else run = { first: day, last: day, days: 1 };
  }
  flush();
  return gaps;
}

function who(grant: GrantRecord): string {
  return grant.person ?? '(unknown person)';
}

function oneLine(value: string): string {
  const flat = value.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 157)}…` : flat;
}

function sorted(seqs: number[]): number[] {
  return [...new Set(seqs)].sort((a, b) => a - b);
}

/** Verifies the whole chain, checks the newest checkpoint, folds the whole ledger and assesses the period. */
export async function readinessFromLedger(db: Db, period: { from: Date; to: Date }, now: Date, onProgress?: (step: string) => void): Promise<ReadinessReport> {
  onProgress?.('verifying the evidence ledger…');
  const verify = await verifyLedger(db, (n) => onProgress?.(`verifying the evidence ledger… ${n.toLocaleString('en-US')} events`));
  const checkpoint = await newestCheckpointCheck(db);
  onProgress?.('reading the evidence…');
  const history = new EvidenceHistory();
  for await (const event of readEvents(db)) history.add(event);
  return assessReadiness(history, { ...period, now, verify, checkpoint });
}

/**
 * The newest ledger.checkpoint event checked against the ledger: its signature, and that the
 * event it names still has the hash it signed. Catches a rewritten chain that verifies by itself.
 */
export async function newestCheckpointCheck(db: Db): Promise<CheckpointStatus | undefined> {
  const found = await latestCheckpointEvent(db);
  if (!found) return undefined;
  if (!found.checkpoint) return { ok: false, seq: found.seq, message: `it cannot be read (${found.error ?? 'unknown format'})` };
  const check = await checkLedgerAgainstCheckpoint(db, found.checkpoint);
  return { ok: check.ok, seq: found.seq, message: check.message };
}
