import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { desc, ne } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { evidenceEvents } from '../db/schema.ts';
import type { AppDeps } from './deps.ts';

/** A heartbeat is due once nothing but checkpoints has been recorded for this long. */
export const HEARTBEAT_AFTER_MS = 3_600_000;

/** What the ledger says about the process that wrote it: which build, where. */
export interface BotIdentity {
  version: string;
  host: string;
}

export function botIdentity(): BotIdentity {
  // src/app and dist/app both sit two levels below the package's root.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return { version: typeof pkg.version === 'string' ? pkg.version : 'unknown', host: hostname() };
}

type Deps = Pick<AppDeps, 'db' | 'ledger' | 'clock'>;

/** `bot.started`: from here on the ledger vouches for the bot's uptime (readiness reads the gaps). */
export async function recordBotStarted(deps: Deps, identity: BotIdentity, facts: { database: 'pglite' | 'postgres'; configHash: string | null }): Promise<Date> {
  const event = await deps.db.transaction((tx) =>
    deps.ledger.append(tx, { kind: 'bot.started', actor: 'breakglass', details: { ...identity, database: facts.database, config_hash: facts.configHash } }),
  );
  return event.occurredAt;
}

/** `bot.stopping`: a clean stop, so the silence that follows is planned, not an outage. */
export async function recordBotStopping(deps: Deps, identity: BotIdentity, startedAt: Date): Promise<void> {
  await deps.db.transaction((tx) => deps.ledger.append(tx, { kind: 'bot.stopping', actor: 'breakglass', details: { ...identity, started_at: startedAt.toISOString() } }));
}

/**
 * Appends `bot.heartbeat` when nothing but checkpoints has been recorded for an hour, so that while
 * the bot runs no two events are more than about an hour apart. Checkpoints do not count (and do not
 * count heartbeats as growth, see take-checkpoint), so neither keeps the other going. Decided again
 * under the ledger's append lock: replicas on one database write one heartbeat between them.
 * Returns when the next one can be due.
 */
export async function heartbeatIfIdle(deps: Deps, host: string): Promise<Date> {
  const now = deps.clock.now();
  const glance = await newestActivity(deps.db);
  if (glance && now.getTime() - glance.getTime() < HEARTBEAT_AFTER_MS) return new Date(glance.getTime() + HEARTBEAT_AFTER_MS);
  return deps.db.transaction(async (tx) => {
    await deps.ledger.lockHead(tx);
    const newest = await newestActivity(tx);
    if (newest && now.getTime() - newest.getTime() < HEARTBEAT_AFTER_MS) return new Date(newest.getTime() + HEARTBEAT_AFTER_MS);
    const idleSince = newest ?? now;
    await deps.ledger.append(tx, { kind: 'bot.heartbeat', actor: 'breakglass', details: { host, idle_since: idleSince.toISOString() } });
    return new Date(now.getTime() + HEARTBEAT_AFTER_MS);
  });
}

async function newestActivity(db: Db | Tx): Promise<Date | undefined> {
  const [row] = await db
    .select({ at: evidenceEvents.occurredAt })
    .from(evidenceEvents)
    .where(ne(evidenceEvents.kind, 'ledger.checkpoint'))
    .orderBy(desc(evidenceEvents.seq))
    .limit(1);
  return row?.at;
}
