import { and, eq, lt } from 'drizzle-orm';
import { accessRequests, requestApprovals, stepUpPushes } from '../db/schema.ts';
import { ProviderError, type PushResult, type PushVerifier } from '../ports.ts';
import type { StepUpFailure } from '../domain/refusals.ts';
import { approveRequest, checkMayDecide, type DecisionOutcome, type Verification } from './decide-request.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { underOnePolicy } from './policy-in-force.ts';
import { oktaUserOf } from './step-up-person.ts';

/** How long an approver has to answer the push: after that the approval does not count. */
export const STEP_UP_TIMEOUT_MS = 60_000;
const POLL_EVERY_MS = 2_000;
/** Beyond the timeout, how long a claim may outlive its push (the last poll, the approval's transaction). */
const CLAIM_GRACE_MS = 30_000;

/** What a push got to before it ended: the evidence of a failed step-up. */
interface PushTrail {
  oktaUserId: string | null;
  factorId: string | null;
  transactionId: string | null;
  result: PushResult | null;
}

class StepUpFailed extends Error {
  constructor(
    readonly reason: StepUpFailure,
    readonly trail: PushTrail,
    readonly detail: string | null = null,
  ) {
    super(reason);
  }
}

/**
 * Okta Verify push for approvers (access.yml `approval: { step_up: okta_verify }`): the verifier,
 * and how often a push is polled and how long it is waited for.
 */
export class StepUp {
  constructor(
    readonly verifier: PushVerifier,
    readonly timing: { pollMs: number; timeoutMs: number } = { pollMs: POLL_EVERY_MS, timeoutMs: STEP_UP_TIMEOUT_MS },
  ) {}
}

/**
 * Runs `work` while this approver's push for the request is claimed in the database, so that a
 * second click, on this replica or another, sends no second push. A claim older than a push can
 * last (a bot stopped mid-push) is taken over.
 */
async function oncePerApproval<T>(deps: AppDeps, stepUp: StepUp, click: { requestId: number; approver: string }, work: () => Promise<T>): Promise<T> {
  const startedAt = deps.clock.now();
  const staleBefore = new Date(startedAt.getTime() - stepUp.timing.timeoutMs - CLAIM_GRACE_MS);
  const claimed = await deps.db
    .insert(stepUpPushes)
    .values({ requestId: click.requestId, approver: click.approver, startedAt })
    .onConflictDoUpdate({ target: [stepUpPushes.requestId, stepUpPushes.approver], set: { startedAt }, setWhere: lt(stepUpPushes.startedAt, staleBefore) })
    .returning();
  if (claimed.length === 0) throw new Refusal({ code: 'step_up_pending', requestId: click.requestId });
  try {
    return await work();
  } finally {
    await deps.db
      .delete(stepUpPushes)
      .where(and(eq(stepUpPushes.requestId, click.requestId), eq(stepUpPushes.approver, click.approver), eq(stepUpPushes.startedAt, startedAt)))
      .catch((error: unknown) => deps.logger.warn({ err: error, requestId: click.requestId }, 'could not release a step-up claim; it lapses after the timeout'));
  }
}

/**
 * An Approve click. A resource whose approvals need a step-up sends the approver an Okta Verify
 * push first (after `pushSent`, the approver is told to look at their phone), and the approval
 * counts only on SUCCESS; any other end records `approval.step_up_failed` and leaves the request
 * as it was. Stale and repeated clicks are refused before any push.
 */
export async function approveClick(depsInForce: AppDeps, input: { requestId: number; approver: string; pushSent: () => Promise<void> }): Promise<DecisionOutcome> {
  const deps = underOnePolicy(depsInForce);
  // Most approvals need no step-up: those go straight to the decision, which checks everything itself.
  const [found] = await deps.db.select({ resource: accessRequests.resource }).from(accessRequests).where(eq(accessRequests.id, input.requestId));
  if (!found || deps.access.config.resources[found.resource]?.approval?.step_up !== 'okta_verify') return approveRequest(depsInForce, input);
  const request = await checkMayDecide(deps, { requestId: input.requestId, user: input.approver, verb: 'approve' });
  const [already] = await deps.db.select().from(requestApprovals).where(and(eq(requestApprovals.requestId, request.id), eq(requestApprovals.approver, input.approver)));
  if (already) throw new Refusal({ code: 'already_approved', requestId: request.id, required: request.approvalsRequired });
  const stepUp = deps.stepUp;
  // Start-up and reloads refuse step_up without Okta; should one slip through, nothing is approved unverified.
  if (!stepUp) throw new Refusal({ code: 'step_up_failed', requestId: request.id, reason: 'okta_unreachable', error: 'Okta is not configured' });
  return oncePerApproval(deps, stepUp, { requestId: request.id, approver: input.approver }, async () => {
    const verification = await verifyByPush(deps, stepUp, input).catch(async (error: unknown) => {
      if (!(error instanceof StepUpFailed)) throw error;
      await recordFailure(deps, { request, approver: input.approver }, error);
      throw new Refusal({ code: 'step_up_failed', requestId: request.id, reason: error.reason, error: error.detail ?? undefined });
    });
    return approveRequest(depsInForce, { requestId: request.id, approver: input.approver, verification });
  });
}

/** Finds the approver in Okta, sends the push and waits for their answer; throws StepUpFailed unless it is SUCCESS. */
async function verifyByPush(deps: AppDeps, stepUp: StepUp, input: { approver: string; pushSent: () => Promise<void> }): Promise<Verification> {
  const trail: PushTrail = { oktaUserId: null, factorId: null, transactionId: null, result: null };
  try {
    const user = await oktaUserOf(deps, input.approver);
    if (!user) throw new StepUpFailed('no_okta_user', trail);
    trail.oktaUserId = user.id;
    const factorId = await stepUp.verifier.pushFactor(user.id);
    if (!factorId) throw new StepUpFailed('no_push_factor', trail);
    trail.factorId = factorId;
    const sent = await stepUp.verifier.sendPush(user.id, factorId);
    trail.transactionId = sent.transactionId;
    trail.result = sent.result;
    await input.pushSent();
    trail.result = await awaitAnswer(deps, stepUp, { oktaUserId: user.id, factorId, transactionId: sent.transactionId, result: sent.result });
  } catch (error) {
    if (error instanceof ProviderError) throw new StepUpFailed('okta_unreachable', trail, error.message);
    throw error;
  }
  if (trail.result === 'SUCCESS') return { method: 'okta_verify_push', factor_result: 'SUCCESS', factor_id: trail.factorId!, transaction_id: trail.transactionId!, okta_user_id: trail.oktaUserId! };
  throw new StepUpFailed(trail.result === 'REJECTED' ? 'rejected' : 'timed_out', trail);
}

/**
 * Polls the push until the approver answers or Okta gives up, for at most the timeout: by the
 * clock, and by the number of polls that fit in it (a test's clock that never moves still ends).
 */
async function awaitAnswer(deps: AppDeps, stepUp: StepUp, push: { oktaUserId: string; factorId: string; transactionId: string; result: PushResult }): Promise<PushResult> {
  const { pollMs, timeoutMs } = stepUp.timing;
  const deadline = deps.clock.now().getTime() + timeoutMs;
  const sleep = deps.clock.sleep?.bind(deps.clock) ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let result = push.result;
  for (let polls = 0; result === 'WAITING' && polls < Math.ceil(timeoutMs / pollMs) && deps.clock.now().getTime() < deadline; polls++) {
    await sleep(pollMs);
    result = await stepUp.verifier.pushResult(push.oktaUserId, push.factorId, push.transactionId);
  }
  return result;
}

async function recordFailure(deps: AppDeps, click: { request: { id: number; requester: string; resource: string }; approver: string }, failure: StepUpFailed): Promise<void> {
  const { request, approver } = click;
  const { trail } = failure;
  await deps.db.transaction((tx) =>
    deps.ledger.append(tx, {
      kind: 'approval.step_up_failed',
      actor: approver,
      subject: request.requester,
      resource: request.resource,
      requestId: request.id,
      details: {
        step_up: 'okta_verify',
        reason: failure.reason,
        factor_result: trail.result,
        factor_id: trail.factorId,
        transaction_id: trail.transactionId,
        okta_user_id: trail.oktaUserId,
        error: failure.detail,
        config_hash: deps.access.hash,
      },
    }),
  );
}
