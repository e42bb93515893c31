import type { Db } from '../../src/db/client.ts';
import type { EventDetails } from '../../src/domain/events.ts';
import { checkpointDetails, signCheckpoint, type CheckpointSigner } from '../../src/ledger/checkpoint.ts';
import { canonicalContent, chainHash, GENESIS_HASH, normaliseDetails, type EvidenceInput, type StoredEvent } from '../../src/ledger/event.ts';
import { Ledger } from '../../src/ledger/ledger.ts';

interface RequestInfo {
  id: number;
  requester: string;
  resource: string;
  durationMs: number;
  approvalsRequired: number;
  approvals: string[];
}

interface GrantInfo {
  id: number;
  requestId: number;
  person: string;
  resource: string;
  endsAt: Date;
}

const iso = (at: string | Date) => new Date(at).toISOString();

type ReviewKind = 'review.started' | 'review.decided' | 'review.escalated' | 'review.signed_off';

/** A complete, plausible set of details for each review event, for a test to override only what it is about. */
const REVIEW_DEFAULTS: { [K in ReviewKind]: EventDetails<K> } = {
  'review.started': {
    campaign_id: 1,
    period: '2026-Q1',
    trigger: 'manual',
    scope: ['prod-db'],
    requested_at: '2026-03-01T00:00:00.000Z',
    due_at: '2026-03-10T00:00:00.000Z',
    population_sha256: 'b'.repeat(64),
    config_hash: 'a'.repeat(64),
    items: 1,
    people: 1,
    reviewers: 1,
    security_items: 0,
    left_items: 0,
    unmanaged_items: 0,
    new_items: 0,
    skipped_resources: [],
  },
  'review.decided': {
    campaign_id: 1,
    period: '2026-Q1',
    item_id: 1,
    decision: 'keep',
    principal: 'alice@example.com',
    email: 'alice@example.com',
    granted_by: 'request #1',
    new_since_last_review: false,
    route: 'manager',
    reviewer: 'U0MGR',
    by_assigned_reviewer: true,
    keep_all_remaining: false,
  },
  'review.escalated': {
    campaign_id: 1,
    period: '2026-Q1',
    card_id: 1,
    reviewer: 'U0MGR',
    audience: 'manager',
    undecided: 1,
    lines: 1,
    due_at: '2026-03-10T00:00:00.000Z',
    overdue_by_ms: 0,
    escalated_to: null,
    security_channel: 'C0SEC',
  },
  'review.signed_off': {
    campaign_id: 1,
    period: '2026-Q1',
    card_id: 1,
    audience: 'manager',
    reviewer: 'U0MGR',
    by_assigned_reviewer: true,
    lines: 1,
    kept: 1,
    revoked: 0,
    due_at: '2026-03-10T00:00:00.000Z',
    overdue: false,
  },
};

/**
 * A ledger written the way the use cases write it (same kinds, actors and details), at instants
 * the test chooses. `events()` computes the chain in memory (for the pure functions); `writeTo`
 * appends the same events through the real Ledger, so the database holds identical rows.
 * Call the steps in the order they happen.
 */
export class EvidenceStory {
  readonly entries: Array<{ at: Date; input: EvidenceInput }> = [];
  private readonly requests = new Map<number, RequestInfo>();
  private readonly grantsById = new Map<number, GrantInfo>();
  private nextRequest = 1;
  private nextGrant = 1;
  private nextAlert = 1;

  /** Any event, as is: for review.*, offboarding.*, ledger.checkpoint and the like. */
  raw(at: string | Date, input: EvidenceInput): number {
    this.entries.push({ at: new Date(at), input });
    return this.entries.length;
  }

  /**
   * A review.* event with its details over REVIEW_DEFAULTS: the test states the fields it is
   * about, and the rest are a complete, valid set (a misnamed field still fails tsc).
   */
  review<K extends ReviewKind>(at: string | Date, input: { kind: K; actor: string; subject?: string; resource?: string; requestId?: number; details: Partial<EventDetails<K>> }): number {
    return this.raw(at, { ...input, details: { ...REVIEW_DEFAULTS[input.kind], ...input.details } } as EvidenceInput);
  }

  /** The seq the next event will get. */
  get nextSeq(): number {
    return this.entries.length + 1;
  }

  config(at: string, hash = 'a'.repeat(64)): number {
    return this.raw(at, { kind: 'config.loaded', actor: 'breakglass', subject: './access.yml', details: { config_hash: hash, previous_hash: null, resources: ['prod-db'] } });
  }

  request(
    at: string,
    ask: { requester: string; resource: string; durationMs: number; reason: string; ticket?: string; approvers: string[]; approvalsRequired?: number; kind?: 'standard' | 'emergency' | 'extension'; extendsGrantId?: number },
  ): number {
    const id = this.nextRequest++;
    const approvalsRequired = ask.approvalsRequired ?? 1;
    this.requests.set(id, { id, requester: ask.requester, resource: ask.resource, durationMs: ask.durationMs, approvalsRequired, approvals: [] });
    this.raw(at, {
      kind: 'request.created',
      actor: ask.requester,
      subject: ask.requester,
      resource: ask.resource,
      requestId: id,
      details: {
        request_kind: ask.kind ?? 'standard',
        duration: `${ask.durationMs / 60_000}m`,
        duration_ms: ask.durationMs,
        reason: ask.reason,
        ticket: ask.ticket ?? null,
        extends_grant_id: ask.extendsGrantId ?? null,
        approvers: ask.approvers,
        approvals_required: approvalsRequired,
        config_hash: 'a'.repeat(64),
      },
    });
    return id;
  }

  /** One approver's click; `final` when it completes N-of-M (unless forced). Returns the seq. */
  approve(at: string, requestId: number, approver: string, force?: { final?: boolean }): number {
    const request = this.requestInfo(requestId);
    request.approvals.push(approver);
    const count = new Set(request.approvals).size;
    const final = force?.final ?? count >= request.approvalsRequired;
    return this.raw(at, {
      kind: 'request.approved',
      actor: approver,
      subject: request.requester,
      resource: request.resource,
      requestId,
      details: { approvals: count, approvals_required: request.approvalsRequired, final, config_hash: 'a'.repeat(64) },
    });
  }

  /** An emergency self-grant's approval, as request-access records it. */
  selfGrant(at: string, requestId: number): number {
    const request = this.requestInfo(requestId);
    return this.raw(at, {
      kind: 'request.approved',
      actor: request.requester,
      subject: request.requester,
      resource: request.resource,
      requestId,
      details: { self_grant: true, policy: 'emergency_self_grant', approvals: [request.requester], final: true, config_hash: 'a'.repeat(64) },
    });
  }

  deny(at: string, requestId: number, approver: string, reason: string): number {
    const request = this.requestInfo(requestId);
    return this.raw(at, { kind: 'request.denied', actor: approver, subject: request.requester, resource: request.resource, requestId, details: { reason, config_hash: 'a'.repeat(64) } });
  }

  /** grant.applied: access starts at `at` and is due to end after the request's duration. */
  apply(at: string, requestId: number, options: { emergency?: boolean } = {}): number {
    const request = this.requestInfo(requestId);
    const id = this.nextGrant++;
    const endsAt = new Date(new Date(at).getTime() + request.durationMs);
    this.grantsById.set(id, { id, requestId, person: request.requester, resource: request.resource, endsAt });
    this.raw(at, {
      kind: 'grant.applied',
      actor: 'breakglass',
      subject: request.requester,
      resource: request.resource,
      requestId,
      details: {
        grant_id: id,
        provider: 'okta',
        target: { kind: 'okta_group', groupId: '00gPRODDB' },
        starts_at: iso(at),
        ends_at: endsAt.toISOString(),
        provider_expiry: endsAt.toISOString(),
        emergency: options.emergency ?? false,
      },
    });
    return id;
  }

  /** grant.extended by an approved extension request: the end moves by that request's duration. */
  extend(at: string, grantId: number, extensionRequestId: number): number {
    const grant = this.grantInfo(grantId);
    const extension = this.requestInfo(extensionRequestId);
    const previous = grant.endsAt;
    grant.endsAt = new Date(previous.getTime() + extension.durationMs);
    return this.raw(at, {
      kind: 'grant.extended',
      actor: 'breakglass',
      subject: grant.person,
      resource: grant.resource,
      requestId: extensionRequestId,
      details: { grant_id: grantId, original_request_id: grant.requestId, previous_ends_at: previous.toISOString(), ends_at: grant.endsAt.toISOString(), extended_by: `${extension.durationMs / 60_000}m` },
    });
  }

  /** `/breakglass end`: the end moves to now; the revoke follows. */
  endNow(at: string, grantId: number, by: string): number {
    const grant = this.grantInfo(grantId);
    const scheduled = grant.endsAt;
    grant.endsAt = new Date(at);
    return this.raw(at, {
      kind: 'grant.end_requested',
      actor: by,
      subject: grant.person,
      resource: grant.resource,
      requestId: grant.requestId,
      details: { grant_id: grantId, scheduled_end: scheduled.toISOString(), by_security: by !== grant.person },
    });
  }

  revokeFailed(at: string, grantId: number, error: string): number {
    const grant = this.grantInfo(grantId);
    return this.raw(at, { kind: 'grant.revoke_failed', actor: 'breakglass', subject: grant.person, resource: grant.resource, requestId: grant.requestId, details: { grant_id: grantId, error, attempts: 1, retrying: true } });
  }

  /** grant.revoked at `at`, late by however long after the grant's current end that is. */
  /** `listedAt`: the listing after the revoke, which no longer showed the access (`verified`). */
  revoke(at: string, grantId: number, options: { reason?: string; by?: string; listedAt?: string } = {}): number {
    const grant = this.grantInfo(grantId);
    return this.raw(at, {
      kind: 'grant.revoked',
      actor: options.by ?? 'breakglass',
      subject: grant.person,
      resource: grant.resource,
      requestId: grant.requestId,
      details: {
        grant_id: grantId,
        reason: options.reason ?? 'expired',
        ends_at: grant.endsAt.toISOString(),
        revoked_at: iso(at),
        late_by_ms: Math.max(0, new Date(at).getTime() - grant.endsAt.getTime()),
        attempts: 1,
        provider_call: 'revoked',
        ...(options.listedAt ? { verified: true, listed_at: iso(options.listedAt) } : {}),
      },
    });
  }

  reviewEmergency(at: string, grantId: number, reviewer: string, grantedAt: string): number {
    const grant = this.grantInfo(grantId);
    return this.raw(at, {
      kind: 'emergency.reviewed',
      actor: reviewer,
      subject: grant.person,
      resource: grant.resource,
      requestId: grant.requestId,
      details: { grant_id: grantId, granted_at: iso(grantedAt), reviewed_after_ms: new Date(at).getTime() - new Date(grantedAt).getTime() },
    });
  }

  escalateEmergency(at: string, grantId: number, grantedAt: string): number {
    const grant = this.grantInfo(grantId);
    return this.raw(at, {
      kind: 'emergency.escalated',
      actor: 'breakglass',
      subject: grant.person,
      resource: grant.resource,
      requestId: grant.requestId,
      details: { grant_id: grantId, granted_at: iso(grantedAt), unreviewed_for_ms: new Date(at).getTime() - new Date(grantedAt).getTime() },
    });
  }

  /** alert.raised; returns the alert id (its seq is `nextSeq` before the call). */
  alert(at: string, alert: { kind: string; text: string; requestId?: number; grantId?: number; subject?: string; resource?: string }): number {
    const id = this.nextAlert++;
    this.raw(at, {
      kind: 'alert.raised',
      actor: 'breakglass',
      subject: alert.subject,
      resource: alert.resource,
      requestId: alert.requestId,
      details: { alert_id: id, alert_kind: alert.kind, text: alert.text, grant_id: alert.grantId ?? null },
    });
    return id;
  }

  acknowledge(at: string, alertId: number, user: string, raisedAt: string, kind: string, requestId?: number): number {
    return this.raw(at, {
      kind: 'alert.acknowledged',
      actor: user,
      requestId,
      details: { alert_id: alertId, alert_kind: kind, raised_at: iso(raisedAt), acknowledged_after_ms: new Date(at).getTime() - new Date(raisedAt).getTime() },
    });
  }

  /** A signed ledger.checkpoint of the events so far, as the checkpoint worker records it. */
  /** The bot's lifecycle: a start, a clean stop, a heartbeat while idle. */
  started(at: string, configHash: string | null = 'a'.repeat(64)): number {
    return this.raw(at, { kind: 'bot.started', actor: 'breakglass', details: { version: '0.1.0', host: 'bot-1', database: 'postgres', config_hash: configHash } });
  }
  stopping(at: string, startedAt: string): number {
    return this.raw(at, { kind: 'bot.stopping', actor: 'breakglass', details: { version: '0.1.0', host: 'bot-1', started_at: iso(startedAt) } });
  }
  heartbeat(at: string | Date, idleSince: string | Date): number {
    return this.raw(at, { kind: 'bot.heartbeat', actor: 'breakglass', details: { host: 'bot-1', idle_since: iso(idleSince) } });
  }

  checkpoint(at: string, signer: CheckpointSigner): number {
    const events = this.events();
    const head = events.at(-1)?.hash ?? GENESIS_HASH;
    return this.raw(at, { kind: 'ledger.checkpoint', actor: 'breakglass', details: checkpointDetails(signCheckpoint(signer, { count: events.length, head, at: iso(at) })) });
  }

  /** The events exactly as the Ledger would store them. */
  events(): StoredEvent[] {
    let prevHash = GENESIS_HASH;
    return this.entries.map(({ at, input }, index) => {
      const event = {
        seq: index + 1,
        occurredAt: at,
        kind: input.kind,
        actor: input.actor,
        subject: input.subject ?? null,
        resource: input.resource ?? null,
        requestId: input.requestId === undefined || input.requestId === null ? null : String(input.requestId),
        details: normaliseDetails(input.details),
      };
      const hash = chainHash(prevHash, canonicalContent(event));
      const stored: StoredEvent = { ...event, prevHash, hash };
      prevHash = hash;
      return stored;
    });
  }

  /** Appends every event through the real Ledger, each at its own instant. */
  async writeTo(db: Db): Promise<StoredEvent[]> {
    let current = new Date(0);
    const ledger = new Ledger({ now: () => current });
    const stored: StoredEvent[] = [];
    for (const entry of this.entries) {
      current = entry.at;
      stored.push(await db.transaction((tx) => ledger.append(tx, entry.input)));
    }
    return stored;
  }

  private requestInfo(id: number): RequestInfo {
    const request = this.requests.get(id);
    if (!request) throw new Error(`no request ${id} in this story`);
    return request;
  }

  private grantInfo(id: number): GrantInfo {
    const grant = this.grantsById.get(id);
    if (!grant) throw new Error(`no grant ${id} in this story`);
    return grant;
  }
}
