import { and, eq, isNull } from 'drizzle-orm';
import { enqueue } from '../db/outbox.ts';
import { humanTasks } from '../db/schema.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';
import { openTasks } from './human-tasks.ts';
import { endUnconfirmedGrants } from './end-unconfirmed-grants.ts';

/**
 * Owners who have not pressed Done are reminded once half the time to the task's due date has
 * passed, and the security channel is alerted at the due date. Each step happens once per task
 * (the column it sets is its guard), with its evidence.
 */
export async function remindHumanTasks(deps: AppDeps): Promise<number> {
  // First, so a grant task whose grant ended unconfirmed gets that one alert, not also the overdue one.
  let acted = await endUnconfirmedGrants(deps);
  const now = deps.clock.now();
  for (const { task, grant } of await openTasks(deps)) {
    const halfway = task.createdAt.getTime() + (task.dueAt.getTime() - task.createdAt.getTime()) / 2;
    const facts = { taskId: task.id, action: task.action, system: task.system, person: grant.person, email: grant.email, dueAt: task.dueAt.toISOString() };
    const about = { subject: grant.person, resource: grant.resource, requestId: grant.requestId };
    if (!task.escalatedAt && now >= task.dueAt) {
      await deps.db.transaction(async (tx) => {
        const [mine] = await tx.update(humanTasks).set({ escalatedAt: now }).where(and(eq(humanTasks.id, task.id), isNull(humanTasks.escalatedAt), isNull(humanTasks.doneAt))).returning({ id: humanTasks.id });
        if (!mine) return;
        const alertId = await raiseAlert(tx, deps, { kind: 'human_task_overdue', notification: { kind: 'human_task_overdue', ...facts, owners: task.owners }, grantId: grant.id, ...about });
        await deps.ledger.append(tx, { kind: 'manual.escalated', actor: 'breakglass', ...about, details: { task_id: task.id, grant_id: grant.id, action: task.action, due_at: facts.dueAt, alert_id: alertId } });
      });
      acted++;
    } else if (!task.remindedAt && !task.escalatedAt && now.getTime() >= halfway) {
      await deps.db.transaction(async (tx) => {
        const [mine] = await tx.update(humanTasks).set({ remindedAt: now }).where(and(eq(humanTasks.id, task.id), isNull(humanTasks.remindedAt), isNull(humanTasks.doneAt))).returning({ id: humanTasks.id });
        if (!mine) return;
        await deps.ledger.append(tx, { kind: 'manual.reminded', actor: 'breakglass', ...about, details: { task_id: task.id, grant_id: grant.id, action: task.action, owners: task.owners, due_at: facts.dueAt } });
        await enqueue(tx, now, ...task.owners.map((owner) => ({ type: 'notify_user' as const, user: owner, notification: { kind: 'human_task_reminder' as const, ...facts } })));
      });
      acted++;
    }
  }
  if (acted > 0) deps.wake.outbox();
  return acted;
}
