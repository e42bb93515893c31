import { alertResponses } from './respond-to-exception.ts';
import { and, desc, eq, gt, inArray, ne } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { accessRequests, alerts, evidenceEvents, grants, HELD_GRANT_STATES, requestApprovals } from '../db/schema.ts';
import { readDetails } from '../domain/events.ts';
import { formatDuration } from '../domain/duration.ts';
import type { ApprovalCardView, CardStatus, EmergencyReviewCardView, HomeView, RequestSummary, SecurityAlertView } from './views.ts';
import type { AppDeps } from './deps.ts';
import { reviewsDueFor } from './review-read-models.ts';

type Request = typeof accessRequests.$inferSelect;
type Grant = typeof grants.$inferSelect;

export function summarise(request: Request, description?: string): RequestSummary {
  return {
    id: request.id,
    requester: request.requester,
    resource: request.resource,
    resourceDescription: description,
    duration: formatDuration(request.durationMs),
    reason: request.reason,
    ticket: request.ticket ?? undefined,
    kind: request.kind,
    extendsGrantId: request.extendsGrantId ?? undefined,
    createdAt: request.createdAt,
  };
}

async function approvalsOf(db: Db, requestIds: number[]): Promise<Map<number, string[]>> {
  const map = new Map<number, string[]>();
  if (requestIds.length === 0) return map;
  const rows = await db.select().from(requestApprovals).where(inArray(requestApprovals.requestId, requestIds)).orderBy(requestApprovals.approvedAt);
  for (const row of rows) map.set(row.requestId, [...(map.get(row.requestId) ?? []), row.approver]);
  return map;
}

/** A card's status follows the request, then the grant it led to. */
export function cardStatus(request: Request, approvals: string[], grant: Grant | undefined, now: Date): CardStatus {
  switch (request.state) {
    case 'pending':
      return request.pendingUntil <= now ? { state: 'expired' } : { state: 'pending', approvals, approvalsRequired: request.approvalsRequired, pendingUntil: request.pendingUntil };
    case 'denied':
      return { state: 'denied', by: request.decidedBy ?? 'unknown', reason: request.denyReason ?? '' };
    case 'expired':
      return { state: 'expired' };
    case 'cancelled':
      return { state: 'cancelled', by: request.decidedBy ?? request.requester, reason: request.outcomeReason ?? undefined };
    case 'approved':
      if (request.outcomeReason) return { state: 'failed', error: request.outcomeReason };
      if (!grant) return { state: 'approved', approvals };
      if (grant.state === 'failed') return { state: 'failed', error: grant.lastError ?? 'the provider refused' };
      if (grant.state === 'revoked') return { state: 'ended', approvals, endedAt: grant.revokedAt ?? grant.endsAt };
      if (grant.state === 'granting' || grant.state === 'checking' || grant.extensionRequestId === request.id) return { state: 'approved', approvals };
      return { state: 'active', approvals, endsAt: grant.endsAt };
  }
}

export async function approvalCardView(deps: Pick<AppDeps, 'db' | 'clock' | 'access'>, requestId: number): Promise<ApprovalCardView | undefined> {
  const [request] = await deps.db.select().from(accessRequests).where(eq(accessRequests.id, requestId));
  if (!request) return undefined;
  // An extension's card follows the grant it extends: once approved it shows that access's end.
  const [grant] = await deps.db.select().from(grants).where(request.extendsGrantId !== null ? eq(grants.id, request.extendsGrantId) : eq(grants.requestId, requestId));
  const approvals = (await approvalsOf(deps.db, [requestId])).get(requestId) ?? [];
  const history = await deps.db
    .select()
    .from(accessRequests)
    .where(and(eq(accessRequests.requester, request.requester), ne(accessRequests.id, request.id)))
    .orderBy(desc(accessRequests.createdAt))
    .limit(5);
  return {
    request: summarise(request, deps.access.config.resources[request.resource]?.description),
    status: cardStatus(request, approvals, grant, deps.clock.now()),
    history: history.map((h) => ({ id: h.id, resource: h.resource, duration: formatDuration(h.durationMs), state: h.state, createdAt: h.createdAt })),
    ...(deps.access.config.resources[request.resource]?.approval?.step_up ? { stepUp: true } : {}),
  };
}

export async function emergencyReviewView(deps: Pick<AppDeps, 'db' | 'access'>, requestId: number): Promise<EmergencyReviewCardView | undefined> {
  const [request] = await deps.db.select().from(accessRequests).where(eq(accessRequests.id, requestId));
  const [grant] = await deps.db.select().from(grants).where(eq(grants.requestId, requestId));
  if (!request || !grant) return undefined;
  return {
    request: summarise(request, deps.access.config.resources[request.resource]?.description),
    grantId: grant.id,
    endsAt: grant.endsAt,
    reviewed: grant.reviewedBy && grant.reviewedAt ? { by: grant.reviewedBy, at: grant.reviewedAt } : undefined,
    onCall: request.kind === 'on_call' ? await onCallShifts(deps.db, requestId) : undefined,
  };
}

/** The shifts an on-call approval recorded: the ledger is where PagerDuty's answer is kept. */
async function onCallShifts(db: Db, requestId: number): Promise<NonNullable<EmergencyReviewCardView['onCall']>> {
  const rows = await db.select({ details: evidenceEvents.details }).from(evidenceEvents).where(and(eq(evidenceEvents.requestId, String(requestId)), eq(evidenceEvents.kind, 'request.approved')));
  for (const row of rows) {
    const details = readDetails('request.approved', row.details);
    if (details && 'on_call' in details) return details.on_call.map((s) => ({ scheduleId: s.schedule_id, escalationLevel: s.escalation_level, end: s.end }));
  }
  return [];
}

export async function securityAlertView(db: Db, alertId: number): Promise<(SecurityAlertView & { channel: string | null; ts: string | null }) | undefined> {
  const [alert] = await db.select().from(alerts).where(eq(alerts.id, alertId));
  if (!alert) return undefined;
  return {
    alertId: alert.id,
    text: alert.text,
    notification: alert.notification,
    acknowledged: alert.acknowledgedBy && alert.acknowledgedAt ? { by: alert.acknowledgedBy, at: alert.acknowledgedAt } : undefined,
    responses: await alertResponses(db, alert.id),
    channel: alert.channel,
    ts: alert.ts,
  };
}

/**
 * Past its end an active grant is being taken away (ended early, or expired a moment ago): it shows
 * as ending. A revoke the provider refused shows as still active, so nobody believes it is gone.
 */
function shownState(grant: typeof grants.$inferSelect, now: Date): HomeView['activeGrants'][number]['state'] {
  if (grant.state === 'revoking' && grant.failureAlertedAt) return 'revoke_retrying';
  if (grant.state === 'active' && grant.endsAt <= now) return 'revoking';
  // Whether the provider applied it is not known yet: still being set up, as far as anyone can say.
  if (grant.state === 'checking') return 'granting';
  return grant.state as 'active' | 'granting' | 'extending' | 'revoking';
}

/** What App Home and `/breakglass list` show one person. */
export async function myAccess(deps: Pick<AppDeps, 'db' | 'clock' | 'access'>, user: string, approverOf: (request: Request) => boolean): Promise<HomeView> {
  const now = deps.clock.now();
  const active = await deps.db
    .select()
    .from(grants)
    .where(and(eq(grants.person, user), inArray(grants.state, HELD_GRANT_STATES)))
    .orderBy(grants.endsAt);
  const pending = await deps.db
    .select()
    .from(accessRequests)
    .where(and(eq(accessRequests.state, 'pending'), gt(accessRequests.pendingUntil, now)))
    .orderBy(accessRequests.createdAt)
    .limit(200);
  const approvals = await approvalsOf(deps.db, pending.map((p) => p.id));
  const entry = (request: Request) => ({
    request: summarise(request, deps.access.config.resources[request.resource]?.description),
    approvals: approvals.get(request.id) ?? [],
    approvalsRequired: request.approvalsRequired,
  });
  return {
    user,
    activeGrants: active.map((g) => ({ grantId: g.id, requestId: g.requestId, resource: g.resource, endsAt: g.endsAt, state: shownState(g, now) })),
    waitingOnMe: pending.filter((r) => r.requester !== user && approverOf(r) && !(approvals.get(r.id) ?? []).includes(user)).map(entry),
    myPending: pending.filter((r) => r.requester === user).map(entry),
    reviewsDue: await reviewsDueFor(deps.db, user),
  };
}
