import * as nodeCrypto from 'node:crypto';
import type { EvidenceEvent } from '../domain/events.ts';
import { canonicalJson, canonicalString } from './canonical-json.ts';

export { EVENT_KINDS, type EventKind } from '../domain/events.ts';

/** Who, whom, what and which request: the columns every event has besides its kind and details. */
interface EvidenceColumns {
  /** Who did it: a Slack user id, `breakglass` for the bot's own work, or `cli:<user>`. */
  actor: string;
  /** Whom it is about (the person whose access changed), when that is not the actor. */
  subject?: string | null | undefined;
  resource?: string | null | undefined;
  requestId?: string | number | null | undefined;
}

/**
 * What a use case records: one kind and details of exactly that kind's shape (src/domain/events.ts).
 * Time is the ledger's clock, never the caller's.
 */
export type EvidenceInput = EvidenceColumns & EvidenceEvent;

export interface StoredEvent {
  seq: number;
  occurredAt: Date;
  kind: string;
  actor: string;
  subject: string | null;
  resource: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/** An event's content under its wire names (those of the export and the audit pack): every field but the hashes. */
export function eventContent(event: Omit<StoredEvent, 'prevHash' | 'hash'>) {
  return {
    seq: event.seq,
    occurred_at: event.occurredAt.toISOString(),
    kind: event.kind,
    actor: event.actor,
    subject: event.subject,
    resource: event.resource,
    request_id: event.requestId,
    details: event.details,
  };
}

/** The hashed content of an event: every field but the hashes, in RFC 8785 canonical JSON. */
export function canonicalContent(event: Omit<StoredEvent, 'prevHash' | 'hash'>): string {
  const { seq, ...rest } = event;
  if (typeof seq === 'number' && Number.isFinite(seq)) {
    const around = canonicalContentAroundSeq(rest);
    if (around) return `${around.beforeSeq}${String(seq)}${around.afterSeq}`;
  }
  const text = canonicalJson(eventContent(event));
  if (text === undefined) throw new Error('event content cannot be serialised');
  return text;
}

/**
 * The canonical content of an event of the common shape, split where its seq goes, so the
 * appender can let the database put in the seq it assigns (and hash the result) in the same
 * statement that takes the chain's head. Undefined for any other shape (only a tampered row
 * has one): canonicalContent then writes it the general way.
 */
export function canonicalContentAroundSeq(event: Omit<StoredEvent, 'seq' | 'prevHash' | 'hash'>): { beforeSeq: string; afterSeq: string } | undefined {
  const { kind, actor, subject, resource, requestId, details } = event;
  if (
    typeof kind !== 'string' || typeof actor !== 'string' || (subject !== null && typeof subject !== 'string') ||
    (resource !== null && typeof resource !== 'string') || (requestId !== null && typeof requestId !== 'string') ||
    typeof details !== 'object' || details === null || !(event.occurredAt instanceof Date)
  ) {
    return undefined;
  }
  // Written member by member in RFC 8785 key order: exactly what the general path writes for this shape.
  return {
    beforeSeq: `{"actor":${canonicalString(actor)},"details":${canonicalJson(details)},"kind":${canonicalString(kind)},"occurred_at":${canonicalString(event.occurredAt.toISOString())},"request_id":${nullableString(requestId)},"resource":${nullableString(resource)},"seq":`,
    afterSeq: `,"subject":${nullableString(subject)}}`,
  };
}

const nullableString = (value: string | null) => (value === null ? 'null' : canonicalString(value));

/** crypto.hash (Node ≥ 20.12): a one-shot digest, a fraction of createHash's cost on short inputs. */
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** hash = SHA-256(prev_hash ‖ canonical content), hex. */
export function chainHash(prevHash: string, content: string): string {
  // Hashing the concatenation digests exactly the same UTF-8 bytes as two updates would.
  return oneShotHash ? oneShotHash('sha256', prevHash + content, 'hex') : nodeCrypto.createHash('sha256').update(prevHash).update(content).digest('hex');
}

/** Details as they will read back from jsonb: undefined dropped, dates as ISO strings. */
export function normaliseDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  return details === undefined ? {} : (JSON.parse(JSON.stringify(details)) as Record<string, unknown>);
}
