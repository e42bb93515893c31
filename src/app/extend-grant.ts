import { eq } from 'drizzle-orm';
import { GRANT_LEASE_MS, whileLeased } from '../db/grants-repo.ts';
import { enqueue } from '../db/outbox.ts';
import { accessRequests, grants } from '../db/schema.ts';
import { formatDuration } from '../domain/duration.ts';
import { finishedLaterIfDatabaseDown, type ApplyResult } from './apply-grant.ts';
import type { AppDeps } from './deps.ts';
import { grantSpecUntil } from './grant-specs.ts';

export const ENDED_WHILE_EXTENDING = 'the access was ended while it was being extended';

type Grant = typeof grants.$inferSelect;

/**
 * Applies the approved extension a grant in `extending` carries (see `beginExtension`). The
 * provider is called outside any transaction, re-granting so an IAM policy's expiry moves too,
 * while this process holds the grant's lease; the revoke worker leaves an extending grant alone,
 * so no revoke can land before a late provider call. The grant then returns to `active`: with the
 * new end and `grant.extended`, or, when the provider refused or the access was ended meanwhile
 * (ended early, offboarding, a review revoke), with its end unchanged and `grant.failed` — and an
 * end that has passed hands it straight to the revoke worker, which takes whatever the call gave.
 * A crash leaves the grant `extending`; recover-grants finishes it once the lease runs out (or a
 * bot that starts takes the lease over at once, lease-holder.ts).
 */
export function extendGrant(deps: AppDeps, grantId: number): Promise<ApplyResult> {
  return finishedLaterIfDatabaseDown(deps, grantId, () => extendGrantOnce(deps, grantId));
}

async function extendGrantOnce(deps: AppDeps, grantId: number): Promise<ApplyResult> {
  const [grant] = await deps.db.select().from(grants).where(eq(grants.id, grantId));
  if (!grant || grant.state !== 'extending' || grant.extensionRequestId === null) return { state: 'failed', error: `grant ${grantId} is not being extended` };
  const [request] = await deps.db.select().from(accessRequests).where(eq(accessRequests.id, grant.extensionRequestId));
  if (!request) return { state: 'failed', error: `extension request #${grant.extensionRequestId} not found` };
  const endsAt = new Date(grant.endsAt.getTime() + request.durationMs);
  let failure: string | undefined = grant.revokeReason === null ? undefined : ENDED_WHILE_EXTENDING;
  if (!failure) {
    try {
      const { spec } = await grantSpecUntil(deps.db, grant, endsAt);
      await whileLeased(deps.db, deps.clock, { grantId, state: 'extending', until: grant.nextAttemptAt, leaseMs: GRANT_LEASE_MS }, () =>
        deps.providers.forTarget(grant.target).grant(spec),
      );
    } catch (error) {
      failure = error instanceof Error ? error.message : String(error);
      deps.logger.warn({ grantId, requestId: request.id, resource: grant.resource, err: failure }, 'extension failed at the provider');
    }
  }
  const outcome = await finishExtension(deps, grant, request.id, endsAt, failure);
  deps.wake.outbox();
  deps.wake.grants();
  return outcome;
}

async function finishExtension(deps: AppDeps, grant: Grant, requestId: number, endsAt: Date, providerFailure: string | undefined): Promise<ApplyResult> {
  const now = deps.clock.now();
  return deps.db.transaction(async (tx) => {
    const [current] = await tx.select().from(grants).where(eq(grants.id, grant.id)).for('update');
    // Another process finished it (this one's lease ran out) and recorded the outcome.
    if (!current || current.state !== 'extending' || current.extensionRequestId !== requestId) {
      return current && current.endsAt >= endsAt ? { state: 'active' } : { state: 'failed', error: 'the extension was finished by another process' };
    }
    const failure = current.revokeReason !== null ? ENDED_WHILE_EXTENDING : providerFailure;
    await tx
      .update(grants)
      .set({ state: 'active', extensionRequestId: null, nextAttemptAt: null, ...(failure ? {} : { endsAt }) })
      .where(eq(grants.id, grant.id));
    const common = { actor: 'breakglass', subject: grant.person, resource: grant.resource, requestId };
    if (failure) {
      await tx.update(accessRequests).set({ outcomeReason: failure }).where(eq(accessRequests.id, requestId));
      await deps.ledger.append(tx, {
        kind: 'grant.failed',
        ...common,
        details: { grant_id: grant.id, original_request_id: grant.requestId, error: failure, extension: true, ends_at: current.endsAt.toISOString() },
      });
      await enqueue(
        tx,
        now,
        {
          type: 'notify_user',
          user: grant.person,
          notification: { kind: 'extension_failed', requestId: grant.requestId, extensionRequestId: requestId, resource: grant.resource, error: failure, stillEndsAt: current.revokeReason === null ? current.endsAt.toISOString() : null },
        },
        { type: 'refresh_cards', requestId },
      );
      return { state: 'failed', error: failure };
    }
    await deps.ledger.append(tx, {
      kind: 'grant.extended',
      ...common,
      details: { grant_id: grant.id, original_request_id: grant.requestId, previous_ends_at: grant.endsAt.toISOString(), ends_at: endsAt.toISOString(), extended_by: formatDuration(endsAt.getTime() - grant.endsAt.getTime()) },
    });
    await enqueue(
      tx,
      now,
      { type: 'notify_user', user: grant.person, notification: { kind: 'grant_extended', requestId: grant.requestId, resource: grant.resource, endsAt: endsAt.toISOString() } },
      { type: 'refresh_cards', requestId },
    );
    return { state: 'active' };
  });
}
