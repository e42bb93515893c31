import { and, eq, gt, inArray, isNull, lte, ne, or, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { claimDue } from '../db/claim-due.ts';
import { enqueue } from '../db/outbox.ts';
import { accessRequests, grants, requestApprovals, slackMessages, type OutboxMessage } from '../db/schema.ts';
import type { AppDeps } from './deps.ts';

type AccessRequest = typeof accessRequests.$inferSelect;

/**
 * Holders of access ending within their resource's remind_before get one reminder for that end,
 * claimed with the lease pattern, so replicas never send it twice; an extension moves the end and
 * earns a new one. Access shorter than remind_before is not reminded: its grant notice said when.
 */
export async function remindEndingAccess(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const config = deps.access.config;
  const endsSoon = Object.entries(config.resources).map(([name, resource]) => {
    const remindAt = new Date(now.getTime() + (resource.remind_before ?? config.remind_before));
    return and(eq(grants.resource, name), lte(grants.endsAt, remindAt), sql`${grants.startsAt} < ${grants.endsAt} - ${`${resource.remind_before ?? config.remind_before} milliseconds`}::interval`);
  });
  const reminded = await claimDue(deps.db, {
    table: grants,
    id: grants.id,
    // Access already past its end is being revoked: "ends at" would be news from the past.
    isDue: and(eq(grants.state, 'active'), gt(grants.endsAt, now), or(isNull(grants.endRemindedFor), ne(grants.endRemindedFor, grants.endsAt)), or(...endsSoon)),
    limit: 50,
    claim: async (tx, ids) => {
      const due = await tx.update(grants).set({ endRemindedFor: sql`${grants.endsAt}` }).where(inArray(grants.id, ids)).returning();
      const messages = due.map((grant): OutboxMessage => ({
        type: 'notify_user',
        user: grant.person,
        notification: { kind: 'access_ending', requestId: grant.requestId, grantId: grant.id, resource: grant.resource, endsAt: grant.endsAt.toISOString() },
      }));
      await enqueue(tx, now, ...messages);
      for (const grant of due) {
        const remindBeforeMs = config.resources[grant.resource]?.remind_before ?? config.remind_before;
        await deps.ledger.append(tx, {
          kind: 'reminder.sent',
          actor: 'breakglass',
          subject: grant.person,
          resource: grant.resource,
          requestId: grant.requestId,
          details: { reminder: 'access_ending', grant_id: grant.id, to: [grant.person], ends_at: grant.endsAt.toISOString(), remind_before_ms: remindBeforeMs, config_hash: deps.access.hash },
        });
      }
      return due;
    },
  });
  if (reminded.length > 0) deps.wake.outbox();
  return reminded.length;
}

/**
 * Approvers who have not decided a request still pending halfway to its request_ttl get one reminder.
 * A request already past its request_ttl is expiring, not waiting: no one is asked to decide it.
 */
export async function remindPendingApprovers(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const reminded = await claimDue(deps.db, {
    table: accessRequests,
    id: accessRequests.id,
    isDue: and(
      eq(accessRequests.state, 'pending'),
      isNull(accessRequests.approversRemindedAt),
      gt(accessRequests.pendingUntil, now),
      sql`${accessRequests.createdAt} + (${accessRequests.pendingUntil} - ${accessRequests.createdAt}) / 2 <= ${now.toISOString()}::timestamptz`,
    ),
    limit: 50,
    claim: async (tx, ids) => {
      const due = await tx.update(accessRequests).set({ approversRemindedAt: now }).where(inArray(accessRequests.id, ids)).returning();
      const approved = await tx.select().from(requestApprovals).where(inArray(requestApprovals.requestId, ids));
      // A card posted in an approval channel is not "above" in the approver's DMs: the reminder says where it is.
      const channelCards = await tx
        .select({ requestId: slackMessages.requestId, channel: slackMessages.channel })
        .from(slackMessages)
        .where(and(inArray(slackMessages.requestId, ids), eq(slackMessages.purpose, 'approval'), sql`${slackMessages.recipient} = ${slackMessages.channel}`));
      for (const request of due) {
        const decided = new Set(approved.filter((a) => a.requestId === request.id).map((a) => a.approver));
        const waiting = request.approvers.filter((approver) => !decided.has(approver));
        const channel = channelCards.find((card) => card.requestId === request.id)?.channel;
        if (waiting.length > 0) await remindApprovers(tx, deps, request, waiting, channel);
      }
      return due;
    },
  });
  if (reminded.length > 0) deps.wake.outbox();
  return reminded.length;
}

/** One reminder to each approver still to decide, and its evidence, in the claim's transaction. */
async function remindApprovers(tx: Tx, deps: AppDeps, request: AccessRequest, waiting: string[], channel: string | undefined): Promise<void> {
  const facts = { requestId: request.id, requester: request.requester, resource: request.resource, pendingUntil: request.pendingUntil.toISOString() };
  await enqueue(
    tx,
    deps.clock.now(),
    ...waiting.map((approver): OutboxMessage => ({
      type: 'notify_user',
      user: approver,
      notification: channel ? { kind: 'approval_reminder_in_channel', ...facts, channel } : { kind: 'approval_reminder', ...facts },
    })),
  );
  await deps.ledger.append(tx, {
    kind: 'reminder.sent',
    actor: 'breakglass',
    subject: request.requester,
    resource: request.resource,
    requestId: request.id,
    details: { reminder: 'pending_approvers', to: waiting, pending_until: facts.pendingUntil, config_hash: deps.access.hash },
  });
}
