import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../db/client.ts';
import { aliasKey, labelOf, type Alias } from '../domain/people.ts';

export interface NamedPerson {
  person_id: string;
  person_label: string;
}

/** Actors that are not people: the bot itself, and the CLI's `cli:<os user>`. */
const isPersonActor = (actor: string) => actor !== 'breakglass' && !actor.startsWith('cli:');

/**
 * The person an event is about, as the people register knows them when it is recorded: its
 * subject, or the actor when there is no subject and a person acted. Named only when exactly one
 * person holds that name now — an alias two people share (one's IAM user name, another's login)
 * names nobody rather than the wrong one — so a reader never has to trust a guess.
 */
export async function personOfEvent(tx: Tx, subject: string | null, actor: string): Promise<NamedPerson | undefined> {
  const name = subject ?? (isPersonActor(actor) ? actor : null);
  const key = name === null ? '' : aliasKey(name);
  if (!key) return undefined;
  // A person's own id is matched as breakglass wrote it (the primary key): every append runs this,
  // and lower(id) would read the whole people table each time. A folded id is an alias (kind person).
  const rows = rowsOf<{ id: string; name: string | null; kind: string | null; value: string | null; key: string | null }>(
    await tx.execute(sql`
      select p.id, p.name, a.kind, a.value, a.key
      from people p left join person_aliases a on a.person_id = p.id and a.replaced_at is null
      where p.id in (select person_id from person_aliases where key = ${key} and replaced_at is null union select id from people where id = ${name!.trim()})
      order by p.id, a.id`),
  );
  const ids = new Set(rows.map((row) => row.id));
  if (ids.size !== 1) return undefined;
  const aliases: Alias[] = rows.flatMap((row) => (row.kind !== null && row.value !== null && row.key !== null ? [{ kind: row.kind, value: row.value, key: row.key }] : []));
  const [{ id, name: personName }] = rows as [(typeof rows)[number]];
  return { person_id: id, person_label: labelOf({ id, name: personName, aliases }) };
}
