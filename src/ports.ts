/**
 * The ports: the only shapes the use cases know of the outside world.
 * Adapters (providers/, slack/, db/) implement them; tests drive them through real wire servers.
 */

/** An AWS IAM policy document as AWS accepts it (Version + Statement). */
export interface IamPolicyDocument {
  Version?: string;
  Statement: Array<Record<string, unknown>>;
}

/** Where a resource's access lives: assembled from the provider modules (src/providers/registry.ts). */
export type { GrantTarget } from './providers/registry.ts';
import type { GrantTarget } from './providers/registry.ts';

/** A person as the providers see them: matched across systems by email. */
export interface Person {
  email: string;
  /**
   * The name the provider knows the person by, when known: the principal a listing reported, or
   * the one access.yml `people:` gives. Absent: the provider derives it from the email.
   */
  principal?: string;
  /**
   * The provider's own, unchanging id of that principal, learnt when the grant was applied (an IAM
   * UserId, AIDA…): the name may change while the grant runs, so revokes and listings match on it.
   */
  principalId?: string;
  slackUserId?: string;
}

export interface GrantSpec {
  /** breakglass grant id: the idempotency key and the mark left at the provider where it can hold one. */
  grantId: string;
  resource: string;
  target: GrantTarget;
  person: Person;
  /** UTC instant the access must end; IAM inline policies carry it as a DateLessThan condition. */
  expiresAt: Date;
}

/** One person's current access to one resource, as the provider reports it. */
export interface AccessEntry {
  resource: string;
  /** Okta login/email or IAM user name, whichever the provider knows the person by. */
  principal: string;
  /** The provider's unchanging id of the principal where it has one (IAM UserId): a renamed user is still the same. */
  principalId?: string;
  email?: string;
  /** The breakglass grant id when the provider carries one (IAM inline policies do), else undefined. */
  grantId?: string;
  /** When the provider knows when access began. */
  since?: Date;
  /**
   * The person's directory record, when the provider is also the identity directory (Okta group
   * members come with their profile and status), so an access review needs no second lookup.
   */
  person?: DirectoryPerson;
}

/**
 * Grants and revokes access at one provider. Every call is idempotent: granting access that is
 * already there and revoking access that is already gone both succeed. Transient failures
 * (429, 5xx, throttling) are retried inside the call with backoff and jitter; what still fails is
 * thrown as a ProviderError whose `transient` says whether trying again later may help.
 */
export interface AccessProvider {
  readonly name: string;
  supports(target: GrantTarget): boolean;
  /**
   * Done when it returns (with the principal's provider id, where the provider has one), or a
   * HumanTask: the change waits for a person to make it and confirm it.
   */
  grant(spec: GrantSpec): Promise<void | HumanTask | GrantApplied>;
  /** Done when it returns (with what it did to open sessions, where it ended them), or a HumanTask. */
  revoke(spec: GrantSpec): Promise<void | HumanTask | RevokeOutcome>;
  listAccess(resource: string, target: GrantTarget): Promise<AccessEntry[]>;
  /** False when the provider cannot list who has access (granted by hand): drift checks skip it. */
  readonly canList?: boolean;
  /** Ends the person's open sessions, where the provider can (a revoke alone leaves them open); returns how many, null when the provider cannot count them. */
  endSessions?(spec: GrantSpec): Promise<number | null>;
}

/** A grant done at the provider, with the id the provider gives the principal (kept on the grant, see Person.principalId). */
export interface GrantApplied {
  principalId: string;
}

/** What a revoke did to the person's open sessions (access.yml `end_sessions`). */
export interface SessionsEnded {
  /** How many ended; null when the provider ends them without counting them (a deny on older tokens). */
  ended: number | null;
  /** From when no session older than the revoke works. */
  effectiveAt: Date;
  /** How, in the provider's words (e.g. pg_terminate_backend). */
  method: string;
}

/** What a revoke done at the provider did beyond removing the access. */
export interface RevokeOutcome {
  /** The person's open sessions it also ended. */
  sessionsEnded?: SessionsEnded;
  /**
   * The resource's listing the provider took after its last change (to confirm a "not found"
   * answer, or because it always checks): the caller records it instead of listing again.
   */
  listed?: AccessEntry[];
}

/** A provider's answer that a person, not the API, makes the change. */
export const isHumanTask = (answer: void | HumanTask | RevokeOutcome | GrantApplied): answer is HumanTask => typeof answer === 'object' && answer !== null && 'awaitingHuman' in answer;

/**
 * A provider's answer when a person, not an API, makes the change (access.yml `grant: { manual }`):
 * the grant stays granting (or revoking) until one of the owners confirms it in Slack.
 */
export interface HumanTask {
  awaitingHuman: 'grant' | 'remove';
  system: string;
  owners: { slackUsers: string[]; slackUsergroup?: string };
}

export class ProviderError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }
}

/**
 * A call not made because that operation is failing at its provider (see providers/circuit.ts):
 * transient, so the durable retry tries again later; nothing reached the provider.
 */
export class CircuitOpenError extends ProviderError {
  constructor(
    readonly circuit: string,
    readonly failingSince: Date,
    lastFailure: string,
  ) {
    super(`${circuit} is failing since ${failingSince.toISOString()} (${lastFailure}); breakglass waits for it to recover and tries again`, true);
    this.name = 'CircuitOpenError';
  }
}

/**
 * A revoke the provider answered "not found" (or acted on) while its listing still shows the
 * person holding the access, e.g. an IAM user renamed while in the group: not revoked, retried.
 */
export class RevokeIneffectiveError extends ProviderError {
  constructor(
    message: string,
    readonly principal: string,
  ) {
    super(message, false);
    this.name = 'RevokeIneffectiveError';
  }
}

/** Time comes from here so tests control it. Always UTC. */
export interface Clock {
  now(): Date;
  /**
   * Waits `ms` (a provider's in-call retry backoff). Absent: real time. A test's clock waits
   * however it likes, e.g. not at all, so an outage of many retries runs in fake time.
   */
  sleep?(ms: number): Promise<void>;
}

export const systemClock: Clock = { now: () => new Date() };

/** A Slack user as the policy needs them. */
export interface SlackUser {
  id: string;
  name: string;
  email?: string | undefined;
  deleted: boolean;
  isBot: boolean;
}

/**
 * The chat workspace's directory (Slack): who a user is, who is in a user group. Not the identity
 * directory (IdentityDirectory: Okta's status and managers). Answers may be cached for a short while; `usergroupMembers` of an unknown
 * group is an empty list, not an error, so one stale group id never blocks every request. Other
 * failures are thrown as ProviderError, whose `transient` says whether trying again may help.
 */
export interface ChatDirectory {
  user(id: string): Promise<SlackUser | undefined>;
  usergroupMembers(groupId: string): Promise<string[]>;
  /** The Slack user with this profile email (case-insensitive), or undefined when there is none. */
  userByEmail(email: string): Promise<SlackUser | undefined>;
  /** The people in a channel (bots left out); none when the channel cannot be seen. */
  channelMembers(channelId: string): Promise<string[]>;
  /** Whether a channel exists for the bot, and whether the bot is in it (it can post only then). */
  channel(channelId: string): Promise<ChannelAccess>;
}

/** What the bot can do with a channel access.yml names. */
export type ChannelAccess = { found: false } | { found: true; name: string; isMember: boolean; isArchived: boolean };

/**
 * What operators watch (GET /metrics): latencies observed as they happen. Lags are in seconds;
 * a call never throws and never waits.
 */
export interface Metrics {
  slackAck(seconds: number): void;
  /** From the grant's approval to its access being active at the provider. */
  grantApplied(lagSeconds: number): void;
  /** From a grant's end to its access being removed at the provider. */
  grantRevokedAfterEnd(lagSeconds: number): void;
  providerCall(provider: string, operation: string, failed: boolean): void;
}

/** Finds the provider for a grant target. */
export interface Providers {
  forTarget(target: GrantTarget): AccessProvider;
}

/** Someone the identity provider deactivated or suspended. */
export interface DeactivatedPerson {
  /** The primary email, else the login. */
  email: string;
  /** The Okta login: people are matched on the Okta login or email. */
  login: string;
  status: string;
  deactivatedAt: Date;
}

/** Polled for leavers (Okta: DEPROVISIONED or SUSPENDED). */
export interface DeactivationFeed {
  listDeactivatedSince(since: Date): Promise<DeactivatedPerson[]>;
}

/** A person as the identity directory (Okta) knows them. */
export interface DirectoryPerson {
  /** The directory's own id (Okta: 00u…). */
  id: string;
  login: string;
  email?: string | undefined;
  /** ACTIVE, SUSPENDED, DEPROVISIONED, … */
  status?: string | undefined;
  /** Profile attributes as the directory holds them (firstName, managerId, …). */
  profile: Record<string, unknown>;
}

/**
 * The identity directory: who a person is, whether they still work here and who their manager
 * is. Answers are fresh (never served from a cache older than the call); an unknown person is
 * undefined, not an error; transient failures are retried inside and then thrown as ProviderError.
 */
export interface IdentityDirectory {
  /** Finds a person by directory id, login or primary email. */
  lookupUser(ref: string): Promise<DirectoryPerson | undefined>;
}

/** One on-call shift exactly as the on-call system reported it (PagerDuty's oncall object). */
export interface OnCallShift {
  scheduleId: string;
  escalationPolicyId: string;
  escalationLevel: number;
  /** ISO 8601 as the system wrote it; null: a permanent on-call (no start, or never goes off call). */
  start: string | null;
  end: string | null;
}

/**
 * Who is on call now (PagerDuty). Undefined: the system knows nobody with that email. A failure
 * to answer (unreachable, 5xx, timeout, refused key) throws: the caller must never read it as "on call".
 */
export interface OnCallDirectory {
  onCallNow(email: string, scheduleIds: readonly string[]): Promise<{ userId: string; shifts: OnCallShift[] } | undefined>;
}

/** Where an Okta Verify push stands: WAITING for the person, or their answer (TIMEOUT: Okta gave up on them). */
export type PushResult = 'WAITING' | 'SUCCESS' | 'REJECTED' | 'TIMEOUT';

/** A push just sent: what to poll. */
export interface PushSent {
  factorId: string;
  transactionId: string;
  result: PushResult;
}

/**
 * Okta Verify push through Okta's Factors API (access.yml `approval: { step_up: okta_verify }`).
 * Failures to reach Okta are thrown as ProviderError, like every port here.
 */
export interface PushVerifier {
  /** The person's ACTIVE Okta Verify push factor (factorType push, provider OKTA); undefined when none is enrolled. */
  pushFactor(oktaUserId: string): Promise<string | undefined>;
  /** Sends one push to the person's phone. Never retried inside: a lost answer may mean a push on its way. */
  sendPush(oktaUserId: string, factorId: string): Promise<PushSent>;
  /** The push's state now. */
  pushResult(oktaUserId: string, factorId: string, transactionId: string): Promise<PushResult>;
}
