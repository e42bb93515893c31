/**
 * Fills the evidence ledger with a large, *valid* chain fast: the hashes are computed here with
 * the product's own canonicalContent/chainHash (so verifyLedger must accept every event), and the
 * rows go in by COPY (postgres.js `COPY … FROM STDIN`, PGlite `COPY … FROM '/dev/blob'`).
 * Inserting is all the append-only triggers allow, and all this does.
 */
import type { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { Sql } from 'postgres';
import type { Database } from '../../src/db/client.ts';
import { canonicalContent, chainHash, GENESIS_HASH, type StoredEvent } from '../../src/ledger/event.ts';

const COLUMNS = 'seq, occurred_at, kind, actor, subject, resource, request_id, details, prev_hash, hash';
/** First event's time; one event every 30 s after it (1M events span about a year). */
export const FILL_START = Date.parse('2025-01-01T00:00:00.000Z');
export const FILL_STEP_MS = 30_000;

const RESOURCES = ['prod-db', 'prod-admin', 'billing-db', 'k8s-prod', 'aws-prod-readonly'];
const REASONS = [
  'INC-1234 replication lag on primary',
  'deploy hotfix for checkout, "urgent": see INC-2001',
  'rotate credentials after vendor notice\nsecond line of the reason',
  'investigate 5xx spike, ticket SEC-77',
];

/** The n-th synthetic event (1-based), shaped like what the bot records for a request's life. */
export function syntheticEvent(seq: number): Omit<StoredEvent, 'prevHash' | 'hash'> {
  const request = Math.ceil(seq / 4);
  const person = `U0P${String(request % 500).padStart(4, '0')}`;
  const approver = `U0A${String(request % 20).padStart(3, '0')}`;
  const resource = RESOURCES[request % RESOURCES.length]!;
  const occurredAt = new Date(FILL_START + (seq - 1) * FILL_STEP_MS);
  const base = { seq, occurredAt, subject: person, resource, requestId: String(request) };
  switch (seq % 4) {
    case 1:
      return {
        ...base,
        kind: 'request.created',
        actor: person,
        details: { request_kind: 'standard', duration: '2h', duration_ms: 7_200_000, reason: REASONS[request % REASONS.length]!, ticket: 'INC-1234', extends_grant_id: null, approvers: [approver, 'U0SEC01'], approvals_required: 1, config_hash: 'a'.repeat(64) },
      };
    case 2:
      return { ...base, kind: 'request.approved', actor: approver, details: { approvals: [approver], final: true, config_hash: 'a'.repeat(64) } };
    case 3:
      return { ...base, kind: 'grant.applied', actor: 'breakglass', details: { grant_id: request, target: { kind: 'okta_group', groupId: '00gPRODDB' }, starts_at: occurredAt.toISOString(), ends_at: new Date(occurredAt.getTime() + 7_200_000).toISOString() } };
    default:
      return {
        ...base,
        kind: 'grant.revoked',
        actor: 'breakglass',
        details: { grant_id: request, reason: 'expired', ends_at: occurredAt.toISOString(), revoked_at: new Date(occurredAt.getTime() + 812).toISOString(), late_by_ms: 812, attempts: 1, provider_call: 'revoked' },
      };
  }
}

/** COPY text format: backslash, tab, newline and carriage return escaped; \N is NULL. */
function copyField(value: string | null): string {
  if (value === null) return '\\N';
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

function* copyLines(from: number, to: number, prev: { hash: string }): Generator<string> {
  for (let seq = from; seq <= to; seq++) {
    const event = syntheticEvent(seq);
    const hash = chainHash(prev.hash, canonicalContent(event));
    yield `${[String(seq), event.occurredAt.toISOString(), event.kind, event.actor, event.subject, event.resource, event.requestId, JSON.stringify(event.details), prev.hash, hash].map(copyField).join('\t')}\n`;
    prev.hash = hash;
  }
}

export interface FillResult {
  count: number;
  headHash: string;
  seconds: number;
}

/** Appends events `existing+1 … existing+count` after the current head (pass the head of a non-empty ledger). */
export async function fillLedger(
  database: Database,
  count: number,
  options: { onProgress?: (done: number) => void; after?: { count: number; hash: string } } = {},
): Promise<FillResult> {
  const started = performance.now();
  const prev = { hash: options.after?.hash ?? GENESIS_HASH };
  const first = (options.after?.count ?? 0) + 1;
  const last = first + count - 1;
  const CHUNK = 50_000;
  const client = (database.db as unknown as { $client: Sql | PGlite }).$client;
  for (let from = first; from <= last; from += CHUNK) {
    const to = Math.min(last, from + CHUNK - 1);
    if (database.kind === 'postgres') {
      const writable = await (client as Sql).unsafe(`copy evidence_events (${COLUMNS}) from stdin`).writable();
      await new Promise<void>((resolve, reject) => {
        writable.on('error', reject);
        writable.on('finish', resolve);
        const lines = copyLines(from, to, prev);
        // Batches of lines per write keep the per-call overhead low; backpressure is honoured.
        const pump = () => {
          for (;;) {
            const batch: string[] = [];
            for (let i = 0; i < 500; i++) {
              const next = lines.next();
              if (next.done) break;
              batch.push(next.value);
            }
            if (batch.length === 0) {
              writable.end();
              return;
            }
            if (!writable.write(batch.join(''))) {
              writable.once('drain', pump);
              return;
            }
          }
        };
        pump();
      });
    } else {
      const text = [...copyLines(from, to, prev)].join('');
      await (client as PGlite).query(`copy evidence_events (${COLUMNS}) from '/dev/blob'`, [], { blob: new Blob([text]) });
    }
    options.onProgress?.(to - first + 1);
  }
  // Rows copied in bypass Ledger.append, so the head it extends is moved to the newest of them.
  await database.db.execute(sql`update ledger_head set (seq, hash, prev_hash) = (select seq, hash, prev_hash from evidence_events order by seq desc limit 1)`);
  return { count, headHash: prev.hash, seconds: (performance.now() - started) / 1000 };
}
