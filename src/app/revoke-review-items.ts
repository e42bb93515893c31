import { and, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import { enqueue } from '../db/outbox.ts';
import { grants, reviewCampaigns, reviewItems, type OutboxMessage } from '../db/schema.ts';
import type { AccessEntry, GrantSpec, GrantTarget, SessionsEnded } from '../ports.ts';
import { raiseAlert } from './alerts.ts';
import { recordSessionsEnded, sessionsEndedBy } from './grant-evidence.ts';
import { cancelPendingExtensions } from './cancel-extensions.ts';
import type { AppDeps } from './deps.ts';
import { noteListing } from './record-listing.ts';
import { revokeRetryAt } from './revoke-retry.ts';
import { mapLimit } from './limit.ts';
import { claimDue } from '../db/claim-due.ts';
import { handReviewRevokesToOwners, isByHand } from './manual-review.ts';

/**
 * While one process revokes an item no other does; a crash frees it after this. Short, so a revoke
 * cut by a crash is finished soon after the restart (a second, overlapping revoke is harmless:
 * revoking is idempotent and only one `grant.revoked` commits). Longer than MAX_REVOKE_BACKOFF_MS.
 */
export const REVOKE_LEASE_MS = 30_000;
const BATCH = 50;
const CONCURRENCY = 4;

type Item = typeof reviewItems.$inferSelect;

/**
 * Carries out review revocations: at the click (given `itemIds`) and, for anything that failed
 * or was left behind, from the worker. Items are claimed with FOR UPDATE SKIP LOCKED and leased,
 * so replicas never revoke one twice; the provider is called outside any transaction; the result
 * is verified with listAccess (the person must be gone) before `grant.revoked` (reason `review`)
 * is committed. A failure is retried with backoff for as long as it takes and alerted once.
 * Returns how many items it claimed.
 */
export async function revokeReviewItems(deps: AppDeps, options: { itemIds?: number[]; leasedByCaller?: boolean } = {}): Promise<number> {
  const claimed = await claim(deps, options.itemIds, options.leasedByCaller === true);
  if (claimed.length === 0) return 0;
  const targets = await targetsOf(deps, claimed);
  // Granted by hand: nothing to call or list; the owners remove it and their Done is the evidence.
  const byHand = claimed.filter((item) => {
    const target = targets.get(item.campaignId)?.[item.resource];
    return target !== undefined && isByHand(deps, target);
  });
  if (byHand.length > 0) await handReviewRevokesToOwners(deps, byHand);
  const sessionsByItem = new Map<number, { provider: string; sessions: SessionsEnded }>();
  const attempted = await mapLimit(claimed.filter((item) => !byHand.includes(item)), CONCURRENCY, async (item) => {
    const target = targets.get(item.campaignId)?.[item.resource];
    if (!target) return { item, error: `\`${item.resource}\` has no grant target recorded in review #${item.campaignId}` };
    try {
      const answer = await deps.providers.forTarget(target).revoke(specOf(item, target));
      const sessions = sessionsEndedBy(answer);
      if (sessions) sessionsByItem.set(item.id, { provider: deps.providers.forTarget(target).name, sessions });
      return { item, target };
    } catch (error) {
      return { item, error: error instanceof Error ? error.message : String(error) };
    }
  });

  const failures = new Map<number, string>(attempted.flatMap((a) => ('error' in a && a.error ? [[a.item.id, a.error] as const] : [])));
  const verified = await verifyGone(deps, attempted, failures);
  for (const item of verified) await recordRevoked(deps, item, sessionsByItem.get(item.id));
  for (const item of claimed) {
    const error = failures.get(item.id);
    if (error !== undefined) await recordFailure(deps, item, error);
  }
  deps.wake.outbox();
  return claimed.length;
}

/** One listing per resource tells whether each revoked person is really gone; what is not goes into `failures`. */
async function verifyGone(deps: AppDeps, attempted: Array<{ item: Item; target?: GrantTarget; error?: string }>, failures: Map<number, string>): Promise<Item[]> {
  const byResource = new Map<string, { target: GrantTarget; items: Item[] }>();
  for (const a of attempted) {
    if (!a.target) continue;
    const group = byResource.get(`${a.item.campaignId}\n${a.item.resource}`) ?? { target: a.target, items: [] };
    group.items.push(a.item);
    byResource.set(`${a.item.campaignId}\n${a.item.resource}`, group);
  }
  const verified: Item[] = [];
  for (const { target, items } of byResource.values()) {
    let listed: AccessEntry[];
    try {
      const provider = deps.providers.forTarget(target);
      listed = await provider.listAccess(items[0]!.resource, target);
      await noteListing(deps, { resource: items[0]!.resource, provider: provider.name, entries: listed, source: 'revoke' });
    } catch (error) {
      for (const item of items) failures.set(item.id, `revoked, but could not verify: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const still = new Set(listed.map((e) => e.principal.toLowerCase()));
    for (const item of items) {
      if (still.has(item.principal.toLowerCase())) failures.set(item.id, `the provider still lists ${item.principal} after the revoke`);
      else verified.push(item);
    }
  }
  return verified;
}

/**
 * `leasedByCaller`: the caller committed these items' decisions with a lease of its own (a Revoke
 * click), so the worker leaves them alone while the click carries them out at once.
 */
async function claim(deps: AppDeps, itemIds: number[] | undefined, leasedByCaller: boolean): Promise<Item[]> {
  if (itemIds && itemIds.length === 0) return [];
  const now = deps.clock.now();
  const due = leasedByCaller ? undefined : or(isNull(reviewItems.revokeNextAt), lte(reviewItems.revokeNextAt, now));
  const isDue = and(eq(reviewItems.revokeState, 'pending'), due, itemIds ? inArray(reviewItems.id, itemIds) : undefined);
  return claimDue(deps.db, {
    table: reviewItems,
    id: reviewItems.id,
    isDue,
    limit: BATCH,
    // The caller's own lease means no other worker claims these; a lock held now is a concurrent
    // click on the same line, which commits at once: wait for it rather than skip the revoke.
    whenLocked: leasedByCaller ? 'wait' : 'skip',
    claim: (tx, ids) =>
      tx
        .update(reviewItems)
        .set({ revokeNextAt: new Date(now.getTime() + REVOKE_LEASE_MS), revokeLeaseHolder: deps.leaseHolder ?? null, revokeAttempts: sql`${reviewItems.revokeAttempts} + 1` })
        .where(inArray(reviewItems.id, ids))
        .returning(),
  });
}

async function targetsOf(deps: AppDeps, items: Item[]): Promise<Map<number, Record<string, GrantTarget>>> {
  const ids = [...new Set(items.map((i) => i.campaignId))];
  const rows = await deps.db.select({ id: reviewCampaigns.id, targets: reviewCampaigns.targets }).from(reviewCampaigns).where(inArray(reviewCampaigns.id, ids));
  return new Map(rows.map((r) => [r.id, r.targets ?? {}]));
}

/** The provider knows the person by the principal it listed (the Okta login, the IAM user name, …). */
function specOf(item: Item, target: GrantTarget): GrantSpec {
  return {
    grantId: item.grantId !== null ? String(item.grantId) : `review-item-${item.id}`,
    resource: item.resource,
    target,
    person: { email: item.email ?? item.principal, principal: item.principal, ...(item.personSlack ? { slackUserId: item.personSlack } : {}) },
    expiresAt: new Date(),
  };
}

const subjectOf = (item: Item) => item.personSlack ?? item.email ?? item.principal;

/** Who decided a review line's revoke (else breakglass), and whose access to what, under which request: the envelope of its events. */
const aboutItem = (item: Item) => ({ actor: item.decidedBy ?? 'breakglass', subject: subjectOf(item), resource: item.resource, requestId: item.requestId });

async function recordRevoked(deps: AppDeps, item: Item, sessionsEnded?: { provider: string; sessions: SessionsEnded }): Promise<void> {
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    const [done] = await tx
      .update(reviewItems)
      .set({ revokeState: 'revoked', revokedAt: now, revokeVerified: true, revokeNextAt: null, revokeError: null })
      .where(and(eq(reviewItems.id, item.id), eq(reviewItems.revokeState, 'pending')))
      .returning({ id: reviewItems.id });
    if (!done) return;
    // The breakglass grants behind this access are over too: the expiry worker must not revoke again.
    const behind = item.email
      ? and(eq(grants.resource, item.resource), or(sql`lower(${grants.email}) = ${item.email.toLowerCase()}`, item.grantId !== null ? eq(grants.id, item.grantId) : undefined))
      : undefined;
    const ended = behind
      ? await tx
          .update(grants)
          .set({ state: 'revoked', revokedAt: now, revokeReason: 'review', revokeRequestedBy: item.decidedBy, nextAttemptAt: null })
          .where(and(behind, eq(grants.state, 'active')))
          .returning({ id: grants.id, requestId: grants.requestId, revokeReason: grants.revokeReason })
      : [];
    await cancelPendingExtensions(tx, deps, ended, now);
    // An extension in flight may re-grant after this revoke: it is ended instead, so the extension
    // gives nothing and the revoke worker takes the access once it has finished.
    if (behind) await tx.update(grants).set({ endsAt: now, revokeReason: 'review', revokeRequestedBy: item.decidedBy }).where(and(behind, eq(grants.state, 'extending')));
    await deps.ledger.append(tx, {
      kind: 'grant.revoked',
      ...aboutItem(item),
      details: {
        reason: 'review',
        campaign_id: item.campaignId,
        item_id: item.id,
        principal: item.principal,
        grant_id: item.grantId,
        grants_ended: ended.map((g) => g.id),
        decided_at: item.decidedAt?.toISOString() ?? null,
        revoked_at: now.toISOString(),
        attempts: item.revokeAttempts,
        provider_call: 'revoked',
        verified: true,
      },
    });
    if (sessionsEnded) await recordSessionsEnded(tx, deps, aboutItem(item), { grantId: item.grantId, ...sessionsEnded, reason: 'review', principal: item.principal, reviewItemId: item.id });
    const messages: OutboxMessage[] = [];
    if (item.cardId !== null) messages.push({ type: 'review_card', cardId: item.cardId });
    if (item.personSlack) {
      messages.push({
        type: 'notify_user',
        user: item.personSlack,
        notification: { kind: 'review_access_removed', campaignId: item.campaignId, resource: item.resource, decidedBy: item.decidedBy && item.decidedBy !== 'breakglass' ? item.decidedBy : null },
      });
    }
    await enqueue(tx, now, ...messages);
  });
}

async function recordFailure(deps: AppDeps, item: Item, message: string): Promise<void> {
  const now = deps.clock.now();
  const retryAt = revokeRetryAt(now, item.revokeAttempts);
  deps.logger.warn({ itemId: item.id, campaignId: item.campaignId, resource: item.resource, attempts: item.revokeAttempts, err: message, retryAt }, 'review revoke failed; will retry');
  await deps.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(reviewItems)
      // A backoff, not a lease: no process holds the line until the retry claims it.
      .set({ revokeNextAt: retryAt, revokeLeaseHolder: null, revokeError: message, ...(item.revokeAlertedAt ? {} : { revokeAlertedAt: now }) })
      .where(and(eq(reviewItems.id, item.id), eq(reviewItems.revokeState, 'pending')))
      .returning({ id: reviewItems.id });
    if (!updated) return;
    if (item.cardId !== null) await enqueue(tx, now, { type: 'review_card', cardId: item.cardId });
    // The first failure is evidence and an alert; later retries only update the row.
    if (item.revokeAlertedAt) return;
    await deps.ledger.append(tx, {
      kind: 'grant.revoke_failed',
      ...aboutItem(item),
      details: { reason: 'review', campaign_id: item.campaignId, item_id: item.id, principal: item.principal, error: message, attempts: item.revokeAttempts, retrying: true },
    });
    await raiseAlert(tx, deps, {
      kind: 'review_revoke_failed',
      notification: { kind: 'review_revoke_failed', campaignId: item.campaignId, person: item.personName ?? item.principal, resource: item.resource, error: message },
      requestId: item.requestId ?? undefined,
      subject: subjectOf(item),
      resource: item.resource,
    });
  });
}
