import { randomBytes } from 'node:crypto';
import type { Db, Tx } from '../db/client.ts';
import { insertPerson, lockPeople, mergePerson, peopleWithKeys, updatePerson } from '../db/people-repo.ts';
import {
  labelOf,
  newPerson,
  observedAliases,
  planUpdate,
  summaryStatus,
  type KnownPerson,
  type PersonObservation,
} from '../domain/people.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { Logger } from '../logger.ts';
import type { Clock } from '../ports.ts';

export type { PersonObservation } from '../domain/people.ts';

const BATCH = 100;

type Deps = { db: Db; ledger: Ledger; clock: Clock; logger: Logger };

/** Where breakglass was looking when it saw the person: `request`, `decision`, `deactivation`, `review`, `listing`, … */
export type SeenIn = string;

/**
 * Records what directories and providers said about people: a person not known before gets an id
 * and a `person.seen` event, a known one whose names, manager or status changed a `person.changed`
 * event, each in the transaction that writes the rows. Observations that change nothing write
 * nothing and cost one read for the whole batch, so a drift pass over every listing stays cheap.
 * Never throws: knowing people better must not stop a grant, a revoke or an offboarding; a failure
 * is logged and the next sighting tries again.
 */
export async function learnPeople(deps: Deps, seenIn: SeenIn, observations: readonly PersonObservation[]): Promise<void> {
  const useful = observations.filter((o) => observedAliases(o).length > 0);
  if (useful.length === 0) return;
  try {
    const known = byKey(await peopleWithKeys(deps.db, [...new Set(useful.flatMap((o) => observedAliases(o).map((a) => a.key)))]));
    const now = deps.clock.now();
    const changing = useful.filter((o) => wouldChange(known, o, now));
    // A first review of thousands of people is a few hundred transactions, not thousands.
    for (let start = 0; start < changing.length; start += BATCH) {
      await deps.db.transaction(async (tx) => {
        await lockPeople(tx);
        for (const observation of changing.slice(start, start + BATCH)) await learnOne(tx, deps, seenIn, observation);
      });
    }
  } catch (error) {
    deps.logger.warn({ err: error instanceof Error ? error.message : String(error), seenIn }, 'could not record what was seen of a person; the next sighting tries again');
  }
}

/** Known people by each of their current alias keys. */
function byKey(known: readonly KnownPerson[]): Map<string, Set<KnownPerson>> {
  const index = new Map<string, Set<KnownPerson>>();
  for (const person of known) for (const alias of person.aliases) index.set(alias.key, (index.get(alias.key) ?? new Set()).add(person));
  return index;
}

function wouldChange(known: Map<string, Set<KnownPerson>>, observation: PersonObservation, now: Date): boolean {
  const found = new Set(observedAliases(observation).flatMap((a) => [...(known.get(a.key) ?? [])]));
  const [only] = found;
  return found.size !== 1 || planUpdate(only!, observation, now).changes.length > 0;
}

/** Learns one observation inside a transaction holding the people lock. */
export async function learnOne(tx: Tx, deps: Pick<Deps, 'ledger' | 'clock'>, seenIn: SeenIn, observation: PersonObservation): Promise<KnownPerson> {
  const now = deps.clock.now();
  const found = await peopleWithKeys(tx, observedAliases(observation).map((a) => a.key));
  const common = { source: observation.system, seen_in: seenIn };
  if (found.length === 0) {
    const person = newPerson(`P-${randomBytes(6).toString('hex')}`, observation, now);
    await insertPerson(tx, person, now);
    await deps.ledger.append(tx, {
      kind: 'person.seen',
      actor: 'breakglass',
      subject: person.id,
      details: {
        person_id: person.id,
        label: labelOf(person),
        ...common,
        aliases: person.aliases.map(({ kind, value }) => ({ kind, value })),
        name: person.name,
        manager: person.manager,
        status: person.status,
        deactivated_at: person.deactivatedAt?.toISOString() ?? null,
      },
    });
    return person;
  }
  const [survivor, ...others] = found as [KnownPerson, ...KnownPerson[]];
  let person = survivor;
  for (const other of others) person = foldIn(person, other, await mergePerson(tx, survivor.id, other, now));
  const update = planUpdate(person, observation, now);
  const merged = others.length > 0 ? mergedFields(survivor, person) : {};
  const changes = [...(merged.changes ?? []), ...update.changes];
  if (changes.length === 0) return person;
  await updatePerson(tx, person.id, { ...merged.update, ...update, statuses: update.statuses ?? merged.update?.statuses, status: update.status ?? merged.update?.status }, now);
  const after: KnownPerson = {
    ...person,
    aliases: [...person.aliases.filter((a) => !update.replace.some((r) => r.kind === a.kind && r.key === a.key)), ...update.add],
    name: update.name?.value ?? person.name,
  };
  await deps.ledger.append(tx, {
    kind: 'person.changed',
    actor: 'breakglass',
    subject: person.id,
    details: { person_id: person.id, label: labelOf(after), ...common, changes, ...(others.length > 0 ? { merged_from: others.map((o) => o.id) } : {}) },
  });
  return after;
}

/** The survivor of a merge as it now stands: the other's aliases, and what the survivor did not know. */
function foldIn(person: KnownPerson, other: KnownPerson, gained: KnownPerson['aliases']): KnownPerson {
  const statuses = { ...other.statuses, ...person.statuses };
  return {
    ...person,
    aliases: [...person.aliases, ...gained],
    name: person.name ?? other.name,
    nameSource: person.name ? person.nameSource : other.nameSource,
    manager: person.manager ?? other.manager,
    statuses,
    status: summaryStatus(statuses),
    deactivatedAt: person.deactivatedAt ?? other.deactivatedAt,
  };
}

/** The row fields a merge changed on the survivor, and those changes as evidence. */
function mergedFields(before: KnownPerson, after: KnownPerson): { update?: Partial<Parameters<typeof updatePerson>[2]>; changes?: Array<{ field: string; from: string | null; to: string | null }> } {
  const changes: Array<{ field: string; from: string | null; to: string | null }> = [];
  const update: Partial<Parameters<typeof updatePerson>[2]> = {};
  if (after.name !== before.name && after.name) {
    update.name = { value: after.name, source: after.nameSource ?? 'provider' };
    changes.push({ field: 'name', from: before.name, to: after.name });
  }
  if (after.manager !== before.manager && after.manager) {
    update.manager = after.manager;
    changes.push({ field: 'manager', from: before.manager, to: after.manager });
  }
  if (JSON.stringify(after.statuses) !== JSON.stringify(before.statuses)) update.statuses = after.statuses;
  const status = summaryStatus(after.statuses);
  if (status !== before.status) {
    update.status = status;
    changes.push({ field: 'status', from: before.status, to: status });
  }
  if (after.deactivatedAt && !before.deactivatedAt) update.deactivatedAt = after.deactivatedAt;
  for (const alias of after.aliases.slice(before.aliases.length)) changes.push({ field: `alias:${alias.kind}`, from: null, to: alias.value });
  return { update, changes };
}
