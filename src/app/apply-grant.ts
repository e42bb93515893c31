import { and, eq } from 'drizzle-orm';
import { GRANT_LEASE_MS, whileLeased } from '../db/grants-repo.ts';
import { enqueue } from '../db/outbox.ts';
import { grants } from '../db/schema.ts';
import { isDatabaseUnreachable } from '../db/unreachable.ts';
import type { HumanTask } from '../ports.ts';
import type { AppDeps } from './deps.ts';
import { awaitHuman } from './human-tasks.ts';
import { describeLeft, leaverStatus } from './leavers.ts';
import { grantSpecUntil } from './people.ts';

/**
 * `granting`: the database went away before the outcome was recorded. The grant stays `granting`
 * (or `extending`) under its lease, and the recovery worker applies it again (idempotently) and
 * records it once the database is back, so the provider never keeps a change without its evidence.
 * `awaiting_owners`: a system granted by hand; it turns active when one of its owners confirms.
 */
export type ApplyResult = { state: 'active' } | { state: 'failed'; error: string } | { state: 'granting' } | { state: 'awaiting_owners'; system: string };

/** Runs a grant or an extension; a database outage mid-way leaves it to the recovery worker. */
export async function finishedLaterIfDatabaseDown(deps: AppDeps, grantId: number, work: () => Promise<ApplyResult>): Promise<ApplyResult> {
  try {
    return await work();
  } catch (error) {
    if (!isDatabaseUnreachable(error)) throw error;
    deps.logger.warn({ grantId, err: error instanceof Error ? error.message : String(error) }, 'database unreachable while granting; the recovery worker finishes the grant');
    return { state: 'granting' };
  }
}

/**
 * Calls the provider outside any transaction, then commits the outcome with its evidence: a new
 * grant moves granting → active (or failed, after cleaning up at the provider). Extensions are
 * extend-grant.ts.
 */
export function applyGrant(deps: AppDeps, grantId: number): Promise<ApplyResult> {
  return finishedLaterIfDatabaseDown(deps, grantId, () => applyGrantOnce(deps, grantId));
}

async function applyGrantOnce(deps: AppDeps, grantId: number): Promise<ApplyResult> {
  const [grant] = await deps.db.select().from(grants).where(eq(grants.id, grantId));
  if (!grant) return { state: 'failed', error: `grant ${grantId} not found` };
  if (grant.state !== 'granting') return grant.state === 'active' ? { state: 'active' } : { state: 'failed', error: grant.lastError ?? grant.state };

  const { spec, others } = await grantSpecUntil(deps.db, grant, grant.endsAt);
  const provider = deps.providers.forTarget(grant.target);
  // The grant stays leased to this process while the provider is called, however long that takes.
  const leased = <T>(work: () => Promise<T>) => whileLeased(deps.db, deps.clock, { grantId, state: 'granting', until: grant.nextAttemptAt, leaseMs: GRANT_LEASE_MS }, work);
  let humanTask: HumanTask | void;
  try {
    // Checked again here: the grant may have been approved (or left by a crash) before the person's deactivation arrived.
    const { left } = await leaverStatus(deps, { emails: [grant.email], slackUserId: grant.person });
    if (left) throw new Error(`${grant.email} was ${describeLeft(left)}; breakglass gives a leaver no access`);
    humanTask = await leased(() => provider.grant(spec));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    deps.logger.warn({ grantId, resource: grant.resource, err: message }, 'grant failed at the provider');
    let cleanup: 'revoked' | 'failed' | undefined;
    if (others.length === 0) {
      // Nothing half-done: whatever the failed call (or an earlier attempt cut by a crash) may have
      // changed is undone (revoke is idempotent), and the evidence says so.
      cleanup = await leased(() => provider.revoke(spec)).then(
        () => 'revoked' as const,
        (cleanupError: unknown) => {
          deps.logger.error({ grantId, err: String(cleanupError) }, 'cleanup after a failed grant also failed');
          return 'failed' as const;
        },
      );
    }
    await recordFailure(deps, grant, message, cleanup);
    return { state: 'failed', error: message };
  }
  // A person makes the change: the grant turns active when an owner confirms it (human-tasks.ts).
  if (humanTask) {
    await awaitHuman(deps, grant, humanTask);
    return { state: 'awaiting_owners', system: humanTask.system };
  }

  const now = deps.clock.now();
  const applied = await deps.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(grants)
      .set({ state: 'active', startsAt: now, nextAttemptAt: null })
      .where(and(eq(grants.id, grant.id), eq(grants.state, 'granting')))
      .returning({ id: grants.id });
    if (!updated) return false;
    await deps.ledger.append(tx, {
      kind: 'grant.applied',
      actor: 'breakglass',
      subject: grant.person,
      resource: grant.resource,
      requestId: grant.requestId,
      details: { grant_id: grant.id, provider: provider.name, target: { ...grant.target }, starts_at: now.toISOString(), ends_at: grant.endsAt.toISOString(), provider_expiry: spec.expiresAt.toISOString(), emergency: grant.emergency },
    });
    await enqueue(
      tx,
      now,
      { type: 'notify_user', user: grant.person, notification: { kind: 'grant_active', requestId: grant.requestId, resource: grant.resource, endsAt: grant.endsAt.toISOString() } },
      { type: 'refresh_cards', requestId: grant.requestId },
    );
    return true;
  });
  // The grant row is created when the last approval commits.
  if (applied) deps.metrics?.grantApplied((now.getTime() - grant.createdAt.getTime()) / 1000);
  deps.wake.outbox();
  return { state: 'active' };
}

async function recordFailure(deps: AppDeps, grant: typeof grants.$inferSelect, message: string, cleanup?: 'revoked' | 'failed'): Promise<void> {
  const now = deps.clock.now();
  const { requestId } = grant;
  await deps.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(grants)
      .set({ state: 'failed', lastError: message, nextAttemptAt: null })
      .where(and(eq(grants.id, grant.id), eq(grants.state, 'granting')))
      .returning({ id: grants.id });
    if (!updated) return;
    await deps.ledger.append(tx, {
      kind: 'grant.failed',
      actor: 'breakglass',
      subject: grant.person,
      resource: grant.resource,
      requestId,
      details: { grant_id: grant.id, error: message, extension: false, ...(cleanup ? { provider_cleanup: cleanup } : {}) },
    });
    await enqueue(
      tx,
      now,
      { type: 'notify_user', user: grant.person, notification: { kind: 'grant_failed', requestId, resource: grant.resource, error: message } },
      { type: 'refresh_cards', requestId },
    );
  });
  deps.wake.outbox();
}
