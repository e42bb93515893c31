import { and, eq } from 'drizzle-orm';
import { GRANT_LEASE_MS, overlappingGrants, whileLeased } from '../db/grants-repo.ts';
import { enqueue } from '../db/outbox.ts';
import { grants } from '../db/schema.ts';
import { formatDuration } from '../domain/duration.ts';
import { escapeMrkdwn } from '../slack/blocks/format.ts';
import type { AppDeps } from './deps.ts';
import { describeLeft, leaverStatus } from './leavers.ts';
import { grantSpec } from './people.ts';

export type ApplyResult = { ok: true } | { ok: false; error: string };

/**
 * Calls the provider outside any transaction, then commits the outcome with its evidence.
 * A new grant moves granting → active (or failed, after cleaning up at the provider); an
 * extension moves an active grant's end later, re-granting so an IAM policy's expiry moves too.
 */
export async function applyGrant(deps: AppDeps, grantId: number, extension?: { extendBy: number; requestId: number }): Promise<ApplyResult> {
  const [grant] = await deps.db.select().from(grants).where(eq(grants.id, grantId));
  if (!grant) return { ok: false, error: `grant ${grantId} not found` };
  if (!extension && grant.state !== 'granting') return grant.state === 'active' ? { ok: true } : { ok: false, error: grant.lastError ?? grant.state };
  if (extension && grant.state !== 'active') return { ok: false, error: `grant ${grantId} is ${grant.state}, not active` };

  const endsAt = extension ? new Date(grant.endsAt.getTime() + extension.extendBy) : grant.endsAt;
  const others = await overlappingGrants(deps.db, grant.person, grant.resource, grant.id);
  // Overlapping grants: the provider keeps access until the last of them ends.
  const providerExpiry = new Date(Math.max(endsAt.getTime(), ...others.map((o) => o.endsAt.getTime())));
  const spec = grantSpec({ ...grant, endsAt: providerExpiry });
  const provider = deps.providers.forTarget(grant.target);
  // A new grant stays leased to this process while the provider is called, however long that takes.
  const leased = <T>(work: () => Promise<T>) =>
    extension ? work() : whileLeased(deps.db, deps.clock, { grantId, state: 'granting', until: grant.nextAttemptAt, leaseMs: GRANT_LEASE_MS }, work);
  try {
    // Checked again here: the grant may have been approved (or left by a crash) before the person's deactivation arrived.
    const { left } = await leaverStatus(deps, { emails: [grant.email], slackUserId: grant.person });
    if (left) throw new Error(`${grant.email} was ${describeLeft(left)}; breakglass gives a leaver no access`);
    await leased(() => provider.grant(spec));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    deps.logger.warn({ grantId, resource: grant.resource, err: message }, 'grant failed at the provider');
    let cleanup: 'revoked' | 'failed' | undefined;
    if (!extension && others.length === 0) {
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
    await recordFailure(deps, grant, message, extension, cleanup);
    return { ok: false, error: message };
  }

  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    const common = { actor: 'breakglass', subject: grant.person, resource: grant.resource, requestId: extension?.requestId ?? grant.requestId };
    if (extension) {
      const [updated] = await tx
        .update(grants)
        .set({ endsAt })
        .where(and(eq(grants.id, grant.id), eq(grants.state, 'active'), eq(grants.endsAt, grant.endsAt)))
        .returning({ id: grants.id });
      if (!updated) return;
      await deps.ledger.append(tx, {
        kind: 'grant.extended',
        ...common,
        details: { grant_id: grant.id, original_request_id: grant.requestId, previous_ends_at: grant.endsAt.toISOString(), ends_at: endsAt.toISOString(), extended_by: formatDuration(extension.extendBy) },
      });
      await enqueue(
        tx,
        now,
        { type: 'notify_user', user: grant.person, text: `Your access to \`${grant.resource}\` (request #${grant.requestId}) is extended until <!date^${Math.floor(endsAt.getTime() / 1000)}^{date_short_pretty} {time}|${endsAt.toISOString()}>.` },
        { type: 'refresh_cards', requestId: extension.requestId },
      );
      return;
    }
    const [updated] = await tx
      .update(grants)
      .set({ state: 'active', startsAt: now, nextAttemptAt: null })
      .where(and(eq(grants.id, grant.id), eq(grants.state, 'granting')))
      .returning({ id: grants.id });
    if (!updated) return;
    await deps.ledger.append(tx, {
      kind: 'grant.applied',
      ...common,
      details: { grant_id: grant.id, provider: provider.name, target: grant.target, starts_at: now.toISOString(), ends_at: grant.endsAt.toISOString(), provider_expiry: providerExpiry.toISOString(), emergency: grant.emergency },
    });
    await enqueue(
      tx,
      now,
      { type: 'notify_user', user: grant.person, text: `:unlock: Your access to \`${grant.resource}\` is active until <!date^${Math.floor(grant.endsAt.getTime() / 1000)}^{date_short_pretty} {time}|${grant.endsAt.toISOString()}> (request #${grant.requestId}). \`/breakglass end ${grant.requestId}\` ends it early.` },
      { type: 'refresh_cards', requestId: grant.requestId },
    );
  });
  deps.wake.outbox();
  return { ok: true };
}

async function recordFailure(deps: AppDeps, grant: typeof grants.$inferSelect, message: string, extension?: { extendBy: number; requestId: number }, cleanup?: 'revoked' | 'failed'): Promise<void> {
  const now = deps.clock.now();
  const requestId = extension?.requestId ?? grant.requestId;
  await deps.db.transaction(async (tx) => {
    if (!extension) {
      const [updated] = await tx
        .update(grants)
        .set({ state: 'failed', lastError: message, nextAttemptAt: null })
        .where(and(eq(grants.id, grant.id), eq(grants.state, 'granting')))
        .returning({ id: grants.id });
      if (!updated) return;
    }
    await deps.ledger.append(tx, {
      kind: 'grant.failed',
      actor: 'breakglass',
      subject: grant.person,
      resource: grant.resource,
      requestId,
      details: { grant_id: grant.id, error: message, extension: Boolean(extension), ...(cleanup ? { provider_cleanup: cleanup } : {}) },
    });
    await enqueue(
      tx,
      now,
      { type: 'notify_user', user: grant.person, text: `:x: Your access to \`${grant.resource}\` could not be ${extension ? 'extended' : 'granted'} (request #${requestId}): ${escapeMrkdwn(message)}. Nothing was changed; try again, or tell your security team if it persists.` },
      { type: 'refresh_cards', requestId },
    );
  });
  deps.wake.outbox();
}
