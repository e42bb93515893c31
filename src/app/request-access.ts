import { and, eq, gt, inArray } from 'drizzle-orm';
import type { ResourceConfig } from '../config/access-schema.ts';
import { beginExtension, insertGrant, isRunning } from '../db/grants-repo.ts';
import { enqueue } from '../db/outbox.ts';
import { accessRequests, grants, RUNNING_GRANT_STATES, type RequestKind } from '../db/schema.ts';
import { formatDuration } from '../domain/duration.ts';
import { checkRequest, eligibleApprovers } from '../domain/policy.ts';
import { raiseAlert } from './alerts.ts';
import { applyGrant, type ApplyResult } from './apply-grant.ts';
import { reportUnavailableApprovers, screenApprovers } from './approver-availability.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { extendGrant } from './extend-grant.ts';
import { describeLeft, leaverStatus, offboardedSince, type LeaverStatus, type PersonRef } from './leavers.ts';
import type { Tx } from '../db/client.ts';
import { personFor } from './grant-specs.ts';
import { learnSlackUser } from './people-sightings.ts';
import { underOnePolicy } from './policy-in-force.ts';
import { principalOverride } from '../providers/registry.ts';
import { usergroupLookup } from './usergroups.ts';
import { approveOnCall, onCallApproval, type OnCallApproval } from './on-call-approval.ts';

export type RequestOutcome =
  | { kind: 'pending'; requestId: number; approvers: string[]; approvalsRequired: number }
  | { kind: 'emergency'; requestId: number; grantId: number; grant: ApplyResult }
  /** On call in PagerDuty when asking (access.yml auto_approve): approved at once, reviewed after. */
  | { kind: 'on_call'; requestId: number; grantId: number; grant: ApplyResult };

export interface AccessAsk {
  requester: string;
  resource: string;
  durationMs: number;
  reason: string;
  ticket?: string | undefined;
}

/** `/breakglass <resource> <duration> <reason>`: a pending request with cards, or an emergency grant. */
export async function requestAccess(depsInForce: AppDeps, ask: AccessAsk): Promise<RequestOutcome> {
  // One policy version decides it, and its hash is the one recorded, however a reload lands meanwhile.
  const deps = underOnePolicy(depsInForce);
  const members = await usergroupLookup(deps.access.config, deps.directory);
  const check = checkRequest(deps.access.config, { user: ask.requester, resource: ask.resource, durationMs: ask.durationMs }, members);
  if (!check.ok) throw new Refusal(check.refusal);
  const person = await personFor(deps, ask.requester);
  const principal = principalOverride(check.resource.grant, person.email, deps.access.config.people[ask.requester]);
  return createRequest(deps, { ...ask, kind: 'standard', email: person.email, principal }, check.resource, members);
}

/** `/breakglass extend <id> <duration>`: more time on one's own active grant, approved like a request. */
export async function requestExtension(depsInForce: AppDeps, ask: { requester: string; requestId: number; durationMs: number }): Promise<RequestOutcome> {
  // One policy version decides it, and its hash is the one recorded, however a reload lands meanwhile.
  const deps = underOnePolicy(depsInForce);
  const now = deps.clock.now();
  const [grant] = await deps.db
    .select()
    .from(grants)
    .where(and(eq(grants.requestId, ask.requestId), eq(grants.person, ask.requester), inArray(grants.state, RUNNING_GRANT_STATES), gt(grants.endsAt, now)));
  if (!grant) throw new Refusal({ code: 'no_active_access', access: { requestId: ask.requestId } });
  const members = await usergroupLookup(deps.access.config, deps.directory);
  const check = checkRequest(deps.access.config, { user: ask.requester, resource: grant.resource, durationMs: ask.durationMs }, members);
  if (!check.ok) throw new Refusal(check.refusal);
  const [original] = await deps.db.select().from(accessRequests).where(eq(accessRequests.id, ask.requestId));
  return createRequest(
    deps,
    {
      requester: ask.requester,
      resource: grant.resource,
      durationMs: ask.durationMs,
      reason: `Extension of #${ask.requestId}: ${original?.reason ?? ''}`.trim(),
      ticket: original?.ticket ?? undefined,
      kind: 'extension',
      extendsGrantId: grant.id,
      email: grant.email,
      principal: grant.principal ?? undefined,
    },
    check.resource,
    members,
  );
}

interface NewRequest extends AccessAsk {
  kind: RequestKind;
  extendsGrantId?: number;
  email: string;
  principal?: string | undefined;
}

/** Who may approve it, whether it is an emergency self-grant, and the requester as a leaver check knows them. */
interface Vetted {
  approvers: string[];
  emergency: boolean;
  requester: PersonRef;
  leaver: LeaverStatus;
  /** On call now under the resource's auto_approve: approved by that policy. */
  onCall?: OnCallApproval | undefined;
}

type AccessRequest = typeof accessRequests.$inferSelect;
type Grant = typeof grants.$inferSelect;

async function createRequest(deps: AppDeps, ask: NewRequest, resource: ResourceConfig, members: (id: string) => readonly string[]): Promise<RequestOutcome> {
  const vetted = await vet(deps, ask, resource, members);
  // Only a request that will be made records its requester: a refused ask leaves no trace.
  await learnSlackUser(deps, 'request', ask.requester, { emails: [ask.email], principals: [ask.principal] });
  const now = deps.clock.now();
  const outcome = await deps.db.transaction(async (tx) => {
    // Locked, so the access cannot end between this check and the request (ending it cancels pending extensions).
    const [extended] = ask.extendsGrantId === undefined ? [] : await tx.select().from(grants).where(eq(grants.id, ask.extendsGrantId)).for('update');
    if (extended && !isRunning(extended, now)) throw new Refusal({ code: 'no_active_access', access: { requestId: extended.requestId } });
    const left = await offboardedSince(tx, vetted.requester, vetted.leaver.seenSeq);
    if (left) throw new Refusal({ code: 'requester_left', left: describeLeft(left) });
    const request = await recordRequest(tx, deps, ask, resource, vetted, now);
    if (vetted.onCall) {
      const grantId = await approveOnCall(tx, deps, ask, resource.grant, request.id, vetted.onCall, now);
      return { kind: 'on_call' as const, requestId: request.id, grantId };
    }
    if (!vetted.emergency) {
      const channel = resource.approvers.channel;
      await enqueue(tx, now, { type: 'approval_cards', requestId: request.id, ...(channel ? { channel } : {}) });
      return { kind: 'pending' as const, requestId: request.id };
    }
    const grantId = await selfGrant(tx, deps, ask, resource, request.id, extended, now);
    return { kind: 'emergency' as const, requestId: request.id, grantId };
  });
  deps.wake.outbox();
  if (outcome.kind === 'pending') return { ...outcome, approvers: vetted.approvers, approvalsRequired: resource.approvals_required };
  if (outcome.kind === 'on_call') return { ...outcome, grant: await applyGrant(deps, outcome.grantId) };
  const grant = await (ask.kind === 'extension' ? extendGrant : applyGrant)(deps, outcome.grantId);
  return { ...outcome, grant };
}

/** Refuses a request too few people could approve, or from someone who has left. */
async function vet(deps: AppDeps, ask: NewRequest, resource: ResourceConfig, members: (id: string) => readonly string[]): Promise<Vetted> {
  const approvers = await availableApprovers(deps, ask.resource, resource, eligibleApprovers(resource, ask.requester, members));
  const emergency = resource.emergency_self_grant;
  const requester = { emails: [ask.email], slackUserId: ask.requester };
  const leaver = await leaverStatus(deps, requester);
  if (leaver.left) throw new Refusal({ code: 'requester_left', left: describeLeft(leaver.left) });
  // Extensions are decided by approvers as ever: being on call justifies access now, not more of it.
  const onCall = emergency || ask.kind !== 'standard' ? undefined : await onCallApproval(deps, ask, resource);
  return { approvers, emergency, requester, leaver, onCall };
}

/**
 * The eligible approvers who can approve now; those who cannot are reported to security (once)
 * and skipped. Refuses a request (not an emergency self-grant, which needs no approver first)
 * that too few could approve.
 */
async function availableApprovers(deps: AppDeps, name: string, resource: ResourceConfig, eligible: string[]): Promise<string[]> {
  const { present, unavailable } = await screenApprovers(deps, eligible);
  const required = resource.approvals_required;
  if (unavailable.length > 0) await reportUnavailableApprovers(deps, name, unavailable, { required, available: present.length });
  if (resource.emergency_self_grant || present.length >= required) return present;
  if (unavailable.length > 0) throw new Refusal({ code: 'approvers_unavailable', resource: name, required, available: present.length, unavailable });
  throw new Refusal({ code: 'too_few_approvers', resource: name, required, available: present.length });
}

/** The request row and its request.created event: pending, or (an emergency self-grant) approved by the requester. */
async function recordRequest(
  tx: Tx,
  deps: AppDeps,
  ask: NewRequest,
  resource: ResourceConfig,
  { approvers, emergency, leaver, onCall }: Vetted,
  now: Date,
): Promise<AccessRequest> {
  const [request] = await tx
    .insert(accessRequests)
    .values({
      requester: ask.requester,
      requesterEmail: ask.email,
      resource: ask.resource,
      durationMs: ask.durationMs,
      reason: ask.reason,
      ticket: ask.ticket ?? null,
      kind: emergency && ask.kind === 'standard' ? 'emergency' : onCall ? 'on_call' : ask.kind,
      extendsGrantId: ask.extendsGrantId ?? null,
      state: emergency || onCall ? 'approved' : 'pending',
      approvalsRequired: resource.approvals_required,
      approvers,
      configHash: deps.access.hash,
      createdAt: now,
      pendingUntil: new Date(now.getTime() + resource.request_ttl),
      ...(emergency ? { decidedAt: now, decidedBy: ask.requester } : {}),
      ...(onCall ? { decidedAt: now, decidedBy: 'breakglass' } : {}),
    })
    .returning();
  await deps.ledger.append(tx, {
    kind: 'request.created',
    actor: ask.requester,
    subject: ask.requester,
    resource: ask.resource,
    requestId: request!.id,
    details: {
      request_kind: request!.kind,
      duration: formatDuration(ask.durationMs),
      duration_ms: ask.durationMs,
      reason: ask.reason,
      ticket: ask.ticket ?? null,
      extends_grant_id: ask.extendsGrantId ?? null,
      approvers,
      approvals_required: resource.approvals_required,
      config_hash: deps.access.hash,
      // A person offboarded before and active again since: the auditor sees which offboarding they came back from.
      ...(leaver.seenSeq > 0 ? { rejoined_after_offboarding_seq: leaver.seenSeq } : {}),
      ...(resource.approvers.channel && !emergency && !onCall ? { approval_channel: resource.approvers.channel } : {}),
    },
  });
  return request!;
}

/**
 * An emergency self-grant: approved by its requester under the emergency_self_grant policy, the
 * grant (or the extension of the grant it extends) begun, the security channel alerted and the
 * after-the-fact review cards queued. Returns the grant's id.
 */
async function selfGrant(tx: Tx, deps: AppDeps, ask: NewRequest, resource: ResourceConfig, requestId: number, extended: Grant | undefined, now: Date): Promise<number> {
  await deps.ledger.append(tx, {
    kind: 'request.approved',
    actor: ask.requester,
    subject: ask.requester,
    resource: ask.resource,
    requestId,
    details: { self_grant: true, policy: 'emergency_self_grant', approvals: [ask.requester], final: true, config_hash: deps.access.hash },
  });
  if (extended && !(await beginExtension(tx, extended.id, requestId, now, deps.leaseHolder))) {
    throw new Refusal({ code: 'extension_in_progress', requestId: extended.requestId, extensionRequestId: extended.extensionRequestId });
  }
  const grantId = extended?.id ?? (await insertGrant(tx, { requestId, ask, target: resource.grant, emergency: true, now, holder: deps.leaseHolder }));
  await raiseAlert(tx, deps, {
    kind: 'emergency_grant',
    notification: { kind: 'emergency_grant', requestId, requester: ask.requester, resource: ask.resource, durationMs: ask.durationMs, reason: ask.reason },
    requestId,
    grantId,
    subject: ask.requester,
    resource: ask.resource,
  });
  await enqueue(tx, now, { type: 'emergency_review_cards', requestId });
  return grantId;
}
