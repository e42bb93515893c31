import { sql } from 'drizzle-orm';
import { GRANT_LEASE_MS, updateGrantIf, whileLeased } from '../db/grants-repo.ts';
import { enqueue } from '../db/outbox.ts';
import { grants } from '../db/schema.ts';
import { backoffMs } from '../domain/backoff.ts';
import type { AccessEntry, GrantSpec } from '../ports.ts';
import type { AppDeps } from './deps.ts';
import { recordApplied, recordFailure } from './grant-outcome.ts';
import { grantSpecUntil } from './grant-specs.ts';
import { aboutGrant, raiseGrantAlert } from './grant-evidence.ts';

type Grant = typeof grants.$inferSelect;

/** What a check found: the access held, absent, or still not known. */
export type Settled = { state: 'active' } | { state: 'failed'; error: string } | { state: 'checking' };

/** A grant still in doubt is checked again at least this often, so the outcome is known soon after the provider answers. */
export const MAX_CHECK_BACKOFF_MS = 20_000;

/** Whether a listing shows the person holding the access: the name the grant used (IAM names are case-insensitive), or the email. */
export function listsHolder(entries: AccessEntry[], spec: GrantSpec): boolean {
  return holderIn(entries, spec) !== undefined;
}

/** The listed entry that is the grant's person: by the provider's id of them when known, else by name or email. */
export function holderIn(entries: AccessEntry[], spec: GrantSpec): AccessEntry | undefined {
  const names = new Set([spec.person.principal, spec.person.email].filter((n): n is string => Boolean(n)).map((n) => n.toLowerCase()));
  const id = spec.person.principalId;
  return entries.find((e) => (id !== undefined && e.principalId === id) || names.has(e.principal.toLowerCase()) || (e.email !== undefined && names.has(e.email.toLowerCase())));
}

/**
 * The grant call's outcome is unknown (no answer came back, or the cleanup after a failure failed
 * too): the provider is listed and what it shows is recorded, applied or failed. While the listing
 * fails as well, the grant waits in `checking`: recorded once as `grant.in_doubt`, security alerted
 * once, the requester told breakglass is checking, and the recovery worker lists again with backoff.
 */
export async function settleByListing(
  deps: AppDeps,
  grant: Grant,
  doubt: { error: string; since: Date; from: 'granting' | 'checking' },
): Promise<Settled> {
  const { spec } = await grantSpecUntil(deps.db, grant, grant.endsAt);
  const provider = deps.providers.forTarget(grant.target);
  let held: AccessEntry | undefined;
  try {
    const entries = await whileLeased(deps.db, deps.clock, { grantId: grant.id, state: doubt.from, until: grant.nextAttemptAt, leaseMs: GRANT_LEASE_MS }, () =>
      provider.listAccess(grant.resource, grant.target),
    );
    held = holderIn(entries, spec);
  } catch (error) {
    const checkError = error instanceof Error ? error.message : String(error);
    deps.logger.warn({ grantId: grant.id, resource: grant.resource, err: checkError }, 'grant outcome unknown and the provider cannot be listed; checking again later');
    await recordInDoubt(deps, grant, { ...doubt, checkError });
    return { state: 'checking' };
  }
  deps.logger.info({ grantId: grant.id, resource: grant.resource, held: held !== undefined }, 'grant outcome checked at the provider');
  if (held) {
    await recordApplied(deps, grant, { provider: provider.name, providerExpiry: spec.expiresAt, from: doubt.from, confirmed: { unansweredError: doubt.error, since: doubt.since }, principalId: held.principalId });
    return { state: 'active' };
  }
  await recordFailure(deps, grant, doubt.error, { from: doubt.from, checkedAbsentSince: doubt.since });
  return { state: 'failed', error: doubt.error };
}

/** The recovery worker's turn on a grant in `checking` (its lease claimed). */
export function checkGrantInDoubt(deps: AppDeps, grant: Grant): Promise<Settled> {
  return settleByListing(deps, grant, { error: grant.lastError ?? 'the provider did not answer', since: grant.startsAt ?? grant.createdAt, from: 'checking' });
}

async function recordInDoubt(deps: AppDeps, grant: Grant, doubt: { error: string; checkError: string; since: Date; from: 'granting' | 'checking' }): Promise<void> {
  const now = deps.clock.now();
  const retryAt = new Date(now.getTime() + backoffMs(grant.attempts, { baseMs: 1_000, maxMs: MAX_CHECK_BACKOFF_MS, jitter: 'upper-half' }));
  const first = doubt.from === 'granting';
  await deps.db.transaction(async (tx) => {
    const updated = await updateGrantIf(tx, grant.id, doubt.from, {
      state: 'checking',
      // A backoff, not a lease: no process holds the grant until the next check claims it.
      nextAttemptAt: retryAt,
      leaseHolder: null,
      attempts: sql`${grants.attempts} + 1`,
      ...(first ? { startsAt: doubt.since, lastError: doubt.error, failureAlertedAt: now } : {}),
    });
    // Once: one event, one alert and one message however long the provider stays unreachable.
    if (!updated || !first) return;
    await deps.ledger.append(tx, {
      kind: 'grant.in_doubt',
      actor: 'breakglass',
      ...aboutGrant(grant),
      details: { grant_id: grant.id, error: doubt.error, check_error: doubt.checkError, in_doubt_since: doubt.since.toISOString(), checking: true },
    });
    await enqueue(
      tx,
      now,
      { type: 'notify_user', user: grant.person, notification: { kind: 'grant_checking', requestId: grant.requestId, resource: grant.resource } },
      { type: 'refresh_cards', requestId: grant.requestId },
    );
    await raiseGrantAlert(tx, deps, grant, { kind: 'grant_in_doubt', error: doubt.error });
  });
  deps.wake.outbox();
}
