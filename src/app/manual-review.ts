import { and, asc, desc, eq, inArray, isNotNull } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { enqueue } from '../db/outbox.ts';
import { grants, humanTasks, reviewItems } from '../db/schema.ts';
import type { AccessEntry, GrantTarget } from '../ports.ts';
import type { AppDeps } from './deps.ts';
import { aboutGrant } from './grant-evidence.ts';
import { HUMAN_LEASE_MS } from './human-tasks.ts';

/**
 * Access reviews of systems granted by hand (providers that cannot list, `canList: false`): no
 * provider can say who holds the access, so a review covers what breakglass granted and an owner
 * confirmed, and a reviewer's Revoke becomes the grant's early end, which the revoke worker turns
 * into the owners' removal task. The line is recorded revoked when an owner presses Done.
 */

type Grant = typeof grants.$inferSelect;
type Item = typeof reviewItems.$inferSelect;

/** An owner confirmed granting it and nobody has confirmed removing it yet. */
const CONFIRMED_HELD = ['active', 'extending', 'revoking'] as const;
const RUNNING = new Set<string>(['active', 'extending']);

/** True when the target's provider cannot list who holds it, so its owners grant and remove by hand. */
export function isByHand(deps: Pick<AppDeps, 'providers'>, target: GrantTarget): boolean {
  try {
    return deps.providers.forTarget(target).canList === false;
  } catch {
    return false;
  }
}

/** A campaign's population of a resource granted by hand: breakglass's grants of it that an owner confirmed, still held. */
export async function confirmedGrantsOf(deps: Pick<AppDeps, 'db'>, resource: string): Promise<AccessEntry[]> {
  const rows = await deps.db
    .select({ grant: grants })
    .from(grants)
    .innerJoin(humanTasks, and(eq(humanTasks.grantId, grants.id), eq(humanTasks.action, 'grant'), isNotNull(humanTasks.doneAt)))
    .where(and(eq(grants.resource, resource), inArray(grants.state, CONFIRMED_HELD)))
    .orderBy(asc(grants.id));
  return rows.map(({ grant }) => ({ resource, principal: grant.principal ?? grant.email, email: grant.email, grantId: String(grant.id), ...(grant.startsAt ? { since: grant.startsAt } : {}) }));
}

/**
 * Review revokes of lines granted by hand, claimed by the review-revoke worker: each grant behind
 * the line still running ends now (`grant.end_requested`, reason review), and the line waits,
 * leased for HUMAN_LEASE_MS, for an owner's Done (resolveReviewRemovals); the worker looks again
 * after the lease. A grant whose removal an owner had already confirmed resolves the line from it.
 */
export async function handReviewRevokesToOwners(deps: AppDeps, items: Item[]): Promise<void> {
  for (const item of items) {
    const now = deps.clock.now();
    await deps.db.transaction(async (tx) => {
      const held = item.grantId === null ? [] : await tx.select().from(grants).where(and(eq(grants.id, item.grantId), inArray(grants.state, CONFIRMED_HELD))).for('update');
      if (held.length === 0) return resolveFromPastRemoval(tx, deps, item, now);
      for (const grant of held.filter((g) => RUNNING.has(g.state) && g.endsAt > now)) {
        await tx.update(grants).set({ endsAt: now, revokeReason: 'review', revokeRequestedBy: item.decidedBy }).where(eq(grants.id, grant.id));
        await deps.ledger.append(tx, {
          kind: 'grant.end_requested',
          actor: item.decidedBy ?? 'breakglass',
          ...aboutGrant(grant),
          details: { grant_id: grant.id, scheduled_end: grant.endsAt.toISOString(), reason: 'review', campaign_id: item.campaignId, item_id: item.id },
        });
      }
      await tx
        .update(reviewItems)
        .set({ revokeNextAt: new Date(now.getTime() + HUMAN_LEASE_MS), revokeLeaseHolder: null, revokeError: null })
        .where(and(eq(reviewItems.id, item.id), eq(reviewItems.revokeState, 'pending')));
    });
  }
  deps.wake.grants();
  deps.wake.outbox();
}

/** The grant was removed before the Revoke reached it: the line is revoked by that confirmed removal, if there is one. */
async function resolveFromPastRemoval(tx: Tx, deps: AppDeps, item: Item, now: Date): Promise<void> {
  const [removal] =
    item.grantId === null
      ? []
      : await tx
          .select()
          .from(humanTasks)
          .where(and(eq(humanTasks.grantId, item.grantId), eq(humanTasks.action, 'remove'), isNotNull(humanTasks.doneAt)))
          .orderBy(desc(humanTasks.doneAt))
          .limit(1);
  if (!removal?.doneAt || !removal.doneBy) {
    // Nothing says the access is gone: the line stays pending, and the card says why.
    await tx
      .update(reviewItems)
      .set({ revokeNextAt: new Date(now.getTime() + HUMAN_LEASE_MS), revokeLeaseHolder: null, revokeError: 'no removal confirmed by the owners was found for this grant' })
      .where(and(eq(reviewItems.id, item.id), eq(reviewItems.revokeState, 'pending')));
    return;
  }
  await recordLineRemoved(tx, deps, item, { grantId: null, grantsEnded: [], taskId: removal.id, by: removal.doneBy, at: removal.doneAt });
}

/**
 * In the transaction of an owner's Done on a removal: the review lines waiting on this grant are
 * revoked, each with its `grant.revoked` (reason review, confirmed by the owner). Returns true when
 * the first of them records the grant's own revocation (the grant ended because of the review), so
 * the caller writes no second one.
 */
export async function resolveReviewRemovals(tx: Tx, deps: AppDeps, grant: Grant, removal: { taskId: number; by: string; at: Date }): Promise<boolean> {
  const pending = await tx
    .select()
    .from(reviewItems)
    .where(and(eq(reviewItems.grantId, grant.id), eq(reviewItems.revokeState, 'pending')))
    .orderBy(asc(reviewItems.id))
    .for('update');
  const owns = grant.revokeReason === 'review' && pending.length > 0;
  for (const [i, item] of pending.entries()) {
    const first = owns && i === 0;
    await recordLineRemoved(tx, deps, item, { grantId: first ? grant.id : null, grantsEnded: first ? [grant.id] : [], ...removal });
  }
  return owns;
}

async function recordLineRemoved(tx: Tx, deps: AppDeps, item: Item, removal: { grantId: number | null; grantsEnded: number[]; taskId: number; by: string; at: Date }): Promise<void> {
  const [done] = await tx
    .update(reviewItems)
    .set({ revokeState: 'revoked', revokedAt: removal.at, revokeVerified: false, revokeNextAt: null, revokeError: null })
    .where(and(eq(reviewItems.id, item.id), eq(reviewItems.revokeState, 'pending')))
    .returning({ id: reviewItems.id });
  if (!done) return;
  await deps.ledger.append(tx, {
    kind: 'grant.revoked',
    actor: item.decidedBy ?? 'breakglass',
    subject: item.personSlack ?? item.email ?? item.principal,
    resource: item.resource,
    requestId: item.requestId,
    details: {
      reason: 'review',
      campaign_id: item.campaignId,
      item_id: item.id,
      principal: item.principal,
      grant_id: removal.grantId,
      grants_ended: removal.grantsEnded,
      decided_at: item.decidedAt?.toISOString() ?? null,
      revoked_at: removal.at.toISOString(),
      attempts: item.revokeAttempts,
      provider_call: 'confirmed_by_owner',
      task_id: removal.taskId,
      confirmed_by: removal.by,
      verified: false,
    },
  });
  if (item.cardId !== null) await enqueue(tx, deps.clock.now(), { type: 'review_card', cardId: item.cardId });
}
