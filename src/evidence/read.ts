import { and, eq, gt, gte, lt, or, sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Db } from '../db/client.ts';
import { evidenceEvents } from '../db/schema.ts';
import type { StoredEvent } from './event.ts';

export interface EventFilter {
  from?: Date | undefined;
  /** Exclusive. */
  to?: Date | undefined;
  resource?: string | undefined;
  /** Matches the actor or the subject. */
  user?: string | undefined;
}

/**
 * Streams events in seq order, a page at a time by keyset, so memory stays flat over millions of
 * events and both drivers (PGlite has no server-side cursors) behave the same.
 */
export async function* readEvents(db: Db, filter: EventFilter = {}, pageSize = 5_000): AsyncGenerator<StoredEvent> {
  for await (const page of readEventPages(db, filter, pageSize)) yield* page;
}

/** A row as the page query returns it, the time as float8 epoch milliseconds (cheaper for the server to write than a timestamp). */
interface EventRow {
  seq: number | string | bigint;
  occurred_ms: number | string;
  kind: string;
  actor: string;
  subject: string | null;
  resource: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/**
 * readEvents a page (an array, in seq order) at a time, for callers that go through millions of
 * events (verify, export). Each page is one plain keyset query read without the ORM's per-row
 * mapping, and the next page is already being fetched while the caller works through this one.
 */
export async function* readEventPages(db: Db, filter: EventFilter = {}, pageSize = 5_000): AsyncGenerator<StoredEvent[]> {
  const conditions: SQL[] = [];
  if (filter.from) conditions.push(gte(evidenceEvents.occurredAt, filter.from));
  if (filter.to) conditions.push(lt(evidenceEvents.occurredAt, filter.to));
  if (filter.resource) conditions.push(eq(evidenceEvents.resource, filter.resource));
  if (filter.user) conditions.push(or(eq(evidenceEvents.actor, filter.user), eq(evidenceEvents.subject, filter.user))!);
  const fetchPage = async (after: number): Promise<StoredEvent[]> => {
    const result = await db.execute(sql`
      select seq, date_part('epoch', occurred_at) * 1000 as occurred_ms, kind, actor, subject, resource, request_id, details, prev_hash, hash
      from ${evidenceEvents}
      where ${and(gt(evidenceEvents.seq, after), ...conditions)}
      order by seq
      limit ${pageSize}`);
    return rowsOf<EventRow>(result).map(toStoredEvent);
  };
  let next: Promise<StoredEvent[]> | undefined = fetchPage(0);
  try {
    while (next) {
      const page: StoredEvent[] = await next;
      next = page.length === pageSize ? fetchPage(page[page.length - 1]!.seq) : undefined;
      // Awaited above on the next turn, or below if the caller stops early; never left unhandled.
      next?.catch(() => undefined);
      yield page;
    }
  } finally {
    await next?.catch(() => undefined);
  }
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    seq: Number(row.seq),
    // The column holds whole milliseconds (precision 3), so rounding undoes float8's last-bit error exactly.
    occurredAt: new Date(Math.round(Number(row.occurred_ms))),
    kind: row.kind,
    actor: row.actor,
    subject: row.subject,
    resource: row.resource,
    requestId: row.request_id,
    // Both drivers parse jsonb. Nothing more is parsed here: details rewritten as a JSON *string*
    // holding the same object must read back as that string, so verify sees the change.
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
