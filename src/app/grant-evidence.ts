import type { Tx } from '../db/client.ts';
import type { SessionsEnded } from '../ports.ts';
import type { Notification } from '../domain/notifications.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';

/** What every event and alert about one grant names: whose access, to what, under which request. */
export interface GrantFacts {
  id: number;
  requestId: number;
  person: string;
  resource: string;
}

/** The subject, resource and request of an evidence event about a grant. */
export function aboutGrant(grant: Omit<GrantFacts, 'id'>): { subject: string; resource: string; requestId: number } {
  return { subject: grant.person, resource: grant.resource, requestId: grant.requestId };
}

type GrantAlertKind = 'revoke_failed' | 'revoke_ineffective' | 'grant_in_doubt' | 'emergency_unreviewed';
type GrantAlertFacts<K extends GrantAlertKind = GrantAlertKind> = K extends GrantAlertKind ? Omit<Extract<Notification, { kind: K }>, 'requestId' | 'person' | 'resource'> : never;

/** A security alert about one grant: its notification names the grant's holder, resource and request, and the alert points at the grant. */
export async function raiseGrantAlert(tx: Tx, deps: Pick<AppDeps, 'ledger' | 'clock'>, grant: GrantFacts, facts: GrantAlertFacts): Promise<number> {
  const { kind, ...rest } = facts;
  const notification = { kind, requestId: grant.requestId, person: grant.person, resource: grant.resource, ...rest } as Notification;
  return raiseAlert(tx, deps, { kind, notification, requestId: grant.requestId, grantId: grant.id, subject: grant.person, resource: grant.resource });
}

/**
 * `grant.sessions_ended`, in the transaction that records the revoke: the person's open sessions
 * the provider ended with it (`ended` null when it cannot count them), from when, and how.
 */
export async function recordSessionsEnded(
  tx: Tx,
  deps: Pick<AppDeps, 'ledger'>,
  about: { subject?: string | null; resource: string; requestId?: number | null },
  ended: { grantId: number | null; provider: string; sessions: SessionsEnded; reason?: 'review' | 'offboarding' | 'drift'; principal?: string; reviewItemId?: number },
): Promise<void> {
  await deps.ledger.append(tx, {
    kind: 'grant.sessions_ended',
    actor: 'breakglass',
    ...about,
    details: {
      grant_id: ended.grantId,
      provider: ended.provider,
      ended: ended.sessions.ended,
      effective_at: ended.sessions.effectiveAt.toISOString(),
      method: ended.sessions.method,
      ...(ended.reason ? { reason: ended.reason } : {}),
      ...(ended.principal ? { principal: ended.principal } : {}),
      ...(ended.reviewItemId !== undefined ? { review_item_id: ended.reviewItemId } : {}),
    },
  });
}

/** What a revoke's answer says it did to open sessions, if anything. */
export function sessionsEndedBy(answer: unknown): SessionsEnded | undefined {
  return typeof answer === 'object' && answer !== null && 'sessionsEnded' in answer ? (answer as { sessionsEnded: SessionsEnded }).sessionsEnded : undefined;
}
