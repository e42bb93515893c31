import { and, asc, eq, gt, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import { overlappingGrants, updateGrantIf, whileLeased } from '../db/grants-repo.ts';
import { enqueue } from '../db/outbox.ts';
import { alerts, grants } from '../db/schema.ts';
import type { Tx } from '../db/client.ts';
import { CircuitOpenError, isHumanTask, RevokeIneffectiveError, type AccessEntry, type HumanTask, type RevokeOutcome, type SessionsEnded } from '../ports.ts';
import { awaitHuman } from './human-tasks.ts';
import { cancelPendingExtensions } from './cancel-extensions.ts';
import type { AppDeps } from './deps.ts';
import { revokeRetryAt } from './revoke-retry.ts';
import { grantSpec } from './grant-specs.ts';
import { claimDue } from '../db/claim-due.ts';
import { aboutGrant, recordSessionsEnded, raiseGrantAlert } from './grant-evidence.ts';
import { afterRevokeDetails, inventoryAfterRevoke, listAfterRevokes, type AfterRevoke } from './list-after-revoke.ts';
import { canonicalJson } from '../ledger/canonical-json.ts';

/**
 * While a worker revokes, no other replica touches the grant (the lease is renewed while the
 * provider call runs); a crash frees it for the other replicas after this, and for a bot that
 * starts at once (lease-holder.ts).
 * Longer than MAX_REVOKE_BACKOFF_MS, so "claimed" and "waiting to retry" stay distinguishable.
 */
const REVOKE_LEASE_MS = 30_000;
const BATCH = 25;

type Grant = typeof grants.$inferSelect;

/**
 * Revokes every grant past its end. Due rows are claimed with FOR UPDATE SKIP LOCKED and leased,
 * so several replicas split the work and never revoke one grant twice; the row is re-read before
 * acting; a failure is retried with backoff for as long as it takes, alerted to security once.
 * A grant being extended is not due until the extension is finished (see extend-grant.ts).
 * The revokes of one resource are then listed once and recorded together with that listing.
 * Returns how many grants it finished.
 */
export async function revokeDueGrants(deps: AppDeps): Promise<number> {
  const claimed = await claimDueGrants(deps);
  const finished = await Promise.all(byTarget(claimed).map((same) => revokeAll(deps, same)));
  return finished.reduce((sum, n) => sum + n, 0);
}

/** One listing tells about every grant of the same resource and target. */
function byTarget(claimed: Grant[]): Grant[][] {
  const groups = new Map<string, Grant[]>();
  for (const grant of claimed) {
    const key = `${grant.resource}\n${canonicalJson(grant.target)}`;
    const same = groups.get(key);
    if (same) same.push(grant);
    else groups.set(key, [grant]);
  }
  return [...groups.values()];
}

/** A grant whose access breakglass no longer gives: removed at the provider, or kept there by another live grant. */
interface Ended {
  grant: Grant;
  providerCall: 'revoked' | 'skipped';
  sessionsEnded?: SessionsEnded | undefined;
  listed?: AccessEntry[] | undefined;
  others: Array<{ id: number }>;
  at: Date;
}

/**
 * The grants of one resource wait for each other's provider calls, so that one listing after all of
 * them can confirm them all and commit with them; grants of other resources go on side by side.
 */
async function revokeAll(deps: AppDeps, same: Grant[]): Promise<number> {
  const ended = (await Promise.all(same.map((grant) => revokeOne(deps, grant)))).filter((e): e is Ended => e !== 'not_yet');
  if (ended.length === 0) return 0;
  const atProvider = ended.filter((e) => e.providerCall === 'revoked');
  const listable = deps.providers.forTarget(same[0]!.target).canList !== false;
  const after = atProvider.length > 0 && listable ? await listAfterRevokes(deps, same[0]!, atProvider) : undefined;
  const recorded = await recordRevoked(deps, ended, after);
  for (const e of recorded) {
    if (e.providerCall === 'revoked' && !e.grant.revokeReason) deps.metrics?.grantRevokedAfterEnd((e.at.getTime() - e.grant.endsAt.getTime()) / 1000);
  }
  deps.wake.outbox();
  return ended.length;
}

/**
 * Milliseconds until the next active grant ends (undefined when none does), so the worker can
 * be there when it ends rather than up to a tick later.
 */
export async function msUntilNextExpiry(deps: AppDeps): Promise<number | undefined> {
  const now = deps.clock.now();
  const [next] = await deps.db
    .select({ endsAt: grants.endsAt })
    .from(grants)
    .where(and(eq(grants.state, 'active'), gt(grants.endsAt, now)))
    .orderBy(asc(grants.endsAt))
    .limit(1);
  return next ? next.endsAt.getTime() - now.getTime() : undefined;
}

async function claimDueGrants(deps: AppDeps): Promise<Grant[]> {
  const now = deps.clock.now();
  const isDue = and(inArray(grants.state, ['active', 'revoking']), lte(grants.endsAt, now), or(isNull(grants.nextAttemptAt), lte(grants.nextAttemptAt, now)));
  return claimDue(deps.db, {
    table: grants,
    id: grants.id,
    isDue,
    orderBy: grants.endsAt,
    limit: BATCH,
    claim: async (tx, ids) => {
      const claimed = await tx
        .update(grants)
        .set({ state: 'revoking', nextAttemptAt: new Date(now.getTime() + REVOKE_LEASE_MS), leaseHolder: deps.leaseHolder ?? null, attempts: sql`${grants.attempts} + 1` })
        .where(inArray(grants.id, ids))
        .returning();
      await cancelPendingExtensions(tx, deps, claimed, now);
      return claimed;
    },
  });
}

async function revokeOne(deps: AppDeps, grant: Grant): Promise<Ended | 'not_yet'> {
  const others = (await overlappingGrants(deps.db, grant.person, grant.resource, grant.id)).filter((o) => o.endsAt > deps.clock.now());
  // Another live grant covers the same access: it lasts until the last one ends.
  const atProvider = others.length > 0 ? { providerCall: 'skipped' as const } : await revokeAtProvider(deps, grant);
  if (atProvider === 'not_yet') return atProvider;
  return { grant, ...atProvider, others, at: deps.clock.now() };
}

/**
 * The provider's revoke, under the grant's lease. 'not_yet' when it failed (recorded, retried
 * later) or a person must remove it (the grant is revoked when an owner confirms, human-tasks.ts).
 */
async function revokeAtProvider(deps: AppDeps, grant: Grant): Promise<Pick<Ended, 'sessionsEnded' | 'listed'> & { providerCall: 'revoked' } | 'not_yet'> {
  let answer: HumanTask | RevokeOutcome | void;
  try {
    answer = await whileLeased(deps.db, deps.clock, { grantId: grant.id, state: 'revoking', until: grant.nextAttemptAt, leaseMs: REVOKE_LEASE_MS }, () =>
      deps.providers.forTarget(grant.target).revoke(grantSpec(grant)),
    );
  } catch (error) {
    await recordRevokeFailure(deps, grant, error);
    return 'not_yet';
  }
  if (!isHumanTask(answer)) return { providerCall: 'revoked', sessionsEnded: answer?.sessionsEnded, listed: answer?.listed };
  await awaitHuman(deps, grant, answer);
  return 'not_yet';
}

/**
 * In one transaction: each grant revoked with its grant.revoked event and its holder told (unless it
 * left 'revoking' meanwhile), and the listing taken after the revokes into the access inventory.
 * Returns the grants it recorded.
 */
async function recordRevoked(deps: AppDeps, ended: Ended[], after: AfterRevoke | undefined): Promise<Ended[]> {
  const { resource, target } = ended[0]!.grant;
  return deps.db.transaction(async (tx) => {
    const recorded: Ended[] = [];
    for (const e of ended) if (await recordOneRevoked(tx, deps, e, after)) recorded.push(e);
    const revoked = ended.filter((e) => e.providerCall === 'revoked').map((e) => ({ grantId: e.grant.id, spec: grantSpec(e.grant) }));
    if (after) await inventoryAfterRevoke(tx, deps, { resource, target }, after, revoked);
    return recorded;
  });
}

async function recordOneRevoked(tx: Tx, deps: AppDeps, ended: Ended, after: AfterRevoke | undefined): Promise<boolean> {
  const { grant, providerCall, sessionsEnded, others, at: now } = ended;
  const done = await updateGrantIf(tx, grant.id, 'revoking', { state: 'revoked', revokedAt: now, nextAttemptAt: null, lastError: null });
  if (!done) return false;
  const reason = grant.revokeReason ?? 'expired';
  await deps.ledger.append(tx, {
    kind: 'grant.revoked',
    actor: grant.revokeRequestedBy ?? 'breakglass',
    ...aboutGrant(grant),
    details: {
      grant_id: grant.id,
      reason,
      ends_at: grant.endsAt.toISOString(),
      revoked_at: now.toISOString(),
      late_by_ms: Math.max(0, now.getTime() - grant.endsAt.getTime()),
      attempts: grant.attempts,
      provider_call: providerCall,
      ...(providerCall === 'skipped' ? { access_continues_under_grants: others.map((o) => o.id) } : {}),
      ...(providerCall === 'revoked' && after ? afterRevokeDetails(after, grantSpec(grant)) : {}),
    },
  });
  if (sessionsEnded) await recordSessionsEnded(tx, deps, aboutGrant(grant), { grantId: grant.id, provider: deps.providers.forTarget(grant.target).name, sessions: sessionsEnded });
  await enqueue(
    tx,
    now,
    {
      type: 'notify_user',
      user: grant.person,
      notification:
        providerCall === 'skipped'
          ? { kind: 'grant_ended_access_continues', requestId: grant.requestId, resource: grant.resource }
          : { kind: 'grant_ended', requestId: grant.requestId, resource: grant.resource, reason },
    },
    { type: 'refresh_cards', requestId: grant.requestId },
  );
  return true;
}

async function recordRevokeFailure(deps: AppDeps, grant: Grant, error: unknown): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  const now = deps.clock.now();
  const retryAt = revokeRetryAt(now, grant.attempts);
  deps.logger.warn({ grantId: grant.id, resource: grant.resource, attempts: grant.attempts, err: message, retryAt }, 'revoke failed; will retry');
  await deps.db.transaction(async (tx) => {
    // A backoff, not a lease: no process holds the grant until the retry claims it.
    const updated = await updateGrantIf(tx, grant.id, 'revoking', { nextAttemptAt: retryAt, leaseHolder: null, lastError: message, ...(grant.failureAlertedAt ? {} : { failureAlertedAt: now }) });
    // The first failure is evidence and an alert; later retries only update the row, so an outage
    // produces one alert, not one per retry.
    if (!updated || grant.failureAlertedAt) return;
    if (error instanceof RevokeIneffectiveError) return recordIneffective(tx, deps, grant, error);
    await deps.ledger.append(tx, {
      kind: 'grant.revoke_failed',
      actor: 'breakglass',
      ...aboutGrant(grant),
      details: { grant_id: grant.id, error: message, attempts: grant.attempts, retrying: true },
    });
    if (error instanceof CircuitOpenError || (await revokeFailureAlertOpen(tx, grant.target.kind, now))) return;
    await raiseGrantAlert(tx, deps, grant, { kind: 'revoke_failed', error: message });
  });
  deps.wake.outbox();
}

/**
 * The provider said the access was gone, yet its listing still shows it held: never recorded as
 * revoked; this grant's own alert (it is no outage), and the worker keeps retrying.
 */
async function recordIneffective(tx: Tx, deps: AppDeps, grant: Grant, error: RevokeIneffectiveError): Promise<void> {
  await deps.ledger.append(tx, {
    kind: 'grant.revoke_ineffective',
    actor: 'breakglass',
    ...aboutGrant(grant),
    details: { grant_id: grant.id, principal: error.principal, error: error.message, attempts: grant.attempts, retrying: true },
  });
  await raiseGrantAlert(tx, deps, grant, { kind: 'revoke_ineffective', principal: error.principal });
}

/** An outage fails many revokes at one provider: while one alert about it is open, that one speaks for all. */
const REVOKE_ALERT_COVERS_MS = 60 * 60_000;

/**
 * Whether an unacknowledged revoke-failure alert for the same kind of target was raised within the
 * hour. Every failing grant still records `grant.revoke_failed`; only the alert is not repeated.
 */
async function revokeFailureAlertOpen(tx: Tx, targetKind: string, now: Date): Promise<boolean> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`breakglass:revoke_failed:${targetKind}`}))`);
  const [open] = await tx
    .select({ id: alerts.id })
    .from(alerts)
    .innerJoin(grants, eq(grants.id, alerts.grantId))
    .where(
      and(
        eq(alerts.kind, 'revoke_failed'),
        isNull(alerts.acknowledgedAt),
        gt(alerts.createdAt, new Date(now.getTime() - REVOKE_ALERT_COVERS_MS)),
        sql`${grants.target}->>'kind' = ${targetKind}`,
      ),
    )
    .limit(1);
  return open !== undefined;
}
