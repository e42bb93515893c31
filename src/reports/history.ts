import { CheckpointCoverage } from '../ledger/checkpoint-coverage.ts';
import { UptimeWatch } from './readiness/uptime.ts';
import { isOpaque, parseEvent, type EventDetails, type EvidenceEvent } from '../domain/events.ts';
import type { StoredEvent } from '../ledger/event.ts';

/**
 * The access history as the ledger recorded it: requests with their decisions, grants with their
 * extensions, ends and reviews, alerts with their acknowledgements. Built by folding evidence
 * events in seq order, so `who`, `readiness` and the audit pack all read the same facts the
 * same way, from the evidence alone (never from the mutable state tables).
 *
 * Pure: no I/O, no clock. Events may arrive in any subset (e.g. one resource's); records that
 * lack their founding event (a `grant.revoked` without its `grant.applied`) are kept but marked
 * incomplete, so callers decide what to do with them.
 */

export interface ApprovalRecord {
  approver: string;
  at: Date;
  seq: number;
  /** This approval completed N-of-M (the request moved to approved). */
  final: boolean;
  /** An emergency self-grant: the requester approved under `emergency_self_grant`. */
  selfGrant: boolean;
  /** Approved by the on-call policy (access.yml auto_approve.pagerduty): the shifts PagerDuty reported. */
  onCall?: { pagerDutyUserId: string; shifts: Array<{ scheduleId: string; escalationLevel: number; start: string | null; end: string | null }> } | undefined;
  /** How many distinct approvals the request had with this one (details.approvals when a number). */
  count: number | null;
  configHash: string | null;
}

export interface RequestDecision {
  kind: 'denied' | 'expired' | 'cancelled';
  by: string;
  at: Date;
  seq: number;
  reason: string | null;
  configHash: string | null;
}

export interface RequestRecord {
  requestId: string;
  requester: string | null;
  resource: string | null;
  /** standard, emergency or extension (request.created's request_kind). */
  kind: string | null;
  reason: string | null;
  ticket: string | null;
  duration: string | null;
  /** The eligible approvers the cards went to. */
  approvers: string[];
  approvalsRequired: number | null;
  extendsGrantId: string | null;
  configHash: string | null;
  createdAt: Date | null;
  createdSeq: number | null;
  approvals: ApprovalRecord[];
  decision: RequestDecision | null;
}

export interface GrantApplied {
  at: Date;
  seq: number;
  startsAt: Date;
  /** The end scheduled when access started (before any extension). */
  endsAt: Date;
  provider: string | null;
}

export interface ExtensionRecord {
  requestId: string | null;
  previousEndsAt: Date | null;
  endsAt: Date;
  at: Date;
  seq: number;
}

export interface RevocationRecord {
  /** When access ended at the provider (details.revoked_at, else the event's time). */
  at: Date;
  by: string;
  reason: string | null;
  /** The end the grant had when it was revoked (details.ends_at). */
  scheduledEnd: Date | null;
  lateByMs: number;
  seq: number;
  providerCall: string | null;
  /** The listing after the revoke that no longer showed the access (details.listed_at when verified). */
  seenGoneAt: Date | null;
}

export interface GrantRecord {
  grantId: string;
  requestId: string | null;
  person: string | null;
  resource: string | null;
  emergency: boolean;
  /** Absent when the ledger (or the slice read) holds no grant.applied for this grant. */
  applied: GrantApplied | null;
  extensions: ExtensionRecord[];
  endRequested: { by: string; at: Date; seq: number } | null;
  revocation: RevocationRecord | null;
  /** The person's open sessions ended with the revoke (`grant.sessions_ended`); `ended` null: not counted. */
  sessionsEnded: { ended: number | null; effectiveAt: Date; method: string; seq: number } | null;
  revokeFailures: Array<{ at: Date; seq: number; error: string | null }>;
  review: { by: string; at: Date; seq: number } | null;
  escalation: { at: Date; seq: number } | null;
}

export interface AlertRecord {
  alertId: string;
  kind: string | null;
  text: string | null;
  raisedAt: Date | null;
  raisedSeq: number | null;
  requestId: string | null;
  resource: string | null;
  subject: string | null;
  grantId: string | null;
  ack: { by: string; at: Date; seq: number } | null;
}

export interface ResponseRecord {
  exceptionId: string;
  alertId: string | null;
  by: string;
  at: Date;
  text: string;
  seq: number;
}

export interface UnreadableEvent {
  seq: number;
  kind: string;
  problem: string;
}

export interface DayActivity {
  count: number;
  firstSeq: number;
  lastSeq: number;
}

export class EvidenceHistory {
  readonly requests = new Map<string, RequestRecord>();
  readonly grants = new Map<string, GrantRecord>();
  readonly alerts = new Map<string, AlertRecord>();
  /** Management's responses (`exception.responded`), in seq order. */
  readonly responses: ResponseRecord[] = [];
  /** review.* events, in seq order (their details are owned by the review feature). */
  readonly reviewEvents: StoredEvent[] = [];
  /** offboarding.* events, in seq order. */
  readonly offboardingEvents: StoredEvent[] = [];
  readonly checkpoints: StoredEvent[] = [];
  /** `approver.unavailable` events, in seq order: configured approvers who could not approve. */
  readonly unavailableApprovers: StoredEvent[] = [];
  /** How long events waited for a signed checkpoint (any key whose signature verifies). */
  readonly coverage = new CheckpointCoverage();
  /** When the bot was not running, from its lifecycle events (recorded since its first `bot.started`). */
  readonly uptime = new UptimeWatch();
  readonly configLoads: StoredEvent[] = [];
  /** Events per UTC day (`2026-02-01`). */
  readonly days = new Map<string, DayActivity>();
  /**
   * Events the catalogue (src/domain/events.ts) cannot place: an unknown kind, or details not of
   * their kind's shape. They are counted and listed, never guessed at, and never folded in.
   */
  readonly unreadable: UnreadableEvent[] = [];
  count = 0;
  first: StoredEvent | null = null;
  last: StoredEvent | null = null;

  static of(events: Iterable<StoredEvent>): EvidenceHistory {
    const history = new EvidenceHistory();
    for (const event of events) history.add(event);
    return history;
  }

  add(event: StoredEvent): void {
    this.count++;
    this.coverage.add(event);
    this.uptime.add(event);
    this.first ??= event;
    this.last = event;
    const day = utcDay(event.occurredAt);
    const activity = this.days.get(day);
    if (activity) {
      activity.count++;
      activity.lastSeq = event.seq;
    } else this.days.set(day, { count: 1, firstSeq: event.seq, lastSeq: event.seq });

    // Whole lists handed to readers of their own, whatever their details hold.
    if (event.kind === 'ledger.checkpoint') this.checkpoints.push(event);
    else if (event.kind === 'config.loaded') this.configLoads.push(event);
    else if (event.kind.startsWith('review.')) this.reviewEvents.push(event);
    else if (event.kind.startsWith('offboarding.')) this.offboardingEvents.push(event);

    const parsed = parseEvent(event);
    if (isOpaque(parsed)) this.unreadable.push({ seq: event.seq, kind: event.kind, problem: parsed.opaque });
    else this.fold(event, parsed);
  }

  /** Requests, grants and alerts, from events whose details are of their kind's catalogued shape. */
  private fold(event: StoredEvent, parsed: EvidenceEvent): void {
    if (parsed.kind.startsWith('request.')) this.foldRequest(event, parsed);
    else if (parsed.kind.startsWith('grant.')) this.foldGrant(event, parsed);
    else this.foldFollowUp(event, parsed);
  }

  /** A request: made, approved (each approval), denied, expired or cancelled. */
  private foldRequest(event: StoredEvent, parsed: EvidenceEvent): void {
    switch (parsed.kind) {
      case 'request.created': {
        const d = parsed.details;
        const request = this.request(event.requestId, event);
        request.requester = event.actor;
        request.kind = text(d.request_kind);
        request.reason = text(d.reason);
        request.ticket = text(d.ticket);
        request.duration = text(d.duration);
        request.approvers = d.approvers;
        request.approvalsRequired = number(d.approvals_required);
        request.extendsGrantId = id(d.extends_grant_id);
        request.configHash = text(d.config_hash);
        request.createdAt = event.occurredAt;
        request.createdSeq = event.seq;
        return;
      }
      case 'request.approved': {
        const d = parsed.details;
        const request = this.request(event.requestId, event);
        const selfGrant = 'self_grant' in d;
        const onCall = 'on_call' in d ? { pagerDutyUserId: d.pagerduty_user_id, shifts: d.on_call.map((s) => ({ scheduleId: s.schedule_id, escalationLevel: s.escalation_level, start: s.start, end: s.end })) } : undefined;
        request.approvals.push({
          approver: event.actor,
          at: event.occurredAt,
          seq: event.seq,
          final: d.final,
          selfGrant,
          ...(onCall ? { onCall } : {}),
          count: 'approvals_required' in d ? number(d.approvals) : null,
          configHash: text(d.config_hash),
        });
        if ('approvals_required' in d) request.approvalsRequired ??= number(d.approvals_required);
        return;
      }
      case 'request.denied':
        this.decide(event, 'denied', parsed.details.reason, parsed.details.config_hash);
        return;
      case 'request.expired':
        this.decide(event, 'expired', null, null);
        return;
      case 'request.cancelled':
        this.decide(event, 'cancelled', parsed.details.reason, null);
        return;
      default:
        return;
    }
  }

  /** A grant: applied, extended, asked to end, revoked (and the sessions that ended with it), or a revoke that failed. */
  private foldGrant(event: StoredEvent, parsed: EvidenceEvent): void {
    switch (parsed.kind) {
      case 'grant.applied': {
        const d = parsed.details;
        const grant = this.grant(d.grant_id, event);
        if (!grant) return;
        grant.requestId = event.requestId ?? grant.requestId;
        grant.person = event.subject ?? grant.person;
        grant.emergency = d.emergency;
        grant.applied = {
          at: event.occurredAt,
          seq: event.seq,
          startsAt: instant(d.starts_at) ?? event.occurredAt,
          endsAt: instant(d.ends_at) ?? event.occurredAt,
          provider: text(d.provider),
        };
        return;
      }
      case 'grant.extended': {
        const d = parsed.details;
        const grant = this.grant(d.grant_id, event, id(d.original_request_id));
        const endsAt = instant(d.ends_at);
        if (!grant || !endsAt) return;
        grant.extensions.push({ requestId: event.requestId, previousEndsAt: instant(d.previous_ends_at), endsAt, at: event.occurredAt, seq: event.seq });
        return;
      }
      case 'grant.end_requested': {
        const grant = this.grant(parsed.details.grant_id, event);
        if (grant) grant.endRequested = { by: event.actor, at: event.occurredAt, seq: event.seq };
        return;
      }
      case 'grant.revoked': {
        const d = parsed.details;
        const grant = this.grant(d.grant_id, event);
        if (!grant) return;
        grant.revocation = revocationOf(event, d);
        return;
      }
      case 'grant.sessions_ended': {
        const d = parsed.details;
        const grant = this.grant(d.grant_id, event);
        if (grant) grant.sessionsEnded = { ended: d.ended, effectiveAt: instant(d.effective_at) ?? event.occurredAt, method: d.method, seq: event.seq };
        return;
      }
      case 'grant.revoke_failed': {
        const d = parsed.details;
        const grant = 'grant_id' in d ? this.grant(d.grant_id, event) : undefined;
        grant?.revokeFailures.push({ at: event.occurredAt, seq: event.seq, error: text(d.error) });
        return;
      }
      default:
        return;
    }
  }

  /** What followed: an emergency grant reviewed or escalated, alerts raised, acknowledged and responded to. */
  private foldFollowUp(event: StoredEvent, parsed: EvidenceEvent): void {
    switch (parsed.kind) {
      case 'emergency.reviewed': {
        const grant = this.grant(parsed.details.grant_id, event);
        if (grant) {
          grant.emergency ||= !this.approvedOnCall(grant.requestId);
          grant.review ??= { by: event.actor, at: event.occurredAt, seq: event.seq };
        }
        return;
      }
      case 'emergency.escalated': {
        const grant = this.grant(parsed.details.grant_id, event);
        if (grant) {
          grant.emergency ||= !this.approvedOnCall(grant.requestId);
          grant.escalation ??= { at: event.occurredAt, seq: event.seq };
        }
        return;
      }
      case 'alert.raised': {
        const d = parsed.details;
        const alert = this.alert(d.alert_id);
        if (!alert) return;
        alert.kind = text(d.alert_kind);
        alert.text = text(d.text);
        alert.raisedAt = event.occurredAt;
        alert.raisedSeq = event.seq;
        alert.requestId = event.requestId;
        alert.resource = event.resource;
        alert.subject = event.subject;
        alert.grantId = id(d.grant_id);
        return;
      }
      case 'approver.unavailable':
        this.unavailableApprovers.push(event);
        return;
      case 'exception.responded': {
        const d = parsed.details;
        this.responses.push({ exceptionId: d.exception_id, alertId: id(d.alert_id), by: event.actor, at: event.occurredAt, text: d.response, seq: event.seq });
        return;
      }
      case 'alert.acknowledged': {
        const d = parsed.details;
        const alert = this.alert(d.alert_id);
        if (!alert) return;
        alert.kind ??= text(d.alert_kind);
        alert.requestId ??= event.requestId;
        alert.ack ??= { by: event.actor, at: event.occurredAt, seq: event.seq };
        return;
      }
      default:
        return;
    }
  }

  private decide(event: StoredEvent, kind: RequestDecision['kind'], reason: string | null, configHash: string | null): void {
    const request = this.request(event.requestId, event);
    request.decision = { kind, by: event.actor, at: event.occurredAt, seq: event.seq, reason: text(reason), configHash: text(configHash) };
  }

  /** Grants that started (have a grant.applied), in the order they started. */
  appliedGrants(): Array<GrantRecord & { applied: GrantApplied }> {
    return [...this.grants.values()]
      .filter((g): g is GrantRecord & { applied: GrantApplied } => g.applied !== null)
      .sort((a, b) => a.applied.seq - b.applied.seq);
  }

  /** The request a grant was given under (its original request, not an extension). */
  requestOf(grant: GrantRecord): RequestRecord | undefined {
    return grant.requestId === null ? undefined : this.requests.get(grant.requestId);
  }

  /** Whether the request was approved by the on-call policy rather than self-granted in an emergency. */
  approvedOnCall(requestId: string | null): boolean {
    const request = requestId === null ? undefined : this.requests.get(requestId);
    return request?.kind === 'on_call' || (request?.approvals.some((a) => a.onCall) ?? false);
  }

  private request(requestId: string | null, event: StoredEvent): RequestRecord {
    const key = requestId ?? `seq:${event.seq}`;
    let record = this.requests.get(key);
    if (!record) {
      record = {
        requestId: key,
        requester: event.kind === 'request.created' ? event.actor : event.subject,
        resource: event.resource,
        kind: null,
        reason: null,
        ticket: null,
        duration: null,
        approvers: [],
        approvalsRequired: null,
        extendsGrantId: null,
        configHash: null,
        createdAt: null,
        createdSeq: null,
        approvals: [],
        decision: null,
      };
      this.requests.set(key, record);
    }
    return record;
  }

  private grant(rawId: unknown, event: StoredEvent, requestId?: string | null): GrantRecord | undefined {
    const grantId = id(rawId);
    if (grantId === null) return undefined;
    let record = this.grants.get(grantId);
    if (!record) {
      record = {
        grantId,
        requestId: requestId !== undefined ? requestId : event.requestId,
        person: event.subject,
        resource: event.resource,
        emergency: false,
        applied: null,
        extensions: [],
        endRequested: null,
        revocation: null,
        sessionsEnded: null,
        revokeFailures: [],
        review: null,
        escalation: null,
      };
      this.grants.set(grantId, record);
    }
    record.resource ??= event.resource;
    record.person ??= event.subject;
    return record;
  }

  private alert(rawId: unknown): AlertRecord | undefined {
    const alertId = id(rawId);
    if (alertId === null) return undefined;
    let record = this.alerts.get(alertId);
    if (!record) {
      record = { alertId, kind: null, text: null, raisedAt: null, raisedSeq: null, requestId: null, resource: null, subject: null, grantId: null, ack: null };
      this.alerts.set(alertId, record);
    }
    return record;
  }
}

/**
 * The end a grant had as of `asOf` (default: everything recorded): its original end, moved by
 * each extension and by an early end recorded at or before then.
 */
/** A grant.revoked event as the grant's revocation: when access ended, by whom, why and how late. */
function revocationOf(event: StoredEvent, d: EventDetails<'grant.revoked'>): RevocationRecord {
  const at = instant(d.revoked_at) ?? event.occurredAt;
  // A review's Revoke records no end of its own: the line had none.
  const scheduledEnd = 'ends_at' in d ? instant(d.ends_at) : null;
  return {
    at,
    by: event.actor,
    reason: text(d.reason),
    scheduledEnd,
    lateByMs: ('late_by_ms' in d ? number(d.late_by_ms) : null) ?? (scheduledEnd ? Math.max(0, at.getTime() - scheduledEnd.getTime()) : 0),
    seq: event.seq,
    providerCall: text(d.provider_call),
    seenGoneAt: 'listed_at' in d && d.verified === true ? instant(d.listed_at) : null,
  };
}

export function scheduledEnd(grant: GrantRecord & { applied: GrantApplied }, asOf?: Date): Date {
  let end = grant.applied.endsAt;
  const until = asOf?.getTime() ?? Number.POSITIVE_INFINITY;
  for (const extension of grant.extensions) if (extension.at.getTime() <= until && extension.endsAt > end) end = extension.endsAt;
  if (grant.endRequested && grant.endRequested.at.getTime() <= until && grant.endRequested.at < end) end = grant.endRequested.at;
  return end;
}

/** Approvers of a request, in the order they approved, each once. */
export function approversOf(request: RequestRecord | undefined): string[] {
  return [...new Set((request?.approvals ?? []).map((a) => a.approver))];
}

export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** `90061000` → `1d 1h 1m 1s`; under a second, `350 ms`. */
export function humanDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  let seconds = Math.round(ms / 1_000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`);
      seconds %= size;
    }
  }
  if (seconds > 0 || parts.length === 0) parts.push(`${seconds}s`);
  return parts.join(' ');
}

export function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

export function number(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export function id(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value !== '' ? value : null;
}

export function instant(value: unknown): Date | null {
  if (typeof value !== 'string' && !(value instanceof Date)) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
