import { and, asc, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { people, personAliases } from '../../db/schema.ts';
import { aliasKey, labelOf } from '../../domain/people.ts';

export interface PersonRef {
  id: string;
  label: string;
  /** Every name the person has had anywhere (current and replaced, ids folded into theirs), without their own id. */
  aliases: string[];
}

/**
 * The person any of whose aliases equals `alias` (case-insensitive), or null when nobody known has
 * it. Their own id finds them too. A current alias wins over one replaced since (an email given up
 * and later given to someone else finds the new holder).
 */
export async function findPerson(db: Db, alias: string): Promise<PersonRef | null> {
  const key = aliasKey(alias);
  if (!key) return null;
  const [byId] = await db.select({ id: people.id }).from(people).where(eq(sql`lower(${people.id})`, key)).limit(1);
  const [byAlias] = byId
    ? [byId]
    : await db
        .select({ id: personAliases.personId })
        .from(personAliases)
        .where(eq(personAliases.key, key))
        .orderBy(sql`${personAliases.replacedAt} is null desc`, desc(personAliases.replacedAt))
        .limit(1);
  return byAlias ? personById(db, byAlias.id) : null;
}

/** A person by their breakglass id, with every alias they have had; null when there is none. */
export async function personById(db: Db, id: string): Promise<PersonRef | null> {
  const [person] = await db.select({ id: people.id, name: people.name }).from(people).where(eq(people.id, id));
  if (!person) return null;
  const aliases = await db
    .select({ kind: personAliases.kind, value: personAliases.value, key: personAliases.key })
    .from(personAliases)
    .where(eq(personAliases.personId, id))
    .orderBy(asc(personAliases.id));
  const current = await db
    .select({ kind: personAliases.kind, value: personAliases.value, key: personAliases.key })
    .from(personAliases)
    .where(and(eq(personAliases.personId, id), isNull(personAliases.replacedAt)))
    .orderBy(asc(personAliases.id));
  return { id: person.id, label: labelOf({ ...person, aliases: current }), aliases: firstOfEachKey(aliases) };
}

/** One value per alias key, as first seen: `Alice@Example.com` and `alice@example.com` are one alias. */
function firstOfEachKey(aliases: ReadonlyArray<{ key: string; value: string }>): string[] {
  const seen = new Set<string>();
  return aliases.filter((a) => !seen.has(a.key) && seen.add(a.key)).map((a) => a.value);
}
