import { and, asc, eq, gt, gte, lt, or, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
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
  const conditions: SQL[] = [];
  if (filter.from) conditions.push(gte(evidenceEvents.occurredAt, filter.from));
  if (filter.to) conditions.push(lt(evidenceEvents.occurredAt, filter.to));
  if (filter.resource) conditions.push(eq(evidenceEvents.resource, filter.resource));
  if (filter.user) conditions.push(or(eq(evidenceEvents.actor, filter.user), eq(evidenceEvents.subject, filter.user))!);
  let after = 0;
  for (;;) {
    const page = await db
      .select()
      .from(evidenceEvents)
      .where(and(gt(evidenceEvents.seq, after), ...conditions))
      .orderBy(asc(evidenceEvents.seq))
      .limit(pageSize);
    for (const row of page) yield row;
    if (page.length < pageSize) return;
    after = page.at(-1)!.seq;
  }
}
