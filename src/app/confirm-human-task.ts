import { and, eq, isNull } from 'drizzle-orm';
import { enqueue } from '../db/outbox.ts';
import { grants, humanTasks } from '../db/schema.ts';
import { Refusal, type AppDeps } from './deps.ts';
import type { Tx } from '../db/client.ts';
import { aboutGrant } from './grant-evidence.ts';
import { resolveReviewRemovals } from './manual-review.ts';

/** The open task, when this user may press its Done: before the note modal opens, and again on submit. */
export async function checkMayConfirm(deps: Pick<AppDeps, 'db'>, input: { taskId: number; user: string }) {
  const [task] = await deps.db.select().from(humanTasks).where(eq(humanTasks.id, input.taskId));
  if (!task) throw new Refusal({ code: 'no_task', taskId: input.taskId });
  if (!task.owners.includes(input.user)) throw new Refusal({ code: 'not_task_owner', system: task.system });
  if (task.doneAt) throw new Refusal({ code: 'task_already_done', system: task.system, by: task.doneBy });
  // The grant moved on (it ended before anyone confirmed granting it): the card is stale.
  const [grant] = await deps.db.select({ state: grants.state }).from(grants).where(eq(grants.id, task.grantId));
  if (grant?.state !== (task.action === 'grant' ? 'granting' : 'revoking')) throw new Refusal({ code: 'task_withdrawn', system: task.system });
  return task;
}

/** Changes nothing: the grant moved on (ended, failed) while the card waited. */
class StaleTask extends Error {}

/**
 * An owner's Done on a task card: the evidence that they made the change by hand. Granting turns
 * the grant active; removing revokes it; both in the transaction that records who, when and the
 * note. Only an owner's click counts, and only the first: a repeated or stale click changes nothing.
 */
export async function confirmHumanTask(deps: AppDeps, input: { taskId: number; user: string; note: string | null }): Promise<{ action: 'grant' | 'remove'; system: string }> {
  const task = await checkMayConfirm(deps, input);
  const now = deps.clock.now();
  try {
    await deps.db.transaction(async (tx) => {
      const [done] = await tx
        .update(humanTasks)
        .set({ doneBy: input.user, doneAt: now, note: input.note })
        .where(and(eq(humanTasks.id, task.id), isNull(humanTasks.doneAt)))
        .returning({ id: humanTasks.id });
      if (!done) throw new Refusal({ code: 'task_already_done', system: task.system, by: null });
      const confirmed = { task_id: task.id, grant_id: task.grantId, system: task.system, note: input.note, opened_at: task.createdAt.toISOString(), confirmed_at: now.toISOString() };
      const [grant] = await tx
        .update(grants)
        .set(task.action === 'grant' ? { state: 'active', startsAt: now, nextAttemptAt: null } : { state: 'revoked', revokedAt: now, nextAttemptAt: null, lastError: null })
        .where(and(eq(grants.id, task.grantId), eq(grants.state, task.action === 'grant' ? 'granting' : 'revoking')))
        .returning();
      if (!grant) throw new StaleTask();
      const about = { subject: grant.person, resource: grant.resource, requestId: grant.requestId };
      if (task.action === 'grant') {
        await deps.ledger.append(tx, { kind: 'manual.grant_confirmed', actor: input.user, ...about, details: confirmed });
        await deps.ledger.append(tx, {
          kind: 'grant.applied',
          actor: input.user,
          ...about,
          details: { grant_id: grant.id, provider: 'manual', target: { ...grant.target }, starts_at: now.toISOString(), ends_at: grant.endsAt.toISOString(), provider_expiry: grant.endsAt.toISOString(), emergency: grant.emergency },
        });
        await enqueue(tx, now, { type: 'notify_user', user: grant.person, notification: { kind: 'grant_active', requestId: grant.requestId, resource: grant.resource, endsAt: grant.endsAt.toISOString() } });
      } else {
        await deps.ledger.append(tx, { kind: 'manual.removal_confirmed', actor: input.user, ...about, details: confirmed });
        await recordRemoved(tx, deps, grant, { taskId: task.id, by: input.user, at: now });
      }
      await enqueue(tx, now, { type: 'refresh_cards', requestId: grant.requestId }, ...task.owners.map((owner) => ({ type: 'human_task_card' as const, taskId: task.id, owner })));
    });
  } catch (error) {
    if (error instanceof StaleTask) throw new Refusal({ code: 'task_already_done', system: task.system, by: null });
    throw error;
  }
  deps.wake.outbox();
  deps.wake.grants();
  return { action: task.action, system: task.system };
}

/** The grant's `grant.revoked` on an owner's Done; a review's Revoke that ended it records it with the review line (manual-review.ts). */
async function recordRemoved(tx: Tx, deps: AppDeps, grant: typeof grants.$inferSelect, removal: { taskId: number; by: string; at: Date }): Promise<void> {
  const now = removal.at;
  const reason = grant.revokeReason ?? 'expired';
  if (!(await resolveReviewRemovals(tx, deps, grant, removal))) {
    await deps.ledger.append(tx, {
      kind: 'grant.revoked',
      actor: removal.by,
      ...aboutGrant(grant),
      details: { grant_id: grant.id, reason, ends_at: grant.endsAt.toISOString(), revoked_at: now.toISOString(), late_by_ms: Math.max(0, now.getTime() - grant.endsAt.getTime()), attempts: grant.attempts, provider_call: 'confirmed_by_owner' },
    });
  }
  await enqueue(tx, now, { type: 'notify_user', user: grant.person, notification: { kind: 'grant_ended', requestId: grant.requestId, resource: grant.resource, reason } });
}
