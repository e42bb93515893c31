import { and, eq, isNull, or, sql } from 'drizzle-orm';
import { enqueue } from '../db/outbox.ts';
import { grants, humanTasks } from '../db/schema.ts';
import type { HumanTask } from '../ports.ts';
import type { HumanTaskView } from './views.ts';
import type { AppDeps } from './deps.ts';
import { aboutGrant } from './grant-evidence.ts';
import { updateGrantIf } from '../db/grants-repo.ts';

type Grant = typeof grants.$inferSelect;

/**
 * A grant waiting for a person stays `granting` (or `revoking`) under this lease: long, so the
 * recovery and revoke workers do not ask again every tick; when it runs out they ask the provider
 * again, which finds the task already open and sends nothing new.
 */
export const HUMAN_LEASE_MS = 60 * 60_000;
/** A removal at a grant's end must be confirmed within this (an offboarding's within offboarding.sla). */
export const REMOVAL_WINDOW_MS = 60 * 60_000;

/**
 * Parks a grant whose provider answered with a human task: the task is opened once (its card
 * queued to every owner, with its evidence) and the grant's lease lengthened, in one transaction.
 */
export async function awaitHuman(deps: AppDeps, grant: Grant, task: HumanTask): Promise<void> {
  const owners = await ownersOf(deps, task);
  const now = deps.clock.now();
  const state = task.awaitingHuman === 'grant' ? 'granting' : 'revoking';
  const dueAt = task.awaitingHuman === 'grant'
    ? grant.endsAt
    : new Date(now.getTime() + (grant.revokeReason === 'offboarding' ? deps.access.config.offboarding.sla : REMOVAL_WINDOW_MS));
  await deps.db.transaction(async (tx) => {
    // A person holds it now, not this process: a restart must not take it over and ask again.
    const parked = await updateGrantIf(tx, grant.id, state, { nextAttemptAt: new Date(now.getTime() + HUMAN_LEASE_MS), leaseHolder: null });
    if (!parked) return;
    const [opened] = await tx
      .insert(humanTasks)
      .values({ grantId: grant.id, action: task.awaitingHuman, system: task.system, owners, createdAt: now, dueAt })
      .onConflictDoNothing()
      .returning({ id: humanTasks.id });
    if (!opened) return;
    await deps.ledger.append(tx, {
      kind: 'manual.task_opened',
      actor: 'breakglass',
      ...aboutGrant(grant),
      details: { task_id: opened.id, grant_id: grant.id, action: task.awaitingHuman, system: task.system, owners, due_at: dueAt.toISOString() },
    });
    await enqueue(tx, now, ...owners.map((owner) => ({ type: 'human_task_card' as const, taskId: opened.id, owner })));
  });
  deps.wake.outbox();
}

/** The owners named in access.yml, the user group expanded now; a group Slack cannot expand leaves the named users. */
async function ownersOf(deps: AppDeps, task: HumanTask): Promise<string[]> {
  let members: string[] = [];
  if (task.owners.slackUsergroup) {
    try {
      members = await deps.directory.usergroupMembers(task.owners.slackUsergroup);
    } catch (error) {
      deps.logger.warn({ usergroup: task.owners.slackUsergroup, err: error instanceof Error ? error.message : String(error) }, 'could not expand the owners user group; only the listed owners get the card');
    }
  }
  return [...new Set([...task.owners.slackUsers, ...members])];
}

/** Open tasks of grants still waiting on them, for the reminder worker and read models. */
export async function openTasks(deps: AppDeps) {
  return deps.db
    .select({ task: humanTasks, grant: grants })
    .from(humanTasks)
    .innerJoin(grants, eq(grants.id, humanTasks.grantId))
    // A grant task of a grant that ended unconfirmed (now revoking) waits on nobody: its removal task does.
    .where(and(isNull(humanTasks.doneAt), or(and(eq(humanTasks.action, 'grant'), eq(grants.state, 'granting')), and(eq(humanTasks.action, 'remove'), eq(grants.state, 'revoking')))));
}

/** A task as its card shows it, read when the card is sent so it shows the state at that time. */
export async function humanTaskView(deps: Pick<AppDeps, 'db'>, taskId: number): Promise<HumanTaskView | undefined> {
  const [row] = await deps.db.select({ task: humanTasks, grant: grants }).from(humanTasks).innerJoin(grants, eq(grants.id, humanTasks.grantId)).where(eq(humanTasks.id, taskId));
  if (!row) return undefined;
  const { task, grant } = row;
  return {
    taskId: task.id,
    action: task.action,
    system: task.system,
    person: grant.person,
    email: grant.email,
    resource: grant.resource,
    endsAt: grant.endsAt,
    dueAt: task.dueAt,
    ...(task.doneBy && task.doneAt ? { done: { by: task.doneBy, at: task.doneAt, note: task.note } } : {}),
    withdrawn: !task.doneAt && grant.state !== (task.action === 'grant' ? 'granting' : 'revoking'),
  };
}

/** Remembers where an owner's card was posted, so it is updated in place once done. */
export async function rememberTaskCard(deps: Pick<AppDeps, 'db'>, taskId: number, owner: string, card: { channel: string; ts: string }): Promise<void> {
  await deps.db
    .update(humanTasks)
    .set({ cards: sql`${humanTasks.cards} || ${JSON.stringify({ [owner]: card })}::jsonb` })
    .where(eq(humanTasks.id, taskId));
}
