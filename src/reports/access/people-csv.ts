import { readDetails } from '../../domain/events.ts';
import { aliasKey } from '../../domain/people.ts';
import type { StoredEvent } from '../../ledger/event.ts';

export const PEOPLE_COLUMNS = ['id', 'name', 'aliases', 'manager', 'manager_id', 'status', 'first_seen_at', 'deactivated_at', 'evidence_seqs'] as const;

interface Person {
  id: string;
  name: string | null;
  /** Every alias ever held, first seen first; one per case-insensitive value. */
  aliases: Map<string, string>;
  manager: string | null;
  status: string;
  firstSeenAt: Date;
  deactivatedAt: string | null;
  seqs: number[];
}

/**
 * The people as the ledger's `person.seen` / `person.changed` events describe them at a moment,
 * replayed from the events alone (not the tables), so people.csv is evidence like every other
 * file of the pack and re-performable from evidence.jsonl and earlier events.
 */
export class PeopleHistory {
  private readonly people = new Map<string, Person>();
  private readonly events: StoredEvent[] = [];

  add(event: StoredEvent): void {
    if (event.kind === 'person.seen' || event.kind === 'person.changed') this.events.push(event);
  }

  /** One row per person known before `to`, in the order they were first seen. */
  rows(to: Date): Array<Record<(typeof PEOPLE_COLUMNS)[number], string | null>> {
    this.people.clear();
    for (const event of this.events) if (event.occurredAt < to) this.apply(event);
    const byAlias = new Map<string, string>();
    for (const person of this.people.values()) for (const key of person.aliases.keys()) byAlias.set(key, person.id);
    return [...this.people.values()].map((p) => ({
      id: p.id,
      name: p.name,
      aliases: [...p.aliases.values()].join('; '),
      manager: p.manager,
      manager_id: p.manager ? (byAlias.get(aliasKey(p.manager)) ?? null) : null,
      status: p.status,
      first_seen_at: p.firstSeenAt.toISOString(),
      deactivated_at: p.deactivatedAt,
      evidence_seqs: p.seqs.join(' '),
    }));
  }

  private apply(event: StoredEvent): void {
    const seen = event.kind === 'person.seen' ? readDetails('person.seen', event.details) : undefined;
    if (seen) {
      this.people.set(seen.person_id, {
        id: seen.person_id,
        name: seen.name,
        aliases: new Map(seen.aliases.map((a) => [aliasKey(a.value), a.value])),
        manager: seen.manager,
        status: seen.status,
        firstSeenAt: event.occurredAt,
        deactivatedAt: seen.deactivated_at,
        seqs: [event.seq],
      });
      return;
    }
    const changed = readDetails('person.changed', event.details);
    const person = changed && this.people.get(changed.person_id);
    if (!changed || !person) return;
    person.seqs.push(event.seq);
    for (const id of changed.merged_from ?? []) {
      const other = this.people.get(id);
      if (!other) continue;
      if (other.firstSeenAt < person.firstSeenAt) person.firstSeenAt = other.firstSeenAt;
      for (const [key, value] of other.aliases) if (!person.aliases.has(key)) person.aliases.set(key, value);
      person.seqs = [...new Set([...other.seqs, ...person.seqs])].sort((a, b) => a - b);
      this.people.delete(id);
    }
    for (const change of changed.changes) {
      if (change.field.startsWith('alias:') && change.to && !person.aliases.has(aliasKey(change.to))) person.aliases.set(aliasKey(change.to), change.to);
      else if (change.field === 'name') person.name = change.to;
      else if (change.field === 'manager') person.manager = change.to;
      else if (change.field === 'status' && change.to) person.status = change.to;
      else if (change.field === 'deactivated_at') person.deactivatedAt = change.to;
    }
  }
}
