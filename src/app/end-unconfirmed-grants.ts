import { and, eq, isNull, lte } from 'drizzle-orm';
import { updateGrantIf } from '../db/grants-repo.ts';
import { enqueue } from '../db/outbox.ts';
import { grants, humanTasks } from '../db/schema.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';
import { aboutGrant } from './grant-evidence.ts';

/**
 * Grants the owners were asked to give by hand and nobody confirmed, past their end (or an early
 * end: offboarding, `/breakglass end`). Whether the access was given is unknown, and the evidence
 * must not guess: the grant moves to `revoking` (reason `ended_unconfirmed` unless something else
 * ended it), so the revoke worker opens the owners' removal task as for any end; the grant task's
 * card is withdrawn; `manual.grant_unconfirmed` and one security alert (which stands in for the
 * grant task's own escalation) commit with the change. Returns how many grants it ended.
 */
export async function endUnconfirmedGrants(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const due = await deps.db
    .select({ task: humanTasks, grant: grants })
    .from(humanTasks)
    .innerJoin(grants, eq(grants.id, humanTasks.grantId))
    .where(and(eq(humanTasks.action, 'grant'), isNull(humanTasks.doneAt), eq(grants.state, 'granting'), lte(grants.endsAt, now)));
  let ended = 0;
  for (const { task, grant } of due) {
    const moved = await deps.db.transaction(async (tx) => {
      if (!(await updateGrantIf(tx, grant.id, 'granting', { state: 'revoking', revokeReason: grant.revokeReason ?? 'ended_unconfirmed', nextAttemptAt: null, lastError: null }))) return false;
      await tx.update(humanTasks).set({ escalatedAt: now }).where(and(eq(humanTasks.id, task.id), isNull(humanTasks.escalatedAt)));
      const facts = { taskId: task.id, system: task.system, person: grant.person, email: grant.email, owners: task.owners, endsAt: grant.endsAt.toISOString() };
      const alertId = await raiseAlert(tx, deps, { kind: 'manual_grant_unconfirmed', notification: { kind: 'manual_grant_unconfirmed', ...facts }, grantId: grant.id, ...aboutGrant(grant) });
      await deps.ledger.append(tx, {
        kind: 'manual.grant_unconfirmed',
        actor: 'breakglass',
        ...aboutGrant(grant),
        details: { task_id: task.id, grant_id: grant.id, system: task.system, owners: task.owners, ends_at: facts.endsAt, alert_id: alertId },
      });
      await enqueue(tx, now, ...task.owners.map((owner) => ({ type: 'human_task_card' as const, taskId: task.id, owner })), { type: 'refresh_cards', requestId: grant.requestId });
      return true;
    });
    if (moved) ended++;
  }
  if (ended > 0) {
    deps.wake.grants();
    deps.wake.outbox();
  }
  return ended;
}
