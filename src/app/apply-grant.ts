import { eq } from 'drizzle-orm';
import { GRANT_LEASE_MS, whileLeased } from '../db/grants-repo.ts';
import { grants } from '../db/schema.ts';
import { isDatabaseUnreachable } from '../db/unreachable.ts';
import { isOutcomeUnknown } from '../providers/retry.ts';
import { isHumanTask, type GrantApplied, type HumanTask } from '../ports.ts';
import type { AppDeps } from './deps.ts';
import { checkGrantInDoubt, settleByListing } from './grant-in-doubt.ts';
import { recordApplied, recordFailure } from './grant-outcome.ts';
import { awaitHuman } from './human-tasks.ts';
import { describeLeft, leaverStatus } from './leavers.ts';
import { grantSpecUntil } from './grant-specs.ts';

/**
 * `granting`: the database went away before the outcome was recorded. The grant stays `granting`
 * (or `extending`) under its lease, and the recovery worker applies it again (idempotently) and
 * records it once the database is back, so the provider never keeps a change without its evidence.
 * `checking`: the provider did not answer and cannot be listed yet; the worker keeps checking.
 * `awaiting_owners`: a system granted by hand; it turns active when one of its owners confirms.
 */
export type ApplyResult = { state: 'active' } | { state: 'failed'; error: string } | { state: 'granting' } | { state: 'checking' } | { state: 'awaiting_owners'; system: string };

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
 * grant moves granting → active (or failed, after cleaning up at the provider). An outcome it cannot
 * know is checked at the provider (grant-in-doubt.ts). Extensions are extend-grant.ts.
 */
export function applyGrant(deps: AppDeps, grantId: number): Promise<ApplyResult> {
  return finishedLaterIfDatabaseDown(deps, grantId, () => applyGrantOnce(deps, grantId));
}

async function applyGrantOnce(deps: AppDeps, grantId: number): Promise<ApplyResult> {
  const [grant] = await deps.db.select().from(grants).where(eq(grants.id, grantId));
  if (!grant) return { state: 'failed', error: `grant ${grantId} not found` };
  if (grant.state === 'checking') return checkGrantInDoubt(deps, grant);
  if (grant.state !== 'granting') return grant.state === 'active' ? { state: 'active' } : { state: 'failed', error: grant.lastError ?? grant.state };

  const { spec, others } = await grantSpecUntil(deps.db, grant, grant.endsAt);
  const provider = deps.providers.forTarget(grant.target);
  // The grant stays leased to this process while the provider is called, however long that takes.
  const leased = <T>(work: () => Promise<T>) => whileLeased(deps.db, deps.clock, { grantId, state: 'granting', until: grant.nextAttemptAt, leaseMs: GRANT_LEASE_MS }, work);
  const sentAt = deps.clock.now();
  let answer: HumanTask | GrantApplied | void;
  try {
    // Checked again here: the grant may have been approved (or left by a crash) before the person's deactivation arrived.
    const { left } = await leaverStatus(deps, { emails: [grant.email], slackUserId: grant.person });
    if (left) throw new Error(`${grant.email} was ${describeLeft(left)}; breakglass gives a leaver no access`);
    answer = await leased(() => provider.grant(spec));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    deps.logger.warn({ grantId, resource: grant.resource, err: message }, 'grant failed at the provider');
    // Another live grant holds the same access: whatever this call did, the access is that grant's to end.
    if (others.length > 0) return recordedFailure(deps, grant, message, {});
    // No answer came back: the change may have been made. The provider is asked what it holds.
    if (isOutcomeUnknown(error)) return settleByListing(deps, grant, { error: message, since: sentAt, from: 'granting' });
    // An answer that is not success: whatever the call (or an earlier attempt cut by a crash) may
    // have changed is undone (revoke is idempotent). If the cleanup fails too, the outcome is unknown.
    try {
      await leased(() => provider.revoke(spec));
    } catch (cleanupError) {
      deps.logger.error({ grantId, err: String(cleanupError) }, 'cleanup after a failed grant also failed; checking the provider');
      return settleByListing(deps, grant, { error: message, since: sentAt, from: 'granting' });
    }
    return recordedFailure(deps, grant, message, { cleanup: 'revoked' });
  }
  // A person makes the change: the grant turns active when an owner confirms it (human-tasks.ts).
  if (answer && isHumanTask(answer)) {
    await awaitHuman(deps, grant, answer);
    return { state: 'awaiting_owners', system: answer.system };
  }
  await recordApplied(deps, grant, { provider: provider.name, providerExpiry: spec.expiresAt, from: 'granting', ...(answer ? { principalId: answer.principalId } : {}) });
  return { state: 'active' };
}

async function recordedFailure(deps: AppDeps, grant: typeof grants.$inferSelect, message: string, how: { cleanup?: 'revoked' }): Promise<ApplyResult> {
  await recordFailure(deps, grant, message, { from: 'granting', ...how });
  return { state: 'failed', error: message };
}
