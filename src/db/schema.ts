import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, integer, jsonb, pgTable, primaryKey, serial, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import type { GrantTarget } from '../ports.ts';
import type { GrantState } from '../domain/grant-states.ts';
import type { Notification } from '../domain/notifications.ts';

// The grant state machine is the domain's; re-exported for the repositories and use cases.
export { HELD_GRANT_STATES, LIVE_GRANT_STATES, RUNNING_GRANT_STATES, type GrantState } from '../domain/grant-states.ts';

/**
 * The evidence ledger. Rows are only ever inserted (database triggers refuse UPDATE, DELETE and
 * TRUNCATE; see the custom migration). `seq` is assigned by the appender under a lock, gapless,
 * and is part of the hashed content so reordering is detectable.
 */
export const evidenceEvents = pgTable(
  'evidence_events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull(),
    kind: text('kind').notNull(),
    actor: text('actor').notNull(),
    subject: text('subject'),
    resource: text('resource'),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    prevHash: text('prev_hash').notNull().unique(),
    hash: text('hash').notNull().unique(),
  },
  (t) => [
    index('evidence_events_occurred_at_idx').on(t.occurredAt),
    index('evidence_events_kind_idx').on(t.kind),
    index('evidence_events_resource_idx').on(t.resource),
    index('evidence_events_request_id_idx').on(t.requestId),
  ],
);

/**
 * The chain's head: one row holding the last event's seq and hash (and the hash before it).
 * Ledger.append moves it forward in the same statement that inserts the event, and the row lock
 * that takes is what serialises appenders until commit. It is a pointer, not evidence: verify
 * walks evidence_events alone, so a head changed by hand breaks the chain visibly at the next event.
 */
export const ledgerHead = pgTable(
  'ledger_head',
  {
    single: boolean('single').primaryKey().default(true),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    hash: text('hash').notNull(),
    prevHash: text('prev_hash').notNull(),
  },
  (t) => [check('ledger_head_single_row', sql`${t.single}`)],
);

/** What someone asked for. `state` only moves forward, by compare-and-swap updates. */
export const accessRequests = pgTable(
  'access_requests',
  {
    id: serial('id').primaryKey(),
    requester: text('requester').notNull(),
    requesterEmail: text('requester_email').notNull(),
    resource: text('resource').notNull(),
    durationMs: bigint('duration_ms', { mode: 'number' }).notNull(),
    reason: text('reason').notNull(),
    ticket: text('ticket'),
    /** standard: needs approval; emergency: self-granted, reviewed after; extension: more time on a grant; on_call: approved as on call in PagerDuty, reviewed after. */
    kind: text('kind').$type<RequestKind>().notNull(),
    extendsGrantId: integer('extends_grant_id'),
    state: text('state').$type<RequestState>().notNull(),
    approvalsRequired: integer('approvals_required').notNull(),
    /** The approvers the cards went to, resolved when the request was made. */
    approvers: jsonb('approvers').$type<string[]>().notNull(),
    configHash: text('config_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    pendingUntil: timestamp('pending_until', { withTimezone: true, precision: 3 }).notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true, precision: 3 }),
    decidedBy: text('decided_by'),
    /** Why it was denied: the approver's words. */
    denyReason: text('deny_reason'),
    /** Why the request came to nothing: what cancelled it, or why its approved access could not be granted or extended. */
    outcomeReason: text('outcome_reason'),
    /** When the approvers who had not decided were reminded (once, at half its request_ttl). */
    approversRemindedAt: timestamp('approvers_reminded_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [index('access_requests_state_idx').on(t.state, t.pendingUntil), index('access_requests_requester_idx').on(t.requester, t.createdAt)],
);

export type RequestKind = 'standard' | 'emergency' | 'extension' | 'on_call';
export type RequestState = 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled';

export const requestApprovals = pgTable(
  'request_approvals',
  {
    requestId: integer('request_id').notNull().references(() => accessRequests.id),
    approver: text('approver').notNull(),
    approvedAt: timestamp('approved_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.approver] })],
);

/**
 * Access that was (or is being) given. `granting`, `extending` and `revoking` are the in-between
 * states around a provider call, leased through `next_attempt_at`; a worker finishes any of them
 * after a crash, since provider calls are idempotent.
 */
export const grants = pgTable(
  'grants',
  {
    id: serial('id').primaryKey(),
    requestId: integer('request_id').notNull().unique().references(() => accessRequests.id),
    person: text('person').notNull(),
    email: text('email').notNull(),
    /**
     * The name the target's provider knows the person by when it is not their email (an IAM user
     * name from `people:`, a PostgreSQL login, …), fixed at the grant; null: their email. The
     * column keeps its first name (aws_iam_user): renaming it needs a migration.
     */
    principal: text('aws_iam_user'),
    /**
     * The provider's own id of that principal, fixed at the grant (an IAM UserId, AIDA…): a name
     * can be changed while the grant runs, the id cannot, so revoke and listings match on it.
     */
    principalId: text('principal_id'),
    resource: text('resource').notNull(),
    target: jsonb('target').$type<GrantTarget>().notNull(),
    state: text('state').$type<GrantState>().notNull(),
    emergency: boolean('emergency').notNull().default(false),
    startsAt: timestamp('starts_at', { withTimezone: true, precision: 3 }),
    endsAt: timestamp('ends_at', { withTimezone: true, precision: 3 }).notNull(),
    /** While `extending`: the approved extension request being applied. */
    extensionRequestId: integer('extension_request_id'),
    revokeReason: text('revoke_reason'),
    revokeRequestedBy: text('revoke_requested_by'),
    /** Not before this instant: a claim's lease while a worker acts, or the backoff after a failure. */
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, precision: 3 }),
    /**
     * The process whose lease next_attempt_at is (its lease-holder key, db/lease-holder.ts), while
     * granting, checking, extending or revoking; null when no process holds it (a backoff, a person's
     * task, a process without a key). Only those states read it, so later states may keep the last
     * one. A bot that starts takes over the leases of holders that are gone.
     */
    leaseHolder: bigint('lease_holder', { mode: 'number' }),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    failureAlertedAt: timestamp('failure_alerted_at', { withTimezone: true, precision: 3 }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
    reviewedBy: text('reviewed_by'),
    reviewedAt: timestamp('reviewed_at', { withTimezone: true, precision: 3 }),
    /** The end the holder was last reminded of (remind_before): an extension moves ends_at, and earns a new reminder. */
    endRemindedFor: timestamp('end_reminded_for', { withTimezone: true, precision: 3 }),
    escalatedAt: timestamp('escalated_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [index('grants_due_idx').on(t.state, t.endsAt), index('grants_person_idx').on(t.person, t.resource)],
);

/** Slack messages that are updated in place later (approval cards, notices), by request. */
export const slackMessages = pgTable(
  'slack_messages',
  {
    id: serial('id').primaryKey(),
    requestId: integer('request_id').notNull(),
    // approval_thread: a reply in a channel card's thread, its recipient the evidence seq it tells of.
    purpose: text('purpose').$type<'approval' | 'emergency_review' | 'security_notice' | 'approval_thread'>().notNull(),
    recipient: text('recipient').notNull(),
    channel: text('channel').notNull(),
    ts: text('ts').notNull(),
  },
  (t) => [uniqueIndex('slack_messages_once_idx').on(t.requestId, t.purpose, t.recipient)],
);

/**
 * Slack notifications, written in the same transaction as the change they announce and sent by
 * a worker, so a Slack outage delays them but never loses them, and replicas send each once.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: serial('id').primaryKey(),
    message: jsonb('message').$type<OutboxMessage>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    notBefore: timestamp('not_before', { withTimezone: true, precision: 3 }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    sentAt: timestamp('sent_at', { withTimezone: true, precision: 3 }),
    /** Slack refused the message for good (last_error has its answer): it is not retried, and was logged as an error. */
    failedAt: timestamp('failed_at', { withTimezone: true, precision: 3 }),
    lastError: text('last_error'),
  },
  (t) => [index('outbox_due_idx').on(t.sentAt, t.notBefore)],
);

/** What the outbox can be asked to do; rendering happens at send time from the database. */
export type OutboxMessage =
  | { type: 'approval_cards'; requestId: number; /** access.yml approvers.channel when the request was made. */ channel?: string }
  | { type: 'refresh_cards'; requestId: number }
  /** Something to tell one person, as facts; the sender words it. (`text`: finished Slack text, as queued before notifications were data; still sent as it is.) */
  | ({ type: 'notify_user'; user: string } & ({ notification: Notification } | { text: string }))
  /** Something to tell the security channel, as facts. */
  | { type: 'notify_security'; notification: Notification }
  | { type: 'security_alert'; alertId: number }
  | { type: 'emergency_review_cards'; requestId: number }
  /** An access-review card: posted the first time, updated in place after. */
  | { type: 'review_card'; cardId: number }
  /** A closed campaign's report, uploaded to the security channel. */
  | { type: 'review_report'; campaignId: number }
  /** Queued before notifications were data (finished Slack text); still sent as it is. */
  | { type: 'security_text'; text: string }
  /** A human task's card to one of the system's owners (posted, or updated in place once done). */
  | { type: 'human_task_card'; taskId: number; owner: string };

/** Security-channel alerts; who acknowledged and when is evidence. */
/**
 * A change a person makes by hand (access.yml `grant: { manual }`): granting or removing a grant's
 * access. Opened once per grant and action (the unique index), so a provider asked again never
 * sends a second card; done when an owner presses Done, which is the evidence.
 */
export const humanTasks = pgTable(
  'human_tasks',
  {
    id: serial('id').primaryKey(),
    grantId: integer('grant_id').notNull(),
    action: text('action').$type<'grant' | 'remove'>().notNull(),
    system: text('system').notNull(),
    /** The owners' Slack user ids at the time the task opened (the user group expanded). */
    owners: jsonb('owners').$type<string[]>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
    /** When it is overdue: a reminder to the owners half-way, the security channel at this time. */
    dueAt: timestamp('due_at', { withTimezone: true, precision: 3 }).notNull(),
    remindedAt: timestamp('reminded_at', { withTimezone: true, precision: 3 }),
    escalatedAt: timestamp('escalated_at', { withTimezone: true, precision: 3 }),
    doneBy: text('done_by'),
    doneAt: timestamp('done_at', { withTimezone: true, precision: 3 }),
    /** The owner's note or link, as proof. */
    note: text('note'),
    /** Each owner's card, to update it once done: { [owner]: { channel, ts } }. */
    cards: jsonb('cards').$type<Record<string, { channel: string; ts: string }>>().notNull().default({}),
  },
  (t) => [uniqueIndex('human_tasks_grant_action_idx').on(t.grantId, t.action), index('human_tasks_open_idx').on(t.doneAt)],
);

export const alerts = pgTable('alerts', {
  id: serial('id').primaryKey(),
  kind: text('kind').notNull(),
  /** Plain text; on alerts raised before `notification` existed, the Slack text that was posted. */
  text: text('text').notNull(),
  /** What the alert is about, as facts; the channel words it when it posts. */
  notification: jsonb('notification').$type<Notification>(),
  requestId: integer('request_id'),
  grantId: integer('grant_id'),
  createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull(),
  channel: text('channel'),
  ts: text('ts'),
  acknowledgedBy: text('acknowledged_by'),
  acknowledgedAt: timestamp('acknowledged_at', { withTimezone: true, precision: 3 }),
});

/**
 * Access-review campaigns. `(period, scope_key)` is the idempotency key: starting the same
 * period's review twice, from the schedule, the CLI or several replicas, finds the one row.
 * `requested` → (a worker builds the population under a lease) → `open` → `closed`.
 */
export const reviewCampaigns = pgTable(
  'review_campaigns',
  {
    id: serial('id').primaryKey(),
    /** `2026-Q2` (quarterly), the cron occurrence `2026-04-01T09:00Z`, or a label given to `review start --period`. */
    period: text('period').notNull(),
    /** Resource names, sorted. */
    scope: jsonb('scope').$type<string[]>().notNull(),
    scopeKey: text('scope_key').notNull(),
    trigger: text('trigger').$type<'schedule' | 'manual'>().notNull(),
    requestedBy: text('requested_by').notNull(),
    requestedAt: timestamp('requested_at', { withTimezone: true, precision: 3 }).notNull(),
    state: text('state').$type<ReviewCampaignState>().notNull(),
    /** The build in progress: whoever holds the token may open the campaign; after the lease another replica takes over. */
    buildToken: text('build_token'),
    buildLeaseUntil: timestamp('build_lease_until', { withTimezone: true, precision: 3 }),
    buildAttempts: integer('build_attempts').notNull().default(0),
    lastError: text('last_error'),
    buildAlertedAt: timestamp('build_alerted_at', { withTimezone: true, precision: 3 }),
    configHash: text('config_hash'),
    /** Each in-scope resource's grant target when the campaign was built, so revokes never depend on a later access.yml. */
    targets: jsonb('targets').$type<Record<string, GrantTarget>>(),
    openedAt: timestamp('opened_at', { withTimezone: true, precision: 3 }),
    dueAt: timestamp('due_at', { withTimezone: true, precision: 3 }),
    closedAt: timestamp('closed_at', { withTimezone: true, precision: 3 }),
    /** SHA-256 of the population (canonical JSON of every item), also in `review.started`. */
    populationHash: text('population_hash'),
    itemCount: integer('item_count'),
  },
  (t) => [uniqueIndex('review_campaigns_period_scope_idx').on(t.period, t.scopeKey), index('review_campaigns_state_idx').on(t.state)],
);

export type ReviewCampaignState = 'requested' | 'open' | 'closed';

/** One reviewer's card in a campaign: a manager (a DM) or the security channel. One Slack message, paged in place. */
export const reviewCards = pgTable(
  'review_cards',
  {
    id: serial('id').primaryKey(),
    campaignId: integer('campaign_id').notNull().references(() => reviewCampaigns.id),
    audience: text('audience').$type<'manager' | 'security'>().notNull(),
    /** The manager's Slack user id, or the security channel's id. */
    recipient: text('recipient').notNull(),
    /** Told when the card is overdue: the reviewer's own manager (Slack id), when known. */
    escalateTo: text('escalate_to'),
    /** The page the message shows now (0-based). */
    page: integer('page').notNull().default(0),
    channel: text('channel'),
    ts: text('ts'),
    signedOffBy: text('signed_off_by'),
    signedOffAt: timestamp('signed_off_at', { withTimezone: true, precision: 3 }),
    remindedAt: timestamp('reminded_at', { withTimezone: true, precision: 3 }),
    reminders: integer('reminders').notNull().default(0),
    escalatedAt: timestamp('escalated_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [uniqueIndex('review_cards_recipient_idx').on(t.campaignId, t.recipient), index('review_cards_reviewer_idx').on(t.recipient)],
);

/** One person's access to one resource in a campaign, and what was decided about it. */
export const reviewItems = pgTable(
  'review_items',
  {
    id: serial('id').primaryKey(),
    campaignId: integer('campaign_id').notNull().references(() => reviewCampaigns.id),
    /** Null for people who have left: their access goes straight to revoke, no one is asked. */
    cardId: integer('card_id').references(() => reviewCards.id),
    resource: text('resource').notNull(),
    /** How the provider knows the person (Okta login, IAM user name). */
    principal: text('principal').notNull(),
    email: text('email'),
    personName: text('person_name'),
    /** The person's Slack id when breakglass knows it (their grant, access.yml people:, or as a reviewer). */
    personSlack: text('person_slack'),
    /** The identity directory's id (Okta 00u…). */
    directoryId: text('directory_id'),
    /** The breakglass grant behind this access; null means unmanaged (granted outside breakglass). */
    grantId: integer('grant_id'),
    requestId: integer('request_id'),
    since: timestamp('since', { withTimezone: true, precision: 3 }),
    sinceSource: text('since_source').$type<'grant' | 'first_seen'>(),
    /** Not in the previous campaign that covered this resource; null when there was none. */
    isNew: boolean('is_new'),
    route: text('route').$type<ReviewRoute>().notNull(),
    routeNote: text('route_note'),
    decision: text('decision').$type<'keep' | 'revoke'>(),
    decidedBy: text('decided_by'),
    decidedAt: timestamp('decided_at', { withTimezone: true, precision: 3 }),
    /** pending: to be revoked (claimed under a lease via revoke_next_at); revoked: gone at the provider. */
    revokeState: text('revoke_state').$type<'pending' | 'revoked'>(),
    revokeAttempts: integer('revoke_attempts').notNull().default(0),
    revokeNextAt: timestamp('revoke_next_at', { withTimezone: true, precision: 3 }),
    /** Whose lease revoke_next_at is while pending, as grants.lease_holder; null for a backoff or a person's task. */
    revokeLeaseHolder: bigint('revoke_lease_holder', { mode: 'number' }),
    revokeError: text('revoke_error'),
    revokeAlertedAt: timestamp('revoke_alerted_at', { withTimezone: true, precision: 3 }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, precision: 3 }),
    /** listAccess no longer showed the person after the revoke. */
    revokeVerified: boolean('revoke_verified'),
  },
  (t) => [
    uniqueIndex('review_items_once_idx').on(t.campaignId, t.resource, t.principal),
    index('review_items_card_idx').on(t.cardId),
    index('review_items_revoke_idx').on(t.revokeState, t.revokeNextAt),
  ],
);

export type ReviewRoute = 'manager' | 'skip_level' | 'security' | 'left';

/** A review schedule's next occurrence, armed once (not at start-up's instant) and moved on by whoever fires it. */
export const reviewSchedules = pgTable('review_schedules', {
  schedule: text('schedule').primaryKey(),
  nextAt: timestamp('next_at', { withTimezone: true, precision: 3 }).notNull(),
  armedAt: timestamp('armed_at', { withTimezone: true, precision: 3 }).notNull(),
  lastFiredAt: timestamp('last_fired_at', { withTimezone: true, precision: 3 }),
});

/**
 * Every access.yml version the bot has run under, by the SHA-256 of its text (the hash the ledger's
 * `config.loaded` events and every request carry), so the policy in force at any time can be
 * rendered again and two versions compared. Rows are only ever added.
 */
export const policyVersions = pgTable('policy_versions', {
  hash: text('hash').primaryKey(),
  text: text('text').notNull(),
  firstLoadedAt: timestamp('first_loaded_at', { withTimezone: true, precision: 3 }).notNull(),
});

/**
 * Slack deliveries already handled (a signature, or a Socket Mode payload's digest), so the same
 * signed request replayed within Slack's five-minute window is ignored by every replica and after
 * a restart. Rows older than that window are deleted as new ones arrive.
 */
export const slackDeliveries = pgTable(
  'slack_deliveries',
  {
    key: text('key').primaryKey(),
    seenAt: timestamp('seen_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index('slack_deliveries_seen_at_idx').on(t.seenAt)],
);

/**
 * How far the suspicious-pattern monitors have read the ledger: one row, locked by the replica
 * that reads on. It starts at the ledger's head when the table is made, so turning monitors on
 * does not raise alerts about years of history at once.
 */
export const monitorCursor = pgTable(
  'monitor_cursor',
  {
    single: boolean('single').primaryKey().default(true),
    seq: bigint('seq', { mode: 'number' }).notNull(),
  },
  (t) => [check('monitor_cursor_single_row', sql`${t.single}`)],
);

/**
 * The access inventory's memory: per resource, spans of time during which breakglass listed it
 * at its provider often enough to know who held it (listings no further apart than the gap the
 * lister allows), and who the newest listing found. A listing that changes nothing only moves
 * `covered_to`; what changed is an `access.observed` / `access.gone` event in the same transaction.
 */
export const inventoryListings = pgTable(
  'inventory_listings',
  {
    id: serial('id').primaryKey(),
    resource: text('resource').notNull(),
    provider: text('provider').notNull(),
    coveredFrom: timestamp('covered_from', { withTimezone: true, precision: 3 }).notNull(),
    coveredTo: timestamp('covered_to', { withTimezone: true, precision: 3 }).notNull(),
    listings: integer('listings').notNull().default(1),
    /** Who the newest listing found, by lower-cased principal. */
    holders: jsonb('holders').$type<Record<string, InventoryHolder>>().notNull(),
  },
  (t) => [index('inventory_listings_resource_idx').on(t.resource, t.coveredTo)],
);

export interface InventoryHolder {
  principal: string;
  email: string | null;
  person: string | null;
  firstSeenAt: string;
}

/**
 * People: one stable breakglass id a person, whatever each system calls them (people-repo.ts).
 * `status` is the summary of `statuses` (each directory's own word), so two directories that
 * disagree never make it flip back and forth. Rows change only with a `person.seen` or
 * `person.changed` event in the same transaction.
 */
export const people = pgTable('people', {
  id: text('id').primaryKey(),
  name: text('name'),
  /** Which source gave the name: a directory of record's name is not replaced by a chat nickname. */
  nameSource: text('name_source'),
  /** The manager as the identity directory names them (an id, login or email). */
  manager: text('manager'),
  status: text('status').notNull().default('unknown'),
  statuses: jsonb('statuses').$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
  firstSeenAt: timestamp('first_seen_at', { withTimezone: true, precision: 3 }).notNull(),
  deactivatedAt: timestamp('deactivated_at', { withTimezone: true, precision: 3 }),
  updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull(),
});

/**
 * Every name a person has had in any system, kept after it is replaced (`replaced_at`) so old
 * evidence still finds them. A current alias belongs to one person; `key` is the value lower-cased.
 */
export const personAliases = pgTable(
  'person_aliases',
  {
    id: serial('id').primaryKey(),
    personId: text('person_id').notNull().references(() => people.id),
    kind: text('kind').notNull(),
    value: text('value').notNull(),
    key: text('key').notNull(),
    firstSeenAt: timestamp('first_seen_at', { withTimezone: true, precision: 3 }).notNull(),
    replacedAt: timestamp('replaced_at', { withTimezone: true, precision: 3 }),
  },
  (t) => [
    uniqueIndex('person_aliases_current_key_idx').on(t.kind, t.key).where(sql`${t.replacedAt} is null`),
    index('person_aliases_key_idx').on(t.key),
    index('person_aliases_person_idx').on(t.personId),
  ],
);

/**
 * Open offboardings, checked until a listing at every provider shows none of the leaver's access
 * left. Claimed like grants (`next_check_at` is the lease, then the next check): a check that found
 * access still held waits a drift interval before listing again, a failed one backs off. The
 * evidence is `offboarding.detected`, `offboarding.access_held` and `offboarding.completed`.
 */
export const offboardings = pgTable(
  'offboardings',
  {
    id: serial('id').primaryKey(),
    /** The `offboarding.detected` event this offboarding is. */
    detectedSeq: bigint('detected_seq', { mode: 'number' }).notNull().unique(),
    subject: text('subject').notNull(),
    state: text('state').$type<'open' | 'completed'>().notNull().default('open'),
    nextCheckAt: timestamp('next_check_at', { withTimezone: true, precision: 3 }).notNull(),
    /** Whose lease next_check_at is while a check runs, as grants.lease_holder; null when it is the next check's time. */
    leaseHolder: bigint('lease_holder', { mode: 'number' }),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** When the last check looked at the providers: a later listing in the inventory is news. */
    checkedAt: timestamp('checked_at', { withTimezone: true, precision: 3 }),
    /** Systems a listing showed clear of the leaver, by resource, as the completion records them. */
    systems: jsonb('systems').$type<Record<string, OffboardingSystem>>().notNull().default(sql`'{}'::jsonb`),
    /** Access the last check found still held, with since when. */
    held: jsonb('held').$type<HeldAccess[]>().notNull().default(sql`'[]'::jsonb`),
  },
  (t) => [index('offboardings_due_idx').on(t.state, t.nextCheckAt)],
);

export interface OffboardingSystem {
  resource: string;
  provider: string;
  outcome: 'no_access' | 'revoked' | 'removed' | 'gone';
  ended_at: string | null;
  principals?: string[];
  last_seen_at?: string;
  removals_confirmed?: Array<{ grant_id: number; system: string; confirmed_by: string | null; confirmed_at: string | null }>;
}

export interface HeldAccess {
  resource: string;
  provider: string;
  principal: string;
  /** When breakglass first saw it (the inventory's first sighting, or the listing that found it). */
  since: string;
  basis: 'unmanaged';
  removal: 'none' | 'failed' | 'requested';
}

/**
 * An Okta Verify push on its way to an approver for a request (access.yml `approval: { step_up }`):
 * claimed before the push is sent and deleted when it ends, so a second click, on any replica,
 * sends no second push. A claim older than a push can last is one a stopped bot left behind.
 */
export const stepUpPushes = pgTable(
  'step_up_pushes',
  {
    requestId: integer('request_id').notNull().references(() => accessRequests.id),
    approver: text('approver').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.approver] })],
);
