import type { ResourceConfig } from '../config/access-schema.ts';
import type { PagerDutyAutoApprove } from '../config/auto-approve-field.ts';
import type { Tx } from '../db/client.ts';
import { insertGrant } from '../db/grants-repo.ts';
import { enqueue } from '../db/outbox.ts';
import type { OnCallShift } from '../ports.ts';
import type { AppDeps } from './deps.ts';

/** The requester was on call when they asked: PagerDuty's shifts that matched the policy's terms. */
export interface OnCallApproval {
  terms: PagerDutyAutoApprove;
  pagerDutyUserId: string;
  shifts: OnCallShift[];
  checkedAt: Date;
}

/** Whether a shift, as PagerDuty reported it, covers this instant (null ends are open). */
function covers(shift: OnCallShift, now: Date): boolean {
  const start = shift.start === null ? -Infinity : Date.parse(shift.start);
  const end = shift.end === null ? Infinity : Date.parse(shift.end);
  return start <= now.getTime() && now.getTime() < end;
}

/**
 * Asks PagerDuty whether the requester is on call now under the resource's auto_approve. Anything
 * but a clear yes (not a PagerDuty user, not on call, PagerDuty unreachable or failing) is
 * undefined: the request then goes to the approvers as any other, so an outage never approves.
 */
export async function onCallApproval(
  deps: Pick<AppDeps, 'onCall' | 'clock' | 'logger' | 'metrics'>,
  ask: { requester: string; resource: string; email: string },
  resource: ResourceConfig,
): Promise<OnCallApproval | undefined> {
  const terms = resource.auto_approve?.pagerduty;
  if (!terms) return undefined;
  const about = { requester: ask.requester, resource: ask.resource };
  if (!deps.onCall) {
    deps.logger.warn(about, 'auto_approve.pagerduty is set but PAGERDUTY_API_TOKEN is not; the request goes to the approvers');
    return undefined;
  }
  let found: Awaited<ReturnType<NonNullable<AppDeps['onCall']>['onCallNow']>>;
  try {
    found = await deps.onCall.onCallNow(ask.email, terms.schedule_ids);
    deps.metrics?.providerCall('pagerduty', 'on_call', false);
  } catch (error) {
    deps.metrics?.providerCall('pagerduty', 'on_call', true);
    deps.logger.warn({ ...about, err: error }, 'PagerDuty could not say who is on call; the request goes to the approvers');
    return undefined;
  }
  const now = deps.clock.now();
  if (!found) {
    deps.logger.info(about, 'the requester is not a PagerDuty user (by email); the request goes to the approvers');
    return undefined;
  }
  const shifts = found.shifts.filter((s) => terms.schedule_ids.includes(s.scheduleId) && terms.escalation_levels.includes(s.escalationLevel) && covers(s, now));
  if (shifts.length === 0) {
    deps.logger.info({ ...about, pagerDutyUserId: found.userId }, 'the requester is not on call in the schedules auto_approve names; the request goes to the approvers');
    return undefined;
  }
  return { terms, pagerDutyUserId: found.userId, shifts, checkedAt: now };
}

/**
 * Approves a request under the on-call policy: the approval records PagerDuty's shifts as they came
 * and the policy version, the grant begins, and the approvers get the after-the-fact review card an
 * emergency grant gets. Returns the grant's id.
 */
export async function approveOnCall(
  tx: Tx,
  deps: Pick<AppDeps, 'ledger' | 'access' | 'leaseHolder'>,
  ask: { requester: string; resource: string; durationMs: number; email: string; principal?: string | undefined },
  target: ResourceConfig['grant'],
  requestId: number,
  approval: OnCallApproval,
  now: Date,
): Promise<number> {
  await deps.ledger.append(tx, {
    kind: 'request.approved',
    actor: 'breakglass',
    subject: ask.requester,
    resource: ask.resource,
    requestId,
    details: {
      policy: 'pagerduty_on_call',
      final: true,
      config_hash: deps.access.hash,
      schedule_ids: approval.terms.schedule_ids,
      escalation_levels: approval.terms.escalation_levels,
      pagerduty_user_id: approval.pagerDutyUserId,
      checked_at: approval.checkedAt.toISOString(),
      on_call: approval.shifts.map((s) => ({ schedule_id: s.scheduleId, escalation_policy_id: s.escalationPolicyId, escalation_level: s.escalationLevel, start: s.start, end: s.end })),
    },
  });
  const grantId = await insertGrant(tx, { requestId, ask, target, emergency: false, now, holder: deps.leaseHolder });
  await enqueue(tx, now, { type: 'emergency_review_cards', requestId });
  return grantId;
}
