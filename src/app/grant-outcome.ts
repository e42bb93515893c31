import { enqueue } from '../db/outbox.ts';
import { grants } from '../db/schema.ts';
import type { AppDeps } from './deps.ts';
import { aboutGrant } from './grant-evidence.ts';
import { updateGrantIf } from '../db/grants-repo.ts';

type Grant = typeof grants.$inferSelect;

/** How a grant's outcome became known, when the provider's own answer was lost. */
export interface ConfirmedByListing {
  /** Why the answer was lost (the error the call ended with). */
  unansweredError: string;
  /** When the unanswered call was sent: the earliest the access can have begun. */
  since: Date;
}

/**
 * granting (or checking) → active with `grant.applied`, the requester told. When the provider's
 * answer was lost and its listing showed the access held, the evidence says so, and the access is
 * taken to have begun when the call was sent.
 */
export async function recordApplied(
  deps: AppDeps,
  grant: Grant,
  applied: { provider: string; providerExpiry: Date; from: 'granting' | 'checking'; confirmed?: ConfirmedByListing; principalId?: string | undefined },
): Promise<void> {
  const now = deps.clock.now();
  const startsAt = applied.confirmed?.since ?? now;
  const recorded = await deps.db.transaction(async (tx) => {
    const principalId = applied.principalId ? { principalId: applied.principalId } : {};
    const updated = await updateGrantIf(tx, grant.id, applied.from, { state: 'active', startsAt, nextAttemptAt: null, attempts: 0, lastError: null, failureAlertedAt: null, ...principalId });
    if (!updated) return false;
    const confirmed = applied.confirmed;
    await deps.ledger.append(tx, {
      kind: 'grant.applied',
      actor: 'breakglass',
      ...aboutGrant(grant),
      details: {
        grant_id: grant.id,
        provider: applied.provider,
        target: { ...grant.target },
        starts_at: startsAt.toISOString(),
        ends_at: grant.endsAt.toISOString(),
        provider_expiry: applied.providerExpiry.toISOString(),
        emergency: grant.emergency,
        ...(confirmed ? { confirmed_by: 'listing' as const, unanswered_error: confirmed.unansweredError, in_doubt_since: confirmed.since.toISOString() } : {}),
        ...(applied.principalId ? { principal_id: applied.principalId } : {}),
      },
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
  if (recorded) deps.metrics?.grantApplied((now.getTime() - grant.createdAt.getTime()) / 1000);
  deps.wake.outbox();
}

/**
 * granting (or checking) → failed with `grant.failed`, the requester told. Only recorded once
 * nothing is left at the provider: cleaned up by a revoke, or listed absent after a lost answer.
 */
export async function recordFailure(
  deps: AppDeps,
  grant: Grant,
  message: string,
  how: { from: 'granting' | 'checking'; cleanup?: 'revoked'; checkedAbsentSince?: Date },
): Promise<void> {
  const now = deps.clock.now();
  const { requestId } = grant;
  await deps.db.transaction(async (tx) => {
    const updated = await updateGrantIf(tx, grant.id, how.from, { state: 'failed', lastError: message, nextAttemptAt: null, failureAlertedAt: null });
    if (!updated) return;
    await deps.ledger.append(tx, {
      kind: 'grant.failed',
      actor: 'breakglass',
      ...aboutGrant(grant),
      details: {
        grant_id: grant.id,
        error: message,
        extension: false,
        ...(how.cleanup ? { provider_cleanup: how.cleanup } : {}),
        ...(how.checkedAbsentSince ? { provider_check: 'absent' as const, in_doubt_since: how.checkedAbsentSince.toISOString() } : {}),
      },
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
