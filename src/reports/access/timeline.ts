import { isOpaque, parseEvent } from '../../domain/events.ts';
import type { StoredEvent } from '../../ledger/event.ts';
import { EvidenceHistory, type GrantApplied, type GrantRecord, type RevocationRecord } from '../history.ts';
import { PersonGraph, personView } from './person-graph.ts';
import { describeGrant, type GrantDecision } from './who.ts';

/**
 * The access record: every interval of access the ledger knows of, whatever granted it, each with
 * its basis and how it ended. Built from the evidence events (breakglass's grants, the access
 * inventory's `access.observed` / `access.gone`, reviews' Keeps and Revokes) and the spans of time
 * the inventory's listings covered, so an instant no listing covered is "not known", never "nobody".
 *
 * Pure: no I/O, no clock. Intervals start inclusive and end exclusive.
 */

/** How long after breakglass revoked access a listing may still show it (the provider settling). */
const SETTLE_MS = 60_000;

export interface ListingSpan {
  resource: string;
  from: Date;
  to: Date;
  /** Lower-cased principals the span's newest listing found (its last listing at `to`). */
  holders: string[];
}

export type Basis =
  | (GrantDecision & {
      kind: 'grant' | 'emergency_grant';
      /** The access.yml version the request was decided under, and where that version came from. */
      policy: { configHash: string | null; source: Record<string, unknown> | null };
    })
  | { kind: 'review_keep'; campaignId: number; period: string | null; reviewer: string; decidedAt: Date }
  | { kind: 'unmanaged'; note: string | null };

export type EndHow = 'expired' | 'ended_early' | 'offboarding' | 'review_revoke' | 'revoked' | 'removed_outside_breakglass';

export interface AccessEnd {
  how: EndHow;
  at: Date;
  /** Who ended it, when breakglass did (`breakglass` for its own workers). */
  by: string | null;
  /** The reason recorded with a breakglass revocation. */
  reason: string | null;
  /** The first listing that no longer showed the access, and the last one that did. */
  seenGoneAt: Date | null;
  lastSeenAt: Date | null;
}

export interface AccessInterval {
  resource: string;
  /** Lower-cased key shared by every alias of the person (see PersonGraph). */
  personKey: string;
  person: { id: string; label: string; aliases: string[] };
  /** The name the provider lists the person by, when a listing saw the access. */
  principal: string | null;
  basis: Basis;
  from: Date;
  /** `recorded`: breakglass made the change; `first_seen`: a listing first showed it (it may be older). */
  start: 'recorded' | 'first_seen' | 'kept';
  /** For `first_seen`: the listing before, which did not show it (null: the resource's first listing). */
  appearedAfter: Date | null;
  to: Date | null;
  ended: AccessEnd | null;
  evidence: number[];
}

export type CoverageState = 'covered' | 'never_listed' | 'before_first_listing' | 'between_spans' | 'after_last_listing';

export interface Coverage {
  resource: string;
  state: CoverageState;
  lastListingBefore: Date | null;
  nextListingAfter: Date | null;
}

interface Observation {
  resource: string;
  key: string;
  principal: string;
  from: Date;
  appearedAfter: Date | null;
  seq: number;
  gone: { at: Date; lastSeenAt: Date; seq: number } | null;
}

/**
 * Breakglass removing access that is not one of its live grants: a review's Revoke carried out at
 * the provider (grant.revoked, reason review), or access nobody granted removed under drift action
 * `remove` (drift.detected, removed), by the drift pass or an offboarding's check.
 */
interface Removal {
  resource: string;
  key: string;
  at: Date;
  by: string;
  how: EndHow;
  reason: 'review' | 'drift';
  seq: number;
}

interface Decision {
  resource: string;
  key: string;
  decision: 'keep';
  campaignId: number;
  period: string | null;
  reviewer: string;
  at: Date;
  seq: number;
}

export interface TimelineFilter {
  resource?: string | undefined;
  /** Lower-cased aliases of one person: rows of anyone sharing one of them. */
  aliases?: Set<string> | undefined;
}

export class AccessTimeline {
  readonly intervals: AccessInterval[] = [];
  readonly resources = new Set<string>();

  constructor(
    readonly graph: PersonGraph,
    private readonly spans: ListingSpan[],
  ) {
    for (const span of spans) this.resources.add(span.resource);
  }

  /** Whether listings of `resource` covered `at`, and the listings either side of it. */
  coverage(resource: string, at: Date): Coverage {
    const mine = this.spans.filter((s) => s.resource === resource).sort((a, b) => a.from.getTime() - b.from.getTime());
    const t = at.getTime();
    const before = mine.filter((s) => s.from.getTime() <= t).at(-1);
    const after = mine.find((s) => s.from.getTime() > t);
    const around = { lastListingBefore: before ? new Date(Math.min(before.to.getTime(), t)) : null, nextListingAfter: after?.from ?? null };
    if (before && t <= before.to.getTime()) return { resource, state: 'covered', lastListingBefore: null, nextListingAfter: null };
    if (mine.length === 0) return { resource, state: 'never_listed', ...around };
    if (!before) return { resource, state: 'before_first_listing', ...around };
    return { resource, state: after ? 'between_spans' : 'after_last_listing', lastListingBefore: before.to, nextListingAfter: after?.from ?? null };
  }

  /** The end of the span covering `at` (call only when it is covered). */
  coveredUntil(resource: string, at: Date): Date {
    const t = at.getTime();
    const span = this.spans.find((s) => s.resource === resource && s.from.getTime() <= t && t <= s.to.getTime());
    return span?.to ?? at;
  }

  /** Intervals holding at `at`: started at or before it, not ended by then. */
  at(at: Date, filter: TimelineFilter = {}): AccessInterval[] {
    const t = at.getTime();
    return this.select(filter).filter((i) => i.from.getTime() <= t && (i.to === null || t < i.to.getTime()));
  }

  /** Intervals overlapping [from, to). */
  between(from: Date, to: Date, filter: TimelineFilter = {}): AccessInterval[] {
    return this.select(filter).filter((i) => i.from.getTime() < to.getTime() && (i.to === null || i.to.getTime() > from.getTime()));
  }

  private select(filter: TimelineFilter): AccessInterval[] {
    return this.intervals
      .filter((i) => (filter.resource === undefined || i.resource === filter.resource) && (filter.aliases === undefined || i.person.aliases.some((a) => filter.aliases!.has(a.toLowerCase()))))
      .sort((a, b) => a.resource.localeCompare(b.resource) || a.from.getTime() - b.from.getTime() || a.person.id.localeCompare(b.person.id));
  }
}

/**
 * Folds events (in seq order, a page at a time if need be) and then, given the listing spans and
 * the people directory's names, produces the timeline.
 */
export class TimelineBuilder {
  readonly history = new EvidenceHistory();
  readonly graph = new PersonGraph();
  private readonly observations: Observation[] = [];
  private readonly decisions: Decision[] = [];
  private readonly removals: Removal[] = [];
  private readonly policies = new Map<string, Record<string, unknown> | null>();
  private readonly open = new Map<string, Observation>();

  add(event: StoredEvent): void {
    this.history.add(event);
    this.graph.add(event);
    const parsed = parseEvent(event);
    if (isOpaque(parsed)) return;
    if (parsed.kind === 'config.loaded') this.policies.set(parsed.details.config_hash, (parsed.details.source as Record<string, unknown> | undefined) ?? null);
    if (parsed.kind === 'access.observed') {
      const d = parsed.details;
      const observation: Observation = { resource: d.resource, key: d.principal.toLowerCase(), principal: d.principal, from: new Date(d.listed_at), appearedAfter: d.previous_listing_at ? new Date(d.previous_listing_at) : null, seq: event.seq, gone: null };
      this.open.set(`${d.resource}\n${observation.key}`, observation);
      this.observations.push(observation);
    }
    if (parsed.kind === 'access.gone') {
      const key = `${parsed.details.resource}\n${parsed.details.principal.toLowerCase()}`;
      const observation = this.open.get(key);
      if (observation) observation.gone = { at: new Date(parsed.details.listed_at), lastSeenAt: new Date(parsed.details.last_seen_at), seq: event.seq };
      this.open.delete(key);
    }
    if (parsed.kind === 'grant.revoked' && 'campaign_id' in parsed.details && event.resource) {
      const d = parsed.details;
      this.removals.push({ resource: event.resource, key: d.principal.toLowerCase(), at: new Date(d.revoked_at), by: event.actor, how: 'review_revoke', reason: 'review', seq: event.seq });
    }
    if (parsed.kind === 'drift.detected' && parsed.details.removed && event.resource && event.subject) {
      this.removals.push({ resource: event.resource, key: event.subject.toLowerCase(), at: event.occurredAt, by: event.actor, how: 'revoked', reason: 'drift', seq: event.seq });
    }
    if (parsed.kind === 'review.decided' && parsed.details.decision === 'keep' && event.resource) {
      const d = parsed.details;
      this.decisions.push({ resource: event.resource, key: d.principal.toLowerCase(), decision: 'keep', campaignId: d.campaign_id, period: 'period' in d ? d.period : null, reviewer: event.actor, at: event.occurredAt, seq: event.seq });
    }
  }

  /**
   * `people` gives a person's id and label by their aliases (the people directory); without it,
   * rows are named from the aliases the ledger links.
   */
  finish(spans: ListingSpan[], people?: (aliases: string[]) => { id: string; label: string } | null): AccessTimeline {
    const { history, graph } = this;
    const timeline = new AccessTimeline(graph, spans);
    const name = (alias: string) => {
      const aliases = graph.aliasesOf(alias);
      return { personKey: graph.keyOf(alias), person: personView(aliases, people?.(aliases)) };
    };
    const grants = [...history.grants.values()].filter((g): g is GrantRecord & { applied: GrantApplied } => g.applied !== null && g.resource !== null);
    const sightings = sightingsByHolder(this.observations, graph);
    for (const grant of grants) {
      timeline.resources.add(grant.resource!);
      const seen = sightings.get(`${grant.resource}\n${graph.keyOf(grant.person ?? '')}`) ?? [];
      timeline.intervals.push(grantInterval(history, grant, { policies: this.policies, seen }, name));
    }
    for (const observation of this.observations) {
      timeline.resources.add(observation.resource);
      timeline.intervals.push(...standingIntervals(observation, grants, this.decisions, this.removals, spans, graph, name));
    }
    return timeline;
  }
}

export function buildTimeline(events: Iterable<StoredEvent>, spans: ListingSpan[], people?: (aliases: string[]) => { id: string; label: string } | null): AccessTimeline {
  const builder = new TimelineBuilder();
  for (const event of events) builder.add(event);
  return builder.finish(spans, people);
}

type Namer = (alias: string) => { personKey: string; person: AccessInterval['person'] };

function grantInterval(
  history: EvidenceHistory,
  grant: GrantRecord & { applied: GrantApplied },
  known: { policies: Map<string, Record<string, unknown> | null>; seen: Observation[] },
  name: Namer,
): AccessInterval {
  const { policies } = known;
  const holder = describeGrant(history, grant, new Date(8.64e15));
  const request = history.requestOf(grant);
  const configHash = request?.configHash ?? null;
  const revocation = grant.revocation;
  const { seq: goneSeq, ...gone } = revocation ? seenGone(revocation, known.seen) : { seq: undefined };
  return {
    resource: grant.resource!,
    ...name(holder.person),
    principal: null,
    basis: {
      kind: holder.selfGranted || holder.emergency ? 'emergency_grant' : 'grant',
      grantId: holder.grantId,
      requestId: holder.requestId,
      requestKind: holder.requestKind,
      reason: holder.reason,
      ticket: holder.ticket,
      approvedBy: holder.approvedBy,
      approvalsRequired: holder.approvalsRequired,
      selfGranted: holder.selfGranted,
      emergencyReview: holder.emergencyReview,
      onCall: holder.onCall,
      policy: { configHash, source: configHash ? (policies.get(configHash) ?? null) : null },
      scheduledEndAt: holder.scheduledEndAt,
    },
    from: holder.grantedAt,
    start: 'recorded',
    appearedAfter: null,
    to: revocation?.at ?? null,
    ended: revocation ? { how: endHow(revocation.reason), at: revocation.at, by: revocation.by, reason: revocation.reason, seenGoneAt: null, lastSeenAt: null, ...gone } : null,
    evidence: goneSeq === undefined ? holder.evidence : [...holder.evidence, goneSeq],
  };
}

/** Each holder's sightings of each resource, by resource and person key. */
function sightingsByHolder(observations: Observation[], graph: PersonGraph): Map<string, Observation[]> {
  const byHolder = new Map<string, Observation[]>();
  for (const o of observations) {
    const key = `${o.resource}\n${graph.keyOf(o.principal)}`;
    const theirs = byHolder.get(key);
    if (theirs) theirs.push(o);
    else byHolder.set(key, [o]);
  }
  return byHolder;
}

/**
 * The listing that saw revoked access gone: the first `access.gone` at or after the revoke of a
 * sighting that began before it (which also says when the access was last seen), else the listing
 * the revoke itself took (grant.revoked `listed_at`, verified). Null when no listing saw it gone:
 * breakglass removed it, but no listing has shown that yet.
 */
function seenGone(revocation: RevocationRecord, seen: Observation[]): { seenGoneAt: Date | null; lastSeenAt: Date | null; seq?: number } {
  // The access went on under another grant: its end is that grant's.
  if (revocation.providerCall === 'skipped') return { seenGoneAt: null, lastSeenAt: null };
  const at = revocation.at.getTime();
  const gone = seen
    .flatMap((o) => (o.gone && o.from.getTime() <= at && o.gone.at.getTime() >= at ? [o.gone] : []))
    .sort((a, b) => a.at.getTime() - b.at.getTime())[0];
  if (gone) return { seenGoneAt: gone.at, lastSeenAt: gone.lastSeenAt, seq: gone.seq };
  return { seenGoneAt: revocation.seenGoneAt, lastSeenAt: null };
}

function endHow(reason: string | null): EndHow {
  if (reason === 'expired') return 'expired';
  if (reason === 'ended') return 'ended_early';
  if (reason === 'offboarding') return 'offboarding';
  if (reason === 'review') return 'review_revoke';
  return 'revoked';
}

/**
 * The parts of one observed stretch of access that no grant of the same person explains: before
 * their grant, or still listed after breakglass revoked it. Each part is kept by the newest Keep
 * decided in it, else unmanaged. The end is breakglass's revoke when the access was not seen after it
 * (settling aside), else the listing that found it gone.
 */
function standingIntervals(
  observation: Observation,
  grants: Array<GrantRecord & { applied: GrantApplied }>,
  decisions: Decision[],
  removals: Removal[],
  spans: ListingSpan[],
  graph: PersonGraph,
  name: Namer,
): AccessInterval[] {
  const who = name(observation.principal);
  const lastSeen = observation.gone?.lastSeenAt ?? lastSeenOngoing(observation, spans);
  const mine = grants
    .filter((g) => g.resource === observation.resource && graph.keyOf(g.person ?? '') === who.personKey)
    .map((g) => ({ grant: g, from: g.applied.startsAt.getTime(), to: g.revocation?.at.getTime() ?? Number.POSITIVE_INFINITY }));
  let end = observation.gone?.at.getTime() ?? Number.POSITIVE_INFINITY;
  let ended: AccessEnd | null = observation.gone
    ? { how: 'removed_outside_breakglass', at: observation.gone.at, by: null, reason: null, seenGoneAt: observation.gone.at, lastSeenAt: observation.gone.lastSeenAt }
    : null;
  const theirs = removals.filter((r) => r.resource === observation.resource && r.key === observation.key);
  // Breakglass's own removal (a grant's revoke, a review's Revoke, drift removed it) ends it when no listing saw it afterwards.
  for (const removal of removalsOf(mine, theirs)) {
    if (removal.at.getTime() < observation.from.getTime() || removal.at.getTime() >= end) continue;
    if (lastSeen !== null && lastSeen.getTime() > removal.at.getTime() + SETTLE_MS) continue;
    end = removal.at.getTime();
    ended = { how: removal.how, at: removal.at, by: removal.by, reason: removal.reason, seenGoneAt: observation.gone?.at ?? null, lastSeenAt: observation.gone?.lastSeenAt ?? null };
  }
  ended = removedAsDrift(ended, theirs);
  const keeps = decisions.filter((d) => d.resource === observation.resource && d.key === observation.key && d.at.getTime() >= observation.from.getTime() && d.at.getTime() < end);
  // A Keep changes the basis from its decision on: the part before it stays unmanaged.
  const parts = uncovered(observation.from.getTime(), end, mine).flatMap(([a, b]) => {
    const cuts = keeps.map((k) => k.at.getTime()).filter((t) => t > a && t < b).sort((x, y) => x - y);
    return [a, ...cuts].map((from, i): [number, number] => [from, [...cuts, b][i]!]);
  });
  return parts.map(([from, to], index) => {
    const kept = keeps
      .filter((d) => d.at.getTime() <= from)
      .sort((a, b) => a.at.getTime() - b.at.getTime())
      .at(-1);
    const afterGrant = mine.find((g) => g.to === from);
    const basis: Basis = kept
      ? { kind: 'review_keep', campaignId: kept.campaignId, period: kept.period, reviewer: kept.reviewer, decidedAt: kept.at }
      : { kind: 'unmanaged', note: afterGrant ? `still listed after breakglass revoked grant ${afterGrant.grant.grantId}` : null };
    const last = index === parts.length - 1;
    const evidence = [observation.seq, ...(kept ? [kept.seq] : []), ...(last && observation.gone ? [observation.gone.seq] : [])];
    return {
      resource: observation.resource,
      ...who,
      principal: observation.principal,
      basis,
      from: new Date(from),
      start: from === observation.from.getTime() ? 'first_seen' : 'recorded',
      appearedAfter: from === observation.from.getTime() ? observation.appearedAfter : null,
      to: to === Number.POSITIVE_INFINITY ? null : new Date(to),
      ended: last ? ended : null,
      evidence,
    };
  });
}

function removalsOf(mine: Array<{ grant: GrantRecord & { applied: GrantApplied } }>, others: Removal[]): Array<{ at: Date; how: EndHow; by: string | null; reason: string | null }> {
  const removals = mine.filter((g) => g.grant.revocation).map((g) => ({ at: g.grant.revocation!.at, how: endHow(g.grant.revocation!.reason), by: g.grant.revocation!.by, reason: g.grant.revocation!.reason }));
  for (const removal of others) removals.push({ at: removal.at, how: removal.how, by: removal.by, reason: removal.reason });
  return removals.sort((a, b) => a.at.getTime() - b.at.getTime());
}

/**
 * An offboarding's check removes access nobody granted, lists, and only then records the removal
 * (drift.detected, removed): a removal recorded just after the listing that saw the access gone is
 * what that listing saw, not a removal outside breakglass.
 */
function removedAsDrift(ended: AccessEnd | null, removals: Removal[]): AccessEnd | null {
  if (ended?.how !== 'removed_outside_breakglass') return ended;
  const seen = ended.at.getTime();
  const ours = removals.find((r) => r.reason === 'drift' && r.at.getTime() >= seen && r.at.getTime() <= seen + SETTLE_MS);
  return ours ? { ...ended, how: ours.how, by: ours.by, reason: ours.reason } : ended;
}

/** For access not yet seen gone: the newest listing that showed it, if the newest span still lists it. */
function lastSeenOngoing(observation: Observation, spans: ListingSpan[]): Date | null {
  const newest = spans.filter((s) => s.resource === observation.resource).sort((a, b) => b.to.getTime() - a.to.getTime())[0];
  return newest && newest.holders.includes(observation.key) ? newest.to : null;
}

/** [from, to) minus the grants' intervals, as ordered parts. */
function uncovered(from: number, to: number, grants: Array<{ from: number; to: number }>): Array<[number, number]> {
  let parts: Array<[number, number]> = [[from, to]];
  for (const g of grants) {
    parts = parts.flatMap(([a, b]): Array<[number, number]> => {
      if (g.to <= a || g.from >= b) return [[a, b]];
      const out: Array<[number, number]> = [];
      if (g.from > a) out.push([a, g.from]);
      if (g.to < b) out.push([g.to, b]);
      return out;
    });
  }
  return parts.filter(([a, b]) => b > a);
}
