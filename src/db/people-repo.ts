import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Db, Tx } from './client.ts';
import { people, personAliases } from './schema.ts';
import type { Alias, KnownPerson, PersonUpdate } from '../domain/people.ts';

/** People holding any of these keys as a current alias, with their current aliases; oldest first. */
export async function peopleWithKeys(db: Db | Tx, keys: readonly string[]): Promise<KnownPerson[]> {
  const ids = new Set<string>();
  for (const chunk of chunks(keys)) {
    const rows = await db
      .selectDistinct({ id: personAliases.personId })
      .from(personAliases)
      .where(and(inArray(personAliases.key, chunk), isNull(personAliases.replacedAt)));
    for (const row of rows) ids.add(row.id);
  }
  return peopleByIds(db, [...ids]);
}

/** Bind parameters are limited (65,535 a statement): a review's thousands of names go in slices. */
function chunks<T>(values: readonly T[], size = 5_000): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < values.length; start += size) out.push(values.slice(start, start + size));
  return out;
}

export async function peopleByIds(db: Db | Tx, ids: readonly string[]): Promise<KnownPerson[]> {
  const rows: Array<typeof people.$inferSelect> = [];
  const aliases: Array<{ personId: string } & Alias> = [];
  for (const chunk of chunks(ids)) {
    rows.push(...(await db.select().from(people).where(inArray(people.id, chunk))));
    aliases.push(
      ...(await db
        .select({ personId: personAliases.personId, kind: personAliases.kind, value: personAliases.value, key: personAliases.key })
        .from(personAliases)
        .where(and(inArray(personAliases.personId, chunk), isNull(personAliases.replacedAt)))
        .orderBy(personAliases.id)),
    );
  }
  const byPerson = new Map<string, Alias[]>();
  for (const { personId, kind, value, key } of aliases) byPerson.set(personId, [...(byPerson.get(personId) ?? []), { kind, value, key }]);
  return rows
    .map((row) => ({
      id: row.id,
      name: row.name,
      nameSource: row.nameSource,
      manager: row.manager,
      statuses: row.statuses,
      status: row.status,
      deactivatedAt: row.deactivatedAt,
      firstSeenAt: row.firstSeenAt,
      aliases: byPerson.get(row.id) ?? [],
    }))
    .sort((a, b) => a.firstSeenAt.getTime() - b.firstSeenAt.getTime() || a.id.localeCompare(b.id));
}

/** Serialises learning people across replicas for the rest of the transaction: matching reads, then writes. */
export async function lockPeople(tx: Tx): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('breakglass:people'))`);
}

export async function insertPerson(tx: Tx, person: KnownPerson, now: Date): Promise<void> {
  const { aliases, ...row } = person;
  await tx.insert(people).values({ ...row, updatedAt: now });
  await addAliases(tx, person.id, aliases, now);
}

async function addAliases(tx: Tx, personId: string, aliases: readonly Alias[], now: Date): Promise<void> {
  if (aliases.length === 0) return;
  await tx.insert(personAliases).values(aliases.map((a) => ({ personId, kind: a.kind, value: a.value, key: a.key, firstSeenAt: now })));
}

export async function updatePerson(tx: Tx, personId: string, update: PersonUpdate, now: Date): Promise<void> {
  for (const old of update.replace) {
    await tx
      .update(personAliases)
      .set({ replacedAt: now })
      .where(and(eq(personAliases.personId, personId), eq(personAliases.kind, old.kind), eq(personAliases.key, old.key), isNull(personAliases.replacedAt)));
  }
  await addAliases(tx, personId, update.add, now);
  await tx
    .update(people)
    .set({
      ...(update.name ? { name: update.name.value, nameSource: update.name.source } : {}),
      ...(update.manager !== undefined ? { manager: update.manager } : {}),
      ...(update.statuses ? { statuses: update.statuses } : {}),
      ...(update.status ? { status: update.status } : {}),
      ...(update.deactivatedAt !== undefined ? { deactivatedAt: update.deactivatedAt } : {}),
      updatedAt: now,
    })
    .where(eq(people.id, personId));
}

/**
 * Folds `from` into `into`: its aliases move over (its id becomes one, so evidence naming it still
 * finds the person) and its row goes. Returns the aliases `into` gained.
 */
export async function mergePerson(tx: Tx, into: string, from: KnownPerson, now: Date): Promise<Alias[]> {
  await tx.update(personAliases).set({ personId: into }).where(eq(personAliases.personId, from.id));
  const idAlias = { kind: 'person', value: from.id, key: from.id.toLowerCase() };
  await addAliases(tx, into, [idAlias], now);
  await tx.delete(people).where(eq(people.id, from.id));
  return [...from.aliases, idAlias];
}
