import { asc } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { inventoryListings } from '../../db/schema.ts';
import { findPerson } from './person-aliases.ts';
import { readEventPages } from '../../ledger/read.ts';
import { TimelineBuilder, type AccessTimeline, type ListingSpan } from './timeline.ts';

/** The spans the access inventory's listings covered, oldest first. */
export async function readListingSpans(db: Db): Promise<ListingSpan[]> {
  const rows = await db.select().from(inventoryListings).orderBy(asc(inventoryListings.coveredFrom), asc(inventoryListings.id));
  return rows.map((r) => ({ resource: r.resource, from: r.coveredFrom, to: r.coveredTo, holders: Object.keys(r.holders) }));
}

/**
 * The whole ledger folded into the access timeline, each person named by the people directory
 * (findPerson, asked once per person the ledger links) where it knows them.
 */
export async function readTimeline(db: Db, builder = new TimelineBuilder()): Promise<AccessTimeline> {
  for await (const page of readEventPages(db)) for (const event of page) builder.add(event);
  return finishTimeline(db, builder);
}

/** Finishes a builder the caller fed (the audit pack reads the ledger once for everything). */
export async function finishTimeline(db: Db, builder: TimelineBuilder): Promise<AccessTimeline> {
  const known = new Map<string, { id: string; label: string } | null>();
  const people = async (aliases: string[]) => {
    for (const alias of aliases) {
      const found = await findPerson(db, alias);
      if (found) return { id: found.id, label: found.label };
    }
    return null;
  };
  const spans = await readListingSpans(db);
  const draft = builder.finish(spans);
  for (const interval of draft.intervals) {
    if (!known.has(interval.personKey)) known.set(interval.personKey, await people(interval.person.aliases));
  }
  if ([...known.values()].every((p) => p === null)) return draft;
  return builder.finish(spans, (aliases) => known.get(builder.graph.keyOf(aliases[0] ?? '')) ?? null);
}

/**
 * The person `alias` names: the people directory's record when it has one, and every alias the
 * ledger links to any of theirs (case-insensitive), lower-cased, for matching answer rows.
 */
export async function resolveUser(db: Db, timeline: AccessTimeline, alias: string): Promise<{ aliases: Set<string>; person: { id: string; label: string } | null }> {
  const found = await findPerson(db, alias);
  const names = [alias, ...(found?.aliases ?? [])];
  const aliases = new Set(names.flatMap((name) => timeline.graph.aliasesOf(name).map((a) => a.toLowerCase())));
  for (const name of names) aliases.add(name.toLowerCase());
  return { aliases, person: found ? { id: found.id, label: found.label } : null };
}
