import { toSafeCsv } from '../csv-safe.ts';
import type { AccessInterval, AccessTimeline, Basis, Coverage } from './timeline.ts';

/**
 * The access record's answers as data (the JSON contract in the README: snake_case keys, UTC
 * ISO-8601 instants, null for what is not recorded), as text for a person, and as CSV.
 */

const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);

export interface WhoAtAnswer {
  resource: string;
  at: Date;
  coverage: Coverage;
  holders: AccessInterval[];
}

export interface UserAtAnswer {
  user: string;
  person: { id: string; label: string } | null;
  aliases: string[];
  at: Date;
  holders: AccessInterval[];
  /** Resources whose listings did not cover the instant: the person's access there is not known. */
  notKnown: Coverage[];
}

export interface AccessPeriodAnswer {
  from: Date;
  to: Date;
  resource: string | null;
  intervals: AccessInterval[];
  /** Per resource, the parts of the period no listing covered. */
  uncovered: Array<{ resource: string; from: Date; to: Date }>;
}

export function whoAt(timeline: AccessTimeline, resource: string, at: Date): WhoAtAnswer {
  return { resource, at, coverage: timeline.coverage(resource, at), holders: timeline.at(at, { resource }) };
}

export function userAt(timeline: AccessTimeline, user: { alias: string; aliases: Set<string>; person: { id: string; label: string } | null }, at: Date): UserAtAnswer {
  const holders = timeline.at(at, { aliases: user.aliases });
  const notKnown = [...timeline.resources].sort().map((r) => timeline.coverage(r, at)).filter((c) => c.state !== 'covered');
  const person = user.person ?? (holders[0] ? { id: holders[0].person.id, label: holders[0].person.label } : null);
  return { user: user.alias, person, aliases: [...user.aliases].sort(), at, holders, notKnown };
}

export function accessBetween(timeline: AccessTimeline, from: Date, to: Date, resource?: string): AccessPeriodAnswer {
  const resources = resource ? [resource] : [...timeline.resources].sort();
  const uncovered = resources.flatMap((r) => uncoveredParts(timeline, r, from, to));
  return { from, to, resource: resource ?? null, intervals: timeline.between(from, to, { resource }), uncovered };
}

/** The parts of [from, to) where listings of `resource` did not cover, found from the span edges. */
function uncoveredParts(timeline: AccessTimeline, resource: string, from: Date, to: Date): Array<{ resource: string; from: Date; to: Date }> {
  const parts: Array<{ resource: string; from: Date; to: Date }> = [];
  let cursor = from;
  while (cursor < to) {
    const coverage = timeline.coverage(resource, cursor);
    if (coverage.state === 'covered') {
      const end = timeline.coveredUntil(resource, cursor);
      if (end.getTime() >= to.getTime()) break;
      cursor = new Date(end.getTime() + 1);
      continue;
    }
    const next = coverage.nextListingAfter && coverage.nextListingAfter < to ? coverage.nextListingAfter : to;
    parts.push({ resource, from: cursor, to: next });
    cursor = next;
  }
  return parts;
}

export function basisToJson(basis: Basis): Record<string, unknown> {
  switch (basis.kind) {
    case 'grant':
    case 'emergency_grant':
      return {
        kind: basis.kind,
        grant_id: basis.grantId,
        request_id: basis.requestId,
        request_kind: basis.requestKind,
        reason: basis.reason,
        ticket: basis.ticket,
        approved_by: basis.approvedBy,
        approvals_required: basis.approvalsRequired,
        self_granted: basis.selfGranted,
        emergency_review: basis.emergencyReview ? { by: basis.emergencyReview.by, at: basis.emergencyReview.at.toISOString() } : null,
        config_hash: basis.policy.configHash,
        policy_source: basis.policy.source,
        scheduled_end_at: basis.scheduledEndAt.toISOString(),
      };
    case 'review_keep':
      return { kind: basis.kind, campaign_id: basis.campaignId, period: basis.period, reviewer: basis.reviewer, decided_at: basis.decidedAt.toISOString() };
    case 'unmanaged':
      return { kind: basis.kind, note: basis.note };
  }
}

export function intervalToJson(interval: AccessInterval): Record<string, unknown> {
  const ended = interval.ended;
  return {
    person: { id: interval.person.id, label: interval.person.label },
    aliases: interval.person.aliases,
    resource: interval.resource,
    principal: interval.principal,
    basis: basisToJson(interval.basis),
    from: interval.from.toISOString(),
    start: interval.start,
    appeared_after: iso(interval.appearedAfter),
    to: iso(interval.to),
    ended: ended ? { how: ended.how, at: ended.at.toISOString(), by: ended.by, reason: ended.reason, seen_gone_at: iso(ended.seenGoneAt), last_seen_at: iso(ended.lastSeenAt) } : null,
    evidence_seqs: interval.evidence,
  };
}

export function coverageToJson(coverage: Coverage): Record<string, unknown> {
  return { resource: coverage.resource, state: coverage.state, known: coverage.state === 'covered', last_listing_before: iso(coverage.lastListingBefore), next_listing_after: iso(coverage.nextListingAfter) };
}

export function whoAtToJson(answer: WhoAtAnswer): Record<string, unknown> {
  return { resource: answer.resource, at: answer.at.toISOString(), coverage: coverageToJson(answer.coverage), holders: answer.holders.map(intervalToJson) };
}

export function userAtToJson(answer: UserAtAnswer): Record<string, unknown> {
  return { user: answer.user, person: answer.person, aliases: answer.aliases, at: answer.at.toISOString(), holders: answer.holders.map(intervalToJson), not_known: answer.notKnown.map(coverageToJson) };
}

export function accessToJson(answer: AccessPeriodAnswer): Record<string, unknown> {
  return {
    from: answer.from.toISOString(),
    to: answer.to.toISOString(),
    resource: answer.resource,
    intervals: answer.intervals.map(intervalToJson),
    uncovered: answer.uncovered.map((u) => ({ resource: u.resource, from: u.from.toISOString(), to: u.to.toISOString() })),
  };
}

export const ACCESS_CSV_COLUMNS = [
  'resource', 'person_id', 'person', 'principal', 'basis', 'from', 'start', 'appeared_after', 'to', 'ended_how', 'ended_by', 'seen_gone_at',
  'grant_id', 'request_id', 'approved_by', 'reason', 'ticket', 'config_hash', 'campaign_id', 'reviewer', 'kept_at', 'note', 'evidence_seqs',
] as const;

export function accessCsvRow(interval: AccessInterval): Record<(typeof ACCESS_CSV_COLUMNS)[number], string | number | boolean | null> {
  const b = interval.basis;
  const granted = b.kind === 'grant' || b.kind === 'emergency_grant' ? b : null;
  const kept = b.kind === 'review_keep' ? b : null;
  return {
    resource: interval.resource,
    person_id: interval.person.id,
    person: interval.person.label,
    principal: interval.principal,
    basis: b.kind,
    from: interval.from.toISOString(),
    start: interval.start,
    appeared_after: iso(interval.appearedAfter),
    to: iso(interval.to),
    ended_how: interval.ended?.how ?? null,
    ended_by: interval.ended?.by ?? null,
    seen_gone_at: iso(interval.ended?.seenGoneAt),
    grant_id: granted?.grantId ?? null,
    request_id: granted?.requestId ?? null,
    approved_by: granted ? granted.approvedBy.join(' ') : null,
    reason: granted?.reason ?? null,
    ticket: granted?.ticket ?? null,
    config_hash: granted?.policy.configHash ?? null,
    campaign_id: kept?.campaignId ?? null,
    reviewer: kept?.reviewer ?? null,
    kept_at: iso(kept?.decidedAt),
    note: b.kind === 'unmanaged' ? b.note : null,
    evidence_seqs: interval.evidence.join(' '),
  };
}

export function accessToCsv(intervals: AccessInterval[], options: { bom?: boolean } = {}): string {
  return toSafeCsv(ACCESS_CSV_COLUMNS, intervals.map(accessCsvRow), { ...options, hashColumns: ['config_hash'] });
}
