import { and, asc, desc, eq, lte, sql } from 'drizzle-orm';
import { parseAccessConfig, type LoadedAccessConfig } from '../../config/access.ts';
import type { PolicySource } from '../../config/policy-source.ts';
import type { Db } from '../../db/client.ts';
import { evidenceEvents, policyVersions } from '../../db/schema.ts';

/** One access.yml version as the ledger knows it: when it took effect, its hash, its text if kept. */
export interface PolicyVersion {
  hash: string;
  /** When breakglass first ran under it (its `config.loaded` event), and that event's seq. */
  loadedAt: Date;
  seq: number;
  path: string;
  source: PolicySource | undefined;
  /** Undefined for versions recorded before breakglass kept policy texts: only the hash is known. */
  text: string | undefined;
}

/** The version in force at `at`: the newest `config.loaded` at or before it. Undefined before the first. */
export async function policyInForce(db: Db, at: Date): Promise<PolicyVersion | undefined> {
  const [event] = await loadedEvents(db).where(and(eq(evidenceEvents.kind, 'config.loaded'), lte(evidenceEvents.occurredAt, at))).orderBy(desc(evidenceEvents.seq)).limit(1);
  return event ? withText(db, event) : undefined;
}

/** The version recorded last (by any replica): the one every replica runs under. */
export async function newestPolicyVersion(db: Db): Promise<PolicyVersion | undefined> {
  const [event] = await loadedEvents(db).where(eq(evidenceEvents.kind, 'config.loaded')).orderBy(desc(evidenceEvents.seq)).limit(1);
  return event ? withText(db, event) : undefined;
}

/**
 * A version named by a hash (or a unique prefix of at least 8 hex digits) or by an instant (the
 * version in force then). Throws a message a person can act on when it names none or several.
 */
export async function findPolicyVersion(db: Db, ref: string): Promise<PolicyVersion> {
  if (/^[0-9a-f]{8,64}$/i.test(ref)) {
    const events = await loadedEvents(db)
      .where(and(eq(evidenceEvents.kind, 'config.loaded'), sql`${evidenceEvents.details}->>'config_hash' like ${`${ref.toLowerCase()}%`}`))
      .orderBy(asc(evidenceEvents.seq));
    const hashes = new Set(events.map((e) => hashOf(e.details)));
    if (hashes.size > 1) throw new Error(`"${ref}" matches ${hashes.size} policy versions; give more of the hash.`);
    if (events[0]) return withText(db, events[0]);
    throw new Error(`No policy version with a hash starting "${ref}" was ever loaded (see \`npx breakglass policy --history\`).`);
  }
  const at = new Date(ref);
  if (Number.isNaN(at.getTime())) throw new Error(`"${ref}" is neither a policy hash (8+ hex digits) nor a time like 2026-03-04T08:00Z.`);
  const version = await policyInForce(db, at);
  if (!version) throw new Error(`No policy was in force at ${at.toISOString()}: the first config.loaded event is later.`);
  return version;
}

/** Every version in the order it took effect (a version loaded again later appears again). */
export async function policyVersionsLoaded(db: Db): Promise<PolicyVersion[]> {
  const events = await loadedEvents(db).where(eq(evidenceEvents.kind, 'config.loaded')).orderBy(asc(evidenceEvents.seq));
  return Promise.all(events.map((e) => withText(db, e)));
}

/** The version as a loaded policy, ready to render; throws when its text was never kept. */
export function loadedPolicy(version: PolicyVersion): LoadedAccessConfig {
  if (version.text === undefined) {
    throw new Error(
      `The policy in force from ${version.loadedAt.toISOString()} has SHA-256 ${version.hash}, but its text was recorded before breakglass kept policy texts, so it cannot be rendered. If you still have that access.yml, \`sha256sum\` tells whether it is the same version.`,
    );
  }
  return { config: parseAccessConfig(version.text, version.path), hash: version.hash, path: version.path, text: version.text };
}

type LoadedEvent = { seq: number; occurredAt: Date; subject: string | null; details: Record<string, unknown> };

function loadedEvents(db: Db) {
  return db.select({ seq: evidenceEvents.seq, occurredAt: evidenceEvents.occurredAt, subject: evidenceEvents.subject, details: evidenceEvents.details }).from(evidenceEvents).$dynamic();
}

function hashOf(details: Record<string, unknown>): string {
  return String(details['config_hash'] ?? '');
}

async function withText(db: Db, event: LoadedEvent): Promise<PolicyVersion> {
  const hash = hashOf(event.details);
  const [kept] = await db.select({ text: policyVersions.text }).from(policyVersions).where(eq(policyVersions.hash, hash));
  return { hash, loadedAt: event.occurredAt, seq: event.seq, path: event.subject ?? 'access.yml', source: event.details['source'] as PolicySource | undefined, text: kept?.text };
}
