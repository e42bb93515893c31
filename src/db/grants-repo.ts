import { and, eq, gt, inArray } from 'drizzle-orm';
import type { Clock, GrantTarget } from '../ports.ts';
import type { Db, Tx } from './client.ts';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import { grants, HELD_GRANT_STATES, LIVE_GRANT_STATES, RUNNING_GRANT_STATES, type GrantState } from './schema.ts';

type Grant = typeof grants.$inferSelect;

/**
 * How long a process owns a grant it is applying before the recovery worker may finish it. A live
 * process renews the lease while its provider call runs (`whileLeased`), so this only bounds how
 * long a grant left by a killed process waits for the other replicas: short, so a crash never holds
 * access past expiry long. A bot that starts takes it over at once (lease-holder.ts).
 */
export const GRANT_LEASE_MS = 15_000;

/** A grant row in `granting`, leased to this process so the recovery worker leaves it alone for now. */
export async function insertGrant(
  tx: Tx,
  input: {
    requestId: number;
    ask: { requester: string; resource: string; durationMs: number; email: string; principal?: string | undefined };
    target: GrantTarget;
    emergency: boolean;
    now: Date;
    /** This process's lease-holder key, when it has one (AppDeps.leaseHolder). */
    holder?: number | undefined;
  },
): Promise<number> {
  const [grant] = await tx
    .insert(grants)
    .values({
      requestId: input.requestId,
      person: input.ask.requester,
      email: input.ask.email,
      principal: input.ask.principal ?? null,
      resource: input.ask.resource,
      target: input.target,
      state: 'granting',
      emergency: input.emergency,
      endsAt: new Date(input.now.getTime() + input.ask.durationMs),
      nextAttemptAt: new Date(input.now.getTime() + GRANT_LEASE_MS),
      leaseHolder: input.holder ?? null,
      createdAt: input.now,
    })
    .returning({ id: grants.id });
  return grant!.id;
}

/** One person's other live grants on a resource: their access must outlast this grant's end. */
export async function overlappingGrants(db: Db | Tx, person: string, resource: string, exceptId: number) {
  const rows = await db
    .select({ id: grants.id, endsAt: grants.endsAt, state: grants.state })
    .from(grants)
    .where(and(eq(grants.person, person), eq(grants.resource, resource), inArray(grants.state, LIVE_GRANT_STATES)));
  return rows.filter((row) => row.id !== exceptId);
}

/** Whether the provider may hold the grant's access (it is live, or being revoked and not yet confirmed gone). */
export function isHeld(grant: Pick<Grant, 'state'>): boolean {
  return (HELD_GRANT_STATES as readonly string[]).includes(grant.state);
}

/**
 * Whether the access is running: active (or being given more time) and its end has not come.
 * Only running access can be extended or ended early; ending it early moves the end to now.
 */
export function isRunning(grant: Pick<Grant, 'state' | 'endsAt'>, now: Date): boolean {
  return (RUNNING_GRANT_STATES as readonly string[]).includes(grant.state) && grant.endsAt > now;
}

/**
 * Moves an active grant to `extending`, leased to this process while it applies the approved
 * extension `requestId`: the revoke worker leaves an extending grant alone, so the provider call
 * can never land after a revoke. False when the grant is not active (another extension is being
 * applied, or the access has ended).
 */
export async function beginExtension(tx: Tx, grantId: number, requestId: number, now: Date, holder?: number): Promise<boolean> {
  const [row] = await tx
    .update(grants)
    .set({ state: 'extending', extensionRequestId: requestId, nextAttemptAt: new Date(now.getTime() + GRANT_LEASE_MS), leaseHolder: holder ?? null })
    .where(and(eq(grants.id, grantId), eq(grants.state, 'active'), gt(grants.endsAt, now)))
    .returning({ id: grants.id });
  return Boolean(row);
}

/**
 * Runs `work` (a provider call) while keeping this process's lease on the grant: every third of
 * `leaseMs` the lease moves forward, but only while it is still ours (the row still holds the
 * value we set, and that value has not passed; a lapsed lease may already be another worker's).
 * However slow the provider, a live process keeps its grant; a killed one stops renewing, and the
 * grant is free for recovery within `leaseMs`. A failed renewal only lets the lease run out.
 */
export async function whileLeased<T>(
  db: Db,
  clock: Clock,
  lease: { grantId: number; state: 'granting' | 'checking' | 'extending' | 'revoking'; until: Date | null; leaseMs: number },
  work: () => Promise<T>,
): Promise<T> {
  let held = lease.until;
  let renewing: Promise<unknown> = Promise.resolve();
  const renew = async () => {
    const now = clock.now();
    if (!held || held <= now) return void (held = null);
    const next = new Date(now.getTime() + lease.leaseMs);
    const [row] = await db
      .update(grants)
      .set({ nextAttemptAt: next })
      .where(and(eq(grants.id, lease.grantId), eq(grants.state, lease.state), eq(grants.nextAttemptAt, held), gt(grants.nextAttemptAt, now)))
      .returning({ id: grants.id });
    held = row ? next : null;
  };
  const timer = setInterval(() => {
    renewing = renewing.then(renew).catch(() => (held = null));
  }, Math.max(500, Math.floor(lease.leaseMs / 3)));
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await renewing;
  }
}

/**
 * Compare-and-swap on one grant: `changes` apply only while it is still `from`, since another
 * process (or a click) may have moved it meanwhile. Whether they applied.
 */
export async function updateGrantIf(tx: Tx, grantId: number, from: GrantState, changes: PgUpdateSetSource<typeof grants>): Promise<boolean> {
  const [updated] = await tx.update(grants).set(changes).where(and(eq(grants.id, grantId), eq(grants.state, from))).returning({ id: grants.id });
  return updated !== undefined;
}
