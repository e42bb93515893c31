import { z } from 'zod';

/**
 * The evidence catalogue: for every event kind, the shape of its `details` exactly as the use cases
 * write them. Ledger.append is typed by it (a detail misnamed or missing fails tsc), and readers
 * parse through it (readDetails), so writers and readers cannot drift apart unnoticed.
 *
 * These schemas describe; they never rewrite. Events are stored and hashed as the caller built
 * them, so nothing here may add defaults, transform or reorder: the hash of every event already
 * in a ledger depends on it. Times are ISO 8601 strings, ids numbers, as written today.
 *
 * Besides the fields below, the ledger adds `person_id` and `person_label` to the details of every
 * event whose person (its subject, else a person actor) the people register knows unambiguously
 * when it is recorded (src/ledger/event-person.ts); events recorded before that carry neither.
 */

const time = z.string();
const nullableTime = time.nullable();
const id = z.number();

/**
 * How an approver was verified before the approval counted: their Slack session, or an Okta Verify
 * push they accepted (access.yml `approval: { step_up: okta_verify }`). Absent on approvals recorded before it was kept.
 */
const approvalVerification = z.union([
  z.object({ method: z.literal('slack_session') }),
  z.object({ method: z.literal('okta_verify_push'), factor_result: z.literal('SUCCESS'), factor_id: z.string(), transaction_id: z.string(), okta_user_id: z.string() }),
]);

/** Details written with a spread of several shapes: each is one member, tried in order on read. */
const requestApproved = z.union([
  z.object({ approvals: z.number(), approvals_required: z.number(), final: z.boolean(), config_hash: z.string(), verification: approvalVerification.optional() }),
  // An emergency self-grant: the requester approves themselves under the policy.
  z.object({ self_grant: z.literal(true), policy: z.literal('emergency_self_grant'), approvals: z.array(z.string()), final: z.literal(true), config_hash: z.string() }),
  // On call in PagerDuty when asking (access.yml auto_approve.pagerduty): approved by the policy, not
  // by a person; the shifts are PagerDuty's answer as it came, and the approvers review afterwards.
  z.object({
    policy: z.literal('pagerduty_on_call'),
    final: z.literal(true),
    config_hash: z.string(),
    /** The policy's terms the shifts were matched against. */
    schedule_ids: z.array(z.string()),
    escalation_levels: z.array(z.number()),
    pagerduty_user_id: z.string(),
    checked_at: time,
    on_call: z.array(
      z.object({ schedule_id: z.string(), escalation_policy_id: z.string(), escalation_level: z.number(), start: nullableTime, end: nullableTime }),
    ),
  }),
]);

const requestCancelled = z.union([
  // An extension whose access ended before it could be decided.
  z.object({ reason: z.literal('grant_ended'), grant_id: id, original_request_id: id, grant_end_reason: z.string() }),
  // A leaver's pending request.
  z.object({ reason: z.literal('offboarding'), offboarding_seq: z.number(), detail: z.string().nullable() }),
]);

const grantFailed = z.union([
  z.object({
    grant_id: id,
    error: z.string(),
    extension: z.literal(false),
    /** `failed` only on events from before in-doubt grants were checked at the provider. */
    provider_cleanup: z.enum(['revoked', 'failed']).optional(),
    /** The provider's answer was lost; its listing then showed the access absent. */
    provider_check: z.literal('absent').optional(),
    in_doubt_since: time.optional(),
  }),
  z.object({ grant_id: id, original_request_id: id, error: z.string(), extension: z.literal(true), ends_at: time }),
]);

/** What every access review's Revoke records, however the removal was confirmed. */
const reviewRevoke = {
  reason: z.literal('review'),
  campaign_id: id,
  item_id: id,
  principal: z.string(),
  grant_id: id.nullable(),
  grants_ended: z.array(id),
  decided_at: nullableTime,
  revoked_at: time,
  attempts: z.number(),
};

const grantRevoked = z.union([
  // An access review's Revoke of access granted by hand: an owner's Done confirmed the removal
  // (grant_id null: the grant's removal had been confirmed before the Revoke, by task_id).
  // First, so the worker's member below does not read it with its review fields stripped.
  z.object({
    ...reviewRevoke,
    provider_call: z.literal('confirmed_by_owner'),
    task_id: id,
    confirmed_by: z.string(),
    verified: z.literal(false),
  }),
  // The revoke worker: the grant's end came (expired, ended early, offboarding, a review's Revoke of an extension in flight).
  z.object({
    grant_id: id,
    reason: z.string(),
    ends_at: time,
    revoked_at: time,
    late_by_ms: z.number(),
    attempts: z.number(),
    provider_call: z.string(),
    access_continues_under_grants: z.array(id).optional(),
    /**
     * The listing after a revoke at the provider: `verified` when it no longer showed the holder,
     * `listed_at` when it was taken (null: the provider could not be listed, `listing_error`). Absent
     * when the provider call was skipped, and on events from before revokes were listed.
     */
    verified: z.boolean().optional(),
    listed_at: nullableTime.optional(),
    listing_error: z.string().optional(),
  }),
  // An access review's Revoke of a line, verified at the provider.
  z.object({
    ...reviewRevoke,
    provider_call: z.literal('revoked'),
    verified: z.literal(true),
  }),
]);

const grantRevokeFailed = z.union([
  z.object({ grant_id: id, error: z.string(), attempts: z.number(), retrying: z.literal(true) }),
  z.object({ reason: z.literal('review'), campaign_id: id, item_id: id, principal: z.string(), error: z.string(), attempts: z.number(), retrying: z.literal(true) }),
]);

const grantEndRequested = z.union([
  z.object({ grant_id: id, scheduled_end: time, by_security: z.boolean() }),
  z.object({ grant_id: id, scheduled_end: time, reason: z.literal('offboarding') }),
  // An access review's Revoke of access granted by hand: the grant ends now, so its owners are asked to remove it.
  z.object({ grant_id: id, scheduled_end: time, reason: z.literal('review'), campaign_id: id, item_id: id }),
]);

const reviewDecided = z.union([
  // A reviewer's Keep or Revoke on their card.
  z.object({
    campaign_id: id,
    period: z.string(),
    item_id: id,
    decision: z.enum(['keep', 'revoke']).nullable(),
    principal: z.string(),
    email: z.string().nullable(),
    granted_by: z.string(),
    new_since_last_review: z.boolean().nullable(),
    route: z.string(),
    reviewer: z.string(),
    by_assigned_reviewer: z.boolean(),
    keep_all_remaining: z.boolean(),
  }),
  // A leaver's line, revoked by breakglass when the campaign is built.
  z.object({
    campaign_id: id,
    item_id: id,
    decision: z.literal('revoke'),
    reason: z.literal('left'),
    note: z.string().nullable().optional(),
    principal: z.string(),
    email: z.string().nullable().optional(),
    granted_by: z.string(),
  }),
]);

const reviewCard = { campaign_id: id, period: z.string(), card_id: id, reviewer: z.string(), audience: z.enum(['manager', 'security']) };

export const EVENT_DETAILS = {
  'config.loaded': z.object({
    config_hash: z.string(),
    previous_hash: z.string().nullable(),
    resources: z.array(z.string()),
    /** Where the version came from; absent on events recorded before sources were kept. */
    source: z
      .union([
        z.object({ kind: z.literal('git'), path: z.string(), commit: z.string(), author: z.string(), committed_at: z.string(), modified_since_commit: z.boolean() }),
        z.object({ kind: z.literal('file'), path: z.string(), host: z.string() }),
      ])
      .optional(),
  }),
  /**
   * A configured approver of the resource who cannot approve: gone from Slack, deactivated there
   * or in Okta. Subject: the approver. Recorded (and security alerted) once per approver, resource
   * and reason; `available` is how many could still approve then, against `required`.
   */
  'approver.unavailable': z.object({
    approver: z.string(),
    reason: z.string(),
    required: z.number(),
    available: z.number(),
    /** The policy version whose approvers were checked; absent on events recorded before it was kept. */
    config_hash: z.string().optional(),
  }),
  /**
   * A reminder breakglass sent (access.yml remind_before, and approvers of a request pending past half
   * its request_ttl), so the evidence shows people were told before their access ended or a request
   * lapsed. Actor breakglass; subject the holder of the access, or the requester whose request waits.
   */
  'reminder.sent': z.union([
    z.object({ reminder: z.literal('access_ending'), grant_id: id, to: z.array(z.string()), ends_at: time, remind_before_ms: z.number(), config_hash: z.string() }),
    z.object({ reminder: z.literal('pending_approvers'), to: z.array(z.string()), pending_until: time, config_hash: z.string() }),
  ]),
  'request.created': z.object({
    request_kind: z.string(),
    duration: z.string(),
    duration_ms: z.number(),
    reason: z.string(),
    ticket: z.string().nullable(),
    extends_grant_id: id.nullable(),
    approvers: z.array(z.string()),
    approvals_required: z.number(),
    config_hash: z.string(),
    /** A person offboarded before and active again since: which offboarding they came back from. */
    rejoined_after_offboarding_seq: z.number().optional(),
    /** The requester as a person (see person.seen); absent on events recorded before people were kept. */
    person_id: z.string().optional(),
    person_label: z.string().optional(),
    /** access.yml approvers.channel: the one approval card goes to this channel, not to each approver's DMs. */
    approval_channel: z.string().optional(),
  }),
  /** The request's one approval card, posted in its approval channel: where (channel, message ts) every approver saw it. */
  'approval.card_posted': z.object({ channel: z.string(), ts: z.string() }),
  /** The approval channel refused the card (the bot is not in it, it is gone or archived): sent to these approvers' DMs instead. */
  'approval.channel_failed': z.object({ channel: z.string(), error: z.string(), dm_approvers: z.array(z.string()) }),
  'request.approved': requestApproved,
  /**
   * An approver's Approve that did not count: the step-up the resource requires failed. Actor: the
   * approver; subject: the requester. `reason`: rejected, timed_out (no answer in time), no_push_factor,
   * no_okta_user or okta_unreachable; the Okta ids and factorResult as far as the push got.
   */
  'approval.step_up_failed': z.object({
    step_up: z.literal('okta_verify'),
    reason: z.enum(['rejected', 'timed_out', 'no_push_factor', 'no_okta_user', 'okta_unreachable']),
    factor_result: z.string().nullable(),
    factor_id: z.string().nullable(),
    transaction_id: z.string().nullable(),
    okta_user_id: z.string().nullable(),
    error: z.string().nullable(),
    config_hash: z.string(),
  }),
  'request.denied': z.object({ reason: z.string(), config_hash: z.string() }),
  'request.expired': z.object({ pending_until: time }),
  'request.cancelled': requestCancelled,
  'grant.applied': z.object({
    grant_id: id,
    provider: z.string(),
    /** The provider module's own target shape (see providers/registry.ts); only its kind is common. */
    target: z.custom<{ kind: string; [field: string]: unknown }>((value) => typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string'),
    starts_at: time,
    ends_at: time,
    provider_expiry: time,
    emergency: z.boolean(),
    /** The provider's answer was lost (`unanswered_error`); its listing showed the access held. */
    confirmed_by: z.literal('listing').optional(),
    unanswered_error: z.string().optional(),
    in_doubt_since: time.optional(),
    /** The provider's unchanging id of the principal (an IAM UserId), where it has one: a later rename does not lose the access. */
    principal_id: z.string().optional(),
  }),
  'grant.failed': grantFailed,
  /** The grant call's outcome is unknown and the provider could not be listed yet: breakglass keeps checking. */
  'grant.in_doubt': z.object({ grant_id: id, error: z.string(), check_error: z.string(), in_doubt_since: time, checking: z.literal(true) }),
  'grant.revoked': grantRevoked,
  'grant.revoke_failed': grantRevokeFailed,
  /** The provider said the access was gone (or removed it) but still lists the person holding it: not revoked, retried. */
  'grant.revoke_ineffective': z.object({ grant_id: id, principal: z.string(), error: z.string(), attempts: z.number(), retrying: z.literal(true) }),
  /** A revoke also ended the person's open sessions (access.yml `end_sessions`); committed with its grant.revoked. `ended` null: ended without a count. */
  'grant.sessions_ended': z.object({
    /** Null when no breakglass grant is behind the access (a review's Revoke of standing access, drift removed). */
    grant_id: id.nullable(),
    provider: z.string(),
    ended: z.number().nullable(),
    effective_at: time,
    method: z.string(),
    /** Which revoke ended them, when not the grant's own end: a review's Revoke, an offboarding, a drift removal. */
    reason: z.enum(['review', 'offboarding', 'drift']).optional(),
    principal: z.string().optional(),
    review_item_id: id.optional(),
  }),
  'grant.extended': z.object({ grant_id: id, original_request_id: id, previous_ends_at: time, ends_at: time, extended_by: z.string() }),
  'grant.end_requested': grantEndRequested,
  // Access granted and removed by hand (access.yml `grant: { manual }`): the owners' cards and their Done.
  'manual.task_opened': z.object({ task_id: id, grant_id: id, action: z.enum(['grant', 'remove']), system: z.string(), owners: z.array(z.string()), due_at: time }),
  /** Actor: the owner who pressed Done; the grant turns active in the same transaction. */
  'manual.grant_confirmed': z.object({ task_id: id, grant_id: id, system: z.string(), note: z.string().nullable(), opened_at: time, confirmed_at: time }),
  /** Actor: the owner who pressed Done; the grant is revoked in the same transaction. */
  'manual.removal_confirmed': z.object({ task_id: id, grant_id: id, system: z.string(), note: z.string().nullable(), opened_at: time, confirmed_at: time }),
  'manual.reminded': z.object({ task_id: id, grant_id: id, action: z.enum(['grant', 'remove']), owners: z.array(z.string()), due_at: time }),
  'manual.escalated': z.object({ task_id: id, grant_id: id, action: z.enum(['grant', 'remove']), due_at: time, alert_id: id }),
  /**
   * The grant's end passed and no owner confirmed granting it: breakglass does not know whether it
   * was granted, so the grant ends as for any end (the owners are asked to remove it) and security is alerted.
   */
  'manual.grant_unconfirmed': z.object({ task_id: id, grant_id: id, system: z.string(), owners: z.array(z.string()), ends_at: time, alert_id: id }),
  'emergency.reviewed': z.object({ grant_id: id, granted_at: time, reviewed_after_ms: z.number() }),
  'emergency.escalated': z.object({ grant_id: id, granted_at: time, unreviewed_for_ms: z.number() }),
  'review.started': z.object({
    campaign_id: id,
    period: z.string(),
    trigger: z.enum(['schedule', 'manual']),
    scope: z.array(z.string()),
    requested_at: time,
    due_at: time,
    population_sha256: z.string(),
    config_hash: z.string(),
    items: z.number(),
    people: z.number(),
    /** Managers' cards; a security card comes on top when security_items > 0. */
    reviewers: z.number(),
    security_items: z.number(),
    left_items: z.number(),
    unmanaged_items: z.number(),
    new_items: z.number(),
    skipped_resources: z.array(z.object({ resource: z.string(), reason: z.string() })),
  }),
  'review.decided': reviewDecided,
  'review.reminded': z.object({ ...reviewCard, reminder: z.number(), undecided: z.number(), lines: z.number(), due_at: nullableTime, overdue: z.boolean() }),
  'review.escalated': z.object({
    ...reviewCard,
    undecided: z.number(),
    lines: z.number(),
    due_at: nullableTime,
    overdue_by_ms: z.number().nullable(),
    escalated_to: z.string().nullable(),
    security_channel: z.string(),
  }),
  'review.signed_off': z.object({ ...reviewCard, by_assigned_reviewer: z.boolean(), lines: z.number(), kept: z.number(), revoked: z.number(), due_at: nullableTime, overdue: z.boolean() }),
  'review.closed': z.object({
    campaign_id: id,
    period: z.string(),
    scope: z.array(z.string()),
    opened_at: nullableTime,
    due_at: nullableTime,
    closed_at: time,
    population_sha256: z.string().nullable(),
    items: z.number(),
    kept: z.number(),
    revoked: z.number(),
    verified: z.number(),
    left: z.number(),
    unmanaged: z.number(),
    revoked_verified: z.number(),
    reviewers: z.number(),
    signed_off_late: z.number(),
    escalated: z.number(),
    reminders: z.number(),
  }),
  'offboarding.detected': z.object({
    source: z.enum(['slack', 'okta']),
    slack_user: z.string().nullable(),
    /** The Okta login, when it differs from the email the event's subject holds. */
    login: z.string().nullable(),
    deactivated_at: time,
    detail: z.string().nullable(),
    sla: z.string(),
    /** The leaver as a person (see person.seen); absent on events recorded before people were kept. */
    person_id: z.string().optional(),
    person_label: z.string().optional(),
  }),
  'offboarding.completed': z.object({
    detected_seq: z.number(),
    source: z.string(),
    deactivated_at: time,
    access_ended_at: time,
    completed_at: time,
    sla: z.string(),
    sla_met: z.boolean(),
    took_ms: z.number(),
    systems: z.array(
      z.object({
        resource: z.string(),
        provider: z.string(),
        /**
         * `removed`: access nobody granted, removed by breakglass (drift action remove); `gone`: seen
         * gone by a later listing (removed outside breakglass). `unmanaged_reported` is what offboardings
         * recorded before they waited for such access to go.
         */
        outcome: z.enum(['no_access', 'revoked', 'unmanaged_reported', 'removed', 'gone']),
        ended_at: nullableTime,
        principals: z.array(z.string()).optional(),
        /** For `gone`: the listing before the one that saw it gone last showed it then. */
        last_seen_at: time.optional(),
        /** A system granted by hand (cannot be listed): each of the person's grants, and the owner who confirmed its removal. */
        removals_confirmed: z.array(z.object({ grant_id: id, system: z.string(), confirmed_by: z.string().nullable(), confirmed_at: nullableTime })).optional(),
      }),
    ),
    unmanaged_access: z.array(z.string()),
  }),
  /**
   * An open offboarding's check found the leaver still holding access at a provider (nobody granted
   * it): what, since when, and whether breakglass removes it. Written when that set changes; the
   * offboarding completes once a listing shows it gone.
   */
  'offboarding.access_held': z.object({
    detected_seq: z.number(),
    held: z.array(
      z.object({
        resource: z.string(),
        provider: z.string(),
        principal: z.string(),
        since: time,
        basis: z.literal('unmanaged'),
        removal: z.enum(['none', 'failed', 'requested']),
      }),
    ),
    checked_at: time,
    next_check_at: time,
  }),
  'drift.detected': z.object({
    drift: z.enum(['unmanaged', 'revoke_ineffective']),
    grant_id: id.nullable(),
    /** For a review line whose Revoke did not take. */
    campaign_id: id.optional(),
    review_item_id: id.optional(),
    action: z.string(),
    removed: z.boolean(),
  }),
  /** Actor: who pulled the evidence log into Slack (`/breakglass log`); the event's resource is its filter. */
  'log.exported': z.object({ events: z.number(), from: time, to: time }),
  /**
   * Management's response to an exception (a readiness gap, by its id) or to a security alert
   * (`alert:<id>`, with `alert_id`). Actor: who responded (a Slack id, or `cli:<user>`).
   */
  'exception.responded': z.object({ exception_id: z.string(), response: z.string(), alert_id: id.nullable() }),
  'alert.raised': z.object({ alert_id: id, alert_kind: z.string(), text: z.string(), grant_id: id.nullable() }),
  'alert.acknowledged': z.object({ alert_id: id, alert_kind: z.string(), raised_at: time, acknowledged_after_ms: z.number() }),
  'ledger.checkpoint': z.object({ v: z.literal(1), count: z.number(), head: z.string(), at: time, public_key: z.string(), signature: z.string() }),
  /** The control's own uptime: a start, a clean stop, and proof of life while nothing else is recorded. */
  'bot.started': z.object({ version: z.string(), host: z.string(), database: z.enum(['pglite', 'postgres']), config_hash: z.string().nullable() }),
  'bot.stopping': z.object({ version: z.string(), host: z.string(), started_at: time }),
  'bot.heartbeat': z.object({ host: z.string(), idle_since: time }),
  /**
   * The access inventory: a listing of a resource at its provider found access that the previous
   * listing did not (`previous_listing_at` null: the first listing of that resource, so the access
   * may be older). Subject: the person (Slack id when known, else email or principal).
   */
  'access.observed': z.object({
    resource: z.string(),
    provider: z.string(),
    principal: z.string(),
    email: z.string().nullable(),
    /** The person's Slack id when breakglass knows it (a grant or access.yml people:). */
    person: z.string().nullable(),
    /** What breakglass's own records said of it when seen: a live grant, a review's Keep, nothing. */
    basis_hint: z.enum(['grant', 'kept', 'revoking', 'unmanaged']),
    grant_id: id.nullable(),
    /** Which pass listed it: drift, review, offboarding, revoke. */
    source: z.string(),
    listed_at: time,
    previous_listing_at: nullableTime,
  }),
  /** A listing no longer found access an earlier listing showed: it ended between `last_seen_at` and `listed_at`. */
  'access.gone': z.object({
    resource: z.string(),
    provider: z.string(),
    principal: z.string(),
    email: z.string().nullable(),
    person: z.string().nullable(),
    first_seen_at: time,
    last_seen_at: time,
    source: z.string(),
    listed_at: time,
  }),
  /** A person breakglass had not known: their stable id (the event's subject), and every name they were seen with. */
  'person.seen': z.object({
    person_id: z.string(),
    label: z.string(),
    /** The system that said it (okta, slack, provider, config), and where breakglass was looking. */
    source: z.string(),
    seen_in: z.string(),
    aliases: z.array(z.object({ kind: z.string(), value: z.string() })),
    name: z.string().nullable(),
    manager: z.string().nullable(),
    status: z.string(),
    deactivated_at: nullableTime,
  }),
  /** A known person's names, manager or status changed; a replaced alias still finds them. `merged_from`: ids folded into this one. */
  'person.changed': z.object({
    person_id: z.string(),
    label: z.string(),
    source: z.string(),
    seen_in: z.string(),
    changes: z.array(z.object({ field: z.string(), from: z.string().nullable(), to: z.string().nullable() })),
    merged_from: z.array(z.string()).optional(),
  }),
} as const;

export type EventKind = keyof typeof EVENT_DETAILS;

export const EVENT_KINDS = Object.keys(EVENT_DETAILS) as EventKind[];

export type EventDetails<K extends EventKind> = z.infer<(typeof EVENT_DETAILS)[K]>;

/** An event's kind and its details, one member per kind: what is written and what is read back. */
export type EvidenceEvent = { [K in EventKind]: { kind: K; details: EventDetails<K> } }[EventKind];

/** An event a reader could not place in the catalogue: a kind it does not know, or details not of their kind's shape. */
export interface OpaqueEvent {
  kind: string;
  details: unknown;
  /** Why: for a report to say what it could not read. */
  opaque: string;
}

export function isEventKind(kind: string): kind is EventKind {
  return Object.hasOwn(EVENT_DETAILS, kind);
}

/**
 * An event's details as its kind's catalogue entry describes them, or undefined when the kind is
 * unknown or the details are not of that shape. The result is the parsed copy (for reading only).
 */
export function readDetails<K extends EventKind>(kind: K, details: unknown): EventDetails<K> | undefined;
export function readDetails(kind: string, details: unknown): EvidenceEvent['details'] | undefined;
export function readDetails(kind: string, details: unknown): EvidenceEvent['details'] | undefined {
  if (!isEventKind(kind)) return undefined;
  const parsed = EVENT_DETAILS[kind].safeParse(details);
  return parsed.success ? parsed.data : undefined;
}

/**
 * A stored event's kind and details read through the catalogue. Anything it cannot place comes
 * back as an OpaqueEvent (never an exception), so a report over an old or hand-edited ledger
 * still runs and can say which events it could not read.
 */
export function parseEvent(event: { kind: string; details: unknown }): EvidenceEvent | OpaqueEvent {
  if (!isEventKind(event.kind)) return { kind: event.kind, details: event.details, opaque: `unknown event kind ${event.kind}` };
  const parsed = EVENT_DETAILS[event.kind].safeParse(event.details);
  if (parsed.success) return { kind: event.kind, details: parsed.data } as EvidenceEvent;
  const issue = parsed.error.issues[0];
  return { kind: event.kind, details: event.details, opaque: `details do not match ${event.kind}${issue ? ` (${issue.path.join('.') || 'details'}: ${issue.message})` : ''}` };
}

export function isOpaque(event: EvidenceEvent | OpaqueEvent): event is OpaqueEvent {
  return 'opaque' in event;
}
