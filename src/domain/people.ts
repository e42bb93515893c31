import { LEFT_STATUSES } from './review.ts';

/**
 * People as breakglass knows them: one stable id, and every name each system has for them. This
 * file decides what an observation of a person changes; the repository stores it with its event.
 */

/**
 * What system gives the alias. The single-valued kinds are the one name a system has for a person
 * at a time (a new one replaces the old, which still finds them); `email` (access.yml `people:`)
 * and `principal` (a provider's user name) are added alongside.
 */
export type AliasKind = 'slack' | 'slack_email' | 'okta' | 'okta_login' | 'okta_email' | 'email' | 'principal' | 'person';

const SINGLE_VALUED: ReadonlySet<string> = new Set(['slack', 'slack_email', 'okta', 'okta_login', 'okta_email']);

/** The directory a fact came from; a directory of record's name wins over a chat display name. */
export type PersonSystem = 'okta' | 'slack' | 'provider' | 'config';
const NAME_PRIORITY: Record<string, number> = { okta: 3, slack: 2, config: 1, provider: 0 };

export interface Alias {
  kind: string;
  value: string;
  /** The value lower-cased and trimmed: every lookup is case-insensitive. */
  key: string;
}

export interface KnownPerson {
  id: string;
  name: string | null;
  nameSource: string | null;
  manager: string | null;
  statuses: Record<string, string>;
  status: string;
  deactivatedAt: Date | null;
  firstSeenAt: Date;
  /** Current aliases only. */
  aliases: Alias[];
}

/** What one directory or provider said about one person at one moment. */
export interface PersonObservation {
  system: PersonSystem;
  aliases: Array<{ kind: AliasKind; value: string | null | undefined }>;
  name?: string | null | undefined;
  manager?: string | null | undefined;
  /** The system's own word (Slack: active/deactivated; Okta: ACTIVE, SUSPENDED, …). */
  status?: string | null | undefined;
  /** When the system deactivated the person, when it says. */
  deactivatedAt?: Date | undefined;
}

/** One field's change, as the `person.changed` event records it. Aliases are `alias:<kind>`. */
export interface PersonChange {
  field: string;
  from: string | null;
  to: string | null;
}

export interface PersonUpdate {
  name?: { value: string; source: string };
  manager?: string;
  statuses?: Record<string, string>;
  status?: string;
  deactivatedAt?: Date | null;
  add: Alias[];
  /** Current aliases the observation replaced: kept, marked replaced. */
  replace: Alias[];
  changes: PersonChange[];
}

/** Slack's user ids (U…, or W… on Enterprise Grid): anything else never came from Slack. */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

export const aliasKey = (value: string): string => value.trim().toLowerCase();

/** The observation's aliases, trimmed, without empties or repeats. */
export function observedAliases(observation: PersonObservation): Alias[] {
  const seen = new Set<string>();
  const out: Alias[] = [];
  for (const a of observation.aliases) {
    const value = a.value?.trim();
    if (!value || value.endsWith('.invalid')) continue;
    const key = aliasKey(value);
    if (seen.has(`${a.kind}\u0000${key}`)) continue;
    seen.add(`${a.kind}\u0000${key}`);
    out.push({ kind: a.kind, value, key });
  }
  return out;
}

/** `deactivated` when any directory says the person left, `active` when one says they are here. */
export function summaryStatus(statuses: Record<string, string>): string {
  const values = Object.values(statuses);
  if (values.some((s) => s === 'deactivated' || LEFT_STATUSES.has(s))) return 'deactivated';
  return values.length > 0 ? 'active' : 'unknown';
}

/** A new person from their first observation. */
export function newPerson(id: string, observation: PersonObservation, now: Date): KnownPerson {
  const statuses = observation.status ? { [observation.system]: observation.status } : {};
  const status = summaryStatus(statuses);
  return {
    id,
    name: observation.name?.trim() || null,
    nameSource: observation.name?.trim() ? observation.system : null,
    manager: observation.manager?.trim() || null,
    statuses,
    status,
    deactivatedAt: observation.deactivatedAt ?? (status === 'deactivated' ? now : null),
    firstSeenAt: now,
    aliases: dedupeAcrossKinds(observedAliases(observation), []),
  };
}

/** What the observation changes about a known person; no changes means nothing is written. */
export function planUpdate(person: KnownPerson, observation: PersonObservation, now: Date): PersonUpdate {
  const update: PersonUpdate = { add: [], replace: [], changes: [] };
  const observed = dedupeAcrossKinds(observedAliases(observation), person.aliases);
  for (const alias of observed) {
    if (person.aliases.some((a) => a.kind === alias.kind && a.key === alias.key)) continue;
    const replaced = SINGLE_VALUED.has(alias.kind) ? person.aliases.filter((a) => a.kind === alias.kind) : [];
    update.add.push(alias);
    update.replace.push(...replaced);
    update.changes.push({ field: `alias:${alias.kind}`, from: replaced[0]?.value ?? null, to: alias.value });
  }
  const name = observation.name?.trim();
  if (name && name !== person.name && (NAME_PRIORITY[observation.system] ?? 0) >= (NAME_PRIORITY[person.nameSource ?? ''] ?? -1)) {
    update.name = { value: name, source: observation.system };
    update.changes.push({ field: 'name', from: person.name, to: name });
  }
  const manager = observation.manager?.trim();
  if (manager && manager !== person.manager) {
    update.manager = manager;
    update.changes.push({ field: 'manager', from: person.manager, to: manager });
  }
  planStatus(person, observation, now, update);
  return update;
}

function planStatus(person: KnownPerson, observation: PersonObservation, now: Date, update: PersonUpdate): void {
  const said = observation.status?.trim();
  if (said && person.statuses[observation.system] !== said) {
    update.statuses = { ...person.statuses, [observation.system]: said };
    update.changes.push({ field: `status:${observation.system}`, from: person.statuses[observation.system] ?? null, to: said });
  }
  const status = summaryStatus(update.statuses ?? person.statuses);
  if (status !== person.status) {
    update.status = status;
    update.changes.push({ field: 'status', from: person.status, to: status });
  }
  const deactivatedAt = status === 'deactivated' ? (person.deactivatedAt ?? observation.deactivatedAt ?? now) : status === 'active' ? null : person.deactivatedAt;
  if ((deactivatedAt?.getTime() ?? null) !== (person.deactivatedAt?.getTime() ?? null)) {
    update.deactivatedAt = deactivatedAt;
    update.changes.push({ field: 'deactivated_at', from: person.deactivatedAt?.toISOString() ?? null, to: deactivatedAt?.toISOString() ?? null });
  }
}

/**
 * A provider's principal or a configured email that is already one of the person's names (often
 * their email) is not recorded twice; a directory's own name always is, so its changes show.
 */
function dedupeAcrossKinds(observed: Alias[], known: Alias[]): Alias[] {
  const keys = new Set(known.map((a) => a.key));
  const out: Alias[] = [];
  for (const alias of [...observed.filter((a) => SINGLE_VALUED.has(a.kind)), ...observed.filter((a) => !SINGLE_VALUED.has(a.kind))]) {
    if (!SINGLE_VALUED.has(alias.kind) && (keys.has(alias.key) || out.some((a) => a.key === alias.key))) continue;
    out.push(alias);
  }
  return out;
}

const EMAIL_KINDS = ['slack_email', 'okta_email', 'okta_login', 'email', 'principal'];

/** `Alice Example <alice@example.com>`, or whatever is known: what a reader recognises. */
export function labelOf(person: { id: string; name: string | null; aliases: readonly Alias[] }): string {
  const email = EMAIL_KINDS.map((kind) => person.aliases.find((a) => a.kind === kind && a.value.includes('@'))).find(Boolean)?.value;
  const other = email ?? person.aliases.find((a) => a.kind !== 'person')?.value;
  if (person.name && other) return `${person.name} <${other}>`;
  return person.name ?? other ?? person.id;
}
