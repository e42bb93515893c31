import { and, eq, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { beginExtension, insertGrant, isRunning } from '../db/grants-repo.ts';
import { enqueue } from '../db/outbox.ts';
import { accessRequests, grants, requestApprovals } from '../db/schema.ts';
import { eligibleApprovers } from '../domain/policy.ts';
import type { EventDetails } from '../domain/events.ts';
import { applyGrant, type ApplyResult } from './apply-grant.ts';
import { cancelPendingExtensions } from './cancel-extensions.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { extendGrant } from './extend-grant.ts';
import { describeLeft, leaverStatus, offboardedSince, type LeftFacts, type PersonRef } from './leavers.ts';
import { underOnePolicy } from './policy-in-force.ts';
import { principalOverride } from '../providers/registry.ts';
import { usergroupLookup } from './usergroups.ts';
import { learnSlackUser } from './people-sightings.ts';

export type DecisionOutcome =
  | { kind: 'approved'; requestId: number; extension: boolean; final: boolean; approvals: number; required: number; grant?: ApplyResult }
  | { kind: 'denied'; requestId: number };

type Request = typeof accessRequests.$inferSelect;
type Grant = typeof grants.$inferSelect;

/**
 * One approver's Approve click. The request row is locked for the decision, so concurrent and
 * repeated clicks are serialised: each approver counts once, and only the click that reaches
 * `approvals_required` moves the request on — and only that one calls the provider. An extension
 * also locks the grant it extends: access that has ended cancels the request instead, and the
 * final approval moves the grant to `extending`, so one extension is applied at a time and never
 * beside a revoke.
 */
export async function approveRequest(depsInForce: AppDeps, input: { requestId: number; approver: string; verification?: Verification }): Promise<DecisionOutcome> {
  // One policy version decides it, and its hash is the one recorded, however a reload lands meanwhile.
  const deps = underOnePolicy(depsInForce);
  const approvers = await currentApprovers(deps);
  const leaver = await requesterStatus(deps, input.requestId);
  const now = deps.clock.now();
  const decided = await deps.db.transaction(async (tx) => {
    const { request, extended } = await lockPending(tx, input.requestId, now);
    assertMayDecide(request, input.approver, approvers(request), 'approve');
    const verification = input.verification ?? SLACK_SESSION;
    assertVerified(deps, request, verification);
    // The deactivation may have arrived since the request was made, or even since the check above.
    const left = leaver.left ?? (await offboardedSince(tx, requesterOf(request), leaver.seenSeq));
    if (left) throw new Refusal({ code: 'approver_left', requester: request.requester, requestId: request.id, left: describeLeft(left) });
    if (extended && !isRunning(extended, now)) {
      await cancelPendingExtensions(tx, deps, [extended], now);
      return { request, ended: true };
    }
    const { count, final } = await recordApproval(tx, deps, request, { approver: input.approver, verification }, now);
    const grantId = final ? await startGrant(tx, deps, { request, extended, approver: input.approver, now }) : undefined;
    await enqueue(tx, now, { type: 'refresh_cards', requestId: request.id });
    return { request, count, final, grantId };
  });
  deps.wake.outbox();
  if ('ended' in decided) throw new Refusal({ code: 'extended_access_ended', requestId: decided.request.id });
  const extension = decided.request.extendsGrantId !== null;
  const outcome: DecisionOutcome = { kind: 'approved', requestId: decided.request.id, extension, final: decided.final, approvals: decided.count, required: decided.request.approvalsRequired };
  // The approver is recorded as a person once the approval counted, and after the grant: it must not delay access.
  if (decided.grantId === undefined) {
    await learnSlackUser(deps, 'decision', input.approver);
    return outcome;
  }
  const grant = await (extension ? extendGrant : applyGrant)(deps, decided.grantId);
  await learnSlackUser(deps, 'decision', input.approver);
  return { ...outcome, grant };
}

/** This approver's approval and its request.approved event; whether it is the one that completes the count. */
async function recordApproval(tx: Tx, deps: AppDeps, request: Request, by: { approver: string; verification: Verification }, now: Date): Promise<{ count: number; final: boolean }> {
  const { approver } = by;
  const inserted = await tx.insert(requestApprovals).values({ requestId: request.id, approver, approvedAt: now }).onConflictDoNothing().returning();
  if (inserted.length === 0) throw new Refusal({ code: 'already_approved', requestId: request.id, required: request.approvalsRequired });
  const [{ count }] = (await tx
    .select({ count: sql<number>`count(*)::int` })
    .from(requestApprovals)
    .where(eq(requestApprovals.requestId, request.id))) as [{ count: number }];
  const final = count >= request.approvalsRequired;
  await deps.ledger.append(tx, {
    kind: 'request.approved',
    actor: approver,
    subject: request.requester,
    resource: request.resource,
    requestId: request.id,
    details: { approvals: count, approvals_required: request.approvalsRequired, final, config_hash: deps.access.hash, verification: by.verification },
  });
  return { count, final };
}

/** How an approver was verified, as request.approved records it. */
export type Verification = NonNullable<Extract<EventDetails<'request.approved'>, { approvals: number }>['verification']>;

const SLACK_SESSION: Verification = { method: 'slack_session' };

/** A resource whose approvals need a step-up counts only an approval that went through one: the policy may have changed since the click. */
function assertVerified(deps: AppDeps, request: Request, verification: Verification): void {
  const stepUp = deps.access.config.resources[request.resource]?.approval?.step_up;
  if (stepUp === 'okta_verify' && verification.method !== 'okta_verify_push') throw new Refusal({ code: 'step_up_required', requestId: request.id, resource: request.resource });
}

/**
 * The final approval: the request approved, and its grant row inserted (or the grant it extends
 * moved to `extending`) for the provider call after the transaction. Returns the grant's id.
 */
async function startGrant(tx: Tx, deps: AppDeps, decision: { request: Request; extended: Grant | undefined; approver: string; now: Date }): Promise<number> {
  const { request, extended, now } = decision;
  await tx.update(accessRequests).set({ state: 'approved', decidedAt: now, decidedBy: decision.approver }).where(and(eq(accessRequests.id, request.id), eq(accessRequests.state, 'pending')));
  const resource = deps.access.config.resources[request.resource];
  if (!resource) throw new Refusal({ code: 'resource_gone', resource: request.resource });
  if (extended && !(await beginExtension(tx, extended.id, request.id, now, deps.leaseHolder))) {
    throw new Refusal({ code: 'approval_blocked_by_extension', requestId: request.id, extensionRequestId: extended.extensionRequestId });
  }
  if (extended) return extended.id;
  const principal = principalOverride(resource.grant, request.requesterEmail, deps.access.config.people[request.requester]);
  return insertGrant(tx, {
    requestId: request.id,
    ask: { requester: request.requester, resource: request.resource, durationMs: request.durationMs, email: request.requesterEmail, principal },
    target: resource.grant,
    emergency: false,
    now,
    holder: deps.leaseHolder,
  });
}

const requesterOf = (request: Request): PersonRef => ({ emails: [request.requesterEmail], slackUserId: request.requester });

/** Whether a pending request's requester has left; asked outside the decision's transaction, since it may ask Slack and Okta. */
async function requesterStatus(deps: AppDeps, requestId: number): Promise<{ seenSeq: number; left?: LeftFacts | undefined }> {
  const [request] = await deps.db.select().from(accessRequests).where(eq(accessRequests.id, requestId));
  return request?.state === 'pending' ? leaverStatus(deps, requesterOf(request)) : { seenSeq: 0 };
}

/** A Deny, with the reason the approver gave in the modal. */
export async function denyRequest(depsInForce: AppDeps, input: { requestId: number; approver: string; reason: string }): Promise<DecisionOutcome> {
  // One policy version decides it, and its hash is the one recorded, however a reload lands meanwhile.
  const deps = underOnePolicy(depsInForce);
  const reason = input.reason.trim();
  if (reason === '') throw new Refusal({ code: 'denial_needs_reason' });
  const approvers = await currentApprovers(deps);
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    const { request } = await lockPending(tx, input.requestId, now);
    assertMayDecide(request, input.approver, approvers(request), 'deny');
    await tx.update(accessRequests).set({ state: 'denied', decidedAt: now, decidedBy: input.approver, denyReason: reason }).where(eq(accessRequests.id, request.id));
    await deps.ledger.append(tx, {
      kind: 'request.denied',
      actor: input.approver,
      subject: request.requester,
      resource: request.resource,
      requestId: request.id,
      details: { reason, config_hash: deps.access.hash },
    });
    await enqueue(
      tx,
      now,
      { type: 'refresh_cards', requestId: request.id },
      { type: 'notify_user', user: request.requester, notification: { kind: 'request_denied', requestId: request.id, resource: request.resource, approver: input.approver, reason } },
    );
  });
  deps.wake.outbox();
  await learnSlackUser(deps, 'decision', input.approver);
  return { kind: 'denied', requestId: input.requestId };
}

/** Who may decide now, by the policy in force now (not the one the cards were sent under). */
async function currentApprovers(deps: AppDeps): Promise<(request: Request) => string[]> {
  const members = await usergroupLookup(deps.access.config, deps.directory);
  return (request) => {
    const resource = deps.access.config.resources[request.resource];
    return resource ? eligibleApprovers(resource, request.requester, members) : [];
  };
}

/**
 * Whether `user` may decide the request now, without deciding it: the Deny button asks this
 * before it opens the reason modal. Throws the Refusal the decision itself would give.
 */
export async function checkMayDecide(deps: AppDeps, input: { requestId: number; user: string; verb: 'approve' | 'deny' }): Promise<Request> {
  const approvers = await currentApprovers(deps);
  const [found] = await deps.db.select().from(accessRequests).where(eq(accessRequests.id, input.requestId));
  const request = assertPending(found, input.requestId, deps.clock.now());
  assertMayDecide(request, input.user, approvers(request), input.verb);
  return request;
}

/**
 * Locks the request, and first the grant an extension extends: whoever ends a grant locks it before
 * its requests, so taking the locks in the same order never deadlocks.
 */
async function lockPending(tx: Tx, requestId: number, now: Date): Promise<{ request: Request; extended?: Grant | undefined }> {
  const [peek] = await tx.select({ extendsGrantId: accessRequests.extendsGrantId }).from(accessRequests).where(eq(accessRequests.id, requestId));
  const [extended] = peek?.extendsGrantId ? await tx.select().from(grants).where(eq(grants.id, peek.extendsGrantId)).for('update') : [];
  const [request] = await tx.select().from(accessRequests).where(eq(accessRequests.id, requestId)).for('update');
  return { request: assertPending(request, requestId, now), extended };
}

function assertPending(request: Request | undefined, requestId: number, now: Date): Request {
  if (!request) throw new Refusal({ code: 'no_request', requestId });
  if (request.state !== 'pending') {
    throw new Refusal({ code: 'request_decided', requestId: request.id, state: request.state, outcomeReason: request.outcomeReason });
  }
  if (request.pendingUntil <= now) throw new Refusal({ code: 'request_expired', requestId: request.id });
  return request;
}

function assertMayDecide(request: Request, user: string, approvers: string[], verb: 'approve' | 'deny'): void {
  if (user === request.requester) throw new Refusal({ code: 'own_request', verb });
  if (!approvers.includes(user)) throw new Refusal({ code: 'not_request_approver', resource: request.resource, requestId: request.id, verb });
}
