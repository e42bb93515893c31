import { and, asc, count, eq, gt, lte, ne, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.ts';
import { evidenceEvents, reviewCards } from '../../db/schema.ts';
import type { MonitorsConfig } from '../../config/monitors-schema.ts';
import type { EvidenceEvent } from '../../domain/events.ts';
import { outsideWorkingHours, signedOffTooFast } from '../../domain/monitors.ts';
import type { Notification } from '../../domain/notifications.ts';

/** A ledger event as the monitors read it: the row's columns and its details read through the catalogue. */
export interface WatchedEvent {
  seq: number;
  occurredAt: Date;
  actor: string;
  subject: string | null;
  resource: string | null;
  requestId: number | null;
  event: EvidenceEvent;
}

export interface Finding {
  notification: Notification;
  subject?: string | undefined;
  resource?: string | undefined;
  requestId?: number | undefined;
}

type Detector = (tx: Tx, watched: WatchedEvent, config: MonitorsConfig) => Promise<Finding | undefined>;

/** Events of one kind about one subject in the window ending at (and including) the watched event. */
function inWindowBefore(watched: WatchedEvent, withinMs: number) {
  return and(gt(evidenceEvents.occurredAt, new Date(watched.occurredAt.getTime() - withinMs)), lte(evidenceEvents.seq, watched.seq));
}

const repeatedEmergency: Detector = async (tx, w, config) => {
  const limits = config.emergency_self_grants;
  if (!limits || w.event.kind !== 'grant.applied' || !w.event.details.emergency || !w.subject) return undefined;
  const [row] = await tx
    .select({ n: count() })
    .from(evidenceEvents)
    .where(and(eq(evidenceEvents.kind, 'grant.applied'), eq(evidenceEvents.subject, w.subject), sql`${evidenceEvents.details}->>'emergency' = 'true'`, inWindowBefore(w, limits.within)));
  const n = row?.n ?? 0;
  // Once when the window first holds one more than allowed, not again for each grant after it.
  if (n !== limits.max + 1) return undefined;
  return { subject: w.subject, resource: w.resource ?? undefined, requestId: w.requestId ?? undefined, notification: { kind: 'repeated_emergency', person: w.subject, resource: w.resource ?? '', requestId: w.requestId, count: n, withinMs: limits.within } };
};

const outsideHours: Detector = async (_tx, w, config) => {
  const hours = config.working_hours;
  if (!hours || w.event.kind !== 'grant.applied' || !w.subject) return undefined;
  const startsAt = new Date(w.event.details.starts_at);
  if (!outsideWorkingHours(startsAt, hours)) return undefined;
  return { subject: w.subject, resource: w.resource ?? undefined, requestId: w.requestId ?? undefined, notification: { kind: 'grant_outside_hours', person: w.subject, resource: w.resource ?? '', requestId: w.requestId, startsAt: startsAt.toISOString(), timeZone: hours.time_zone } };
};

const reaskedAfterDenial: Detector = async (tx, w, config) => {
  const limits = config.reasked_after_denial;
  if (!limits || w.event.kind !== 'request.approved' || !w.subject || !w.resource || w.actor === w.subject) return undefined;
  const [denial] = await tx
    .select({ actor: evidenceEvents.actor, requestId: evidenceEvents.requestId })
    .from(evidenceEvents)
    .where(and(eq(evidenceEvents.kind, 'request.denied'), eq(evidenceEvents.subject, w.subject), eq(evidenceEvents.resource, w.resource), ne(evidenceEvents.actor, w.actor), inWindowBefore(w, limits.within)))
    .orderBy(asc(evidenceEvents.seq))
    .limit(1);
  if (!denial) return undefined;
  const deniedRequestId = denial.requestId === null ? null : Number(denial.requestId);
  return { subject: w.subject, resource: w.resource, requestId: w.requestId ?? undefined, notification: { kind: 'reasked_after_denial', person: w.subject, resource: w.resource, requestId: w.requestId, deniedRequestId, deniedBy: denial.actor, approver: w.actor } };
};

const repeatedApprover: Detector = async (tx, w, config) => {
  const limits = config.repeated_approver;
  if (!limits || w.event.kind !== 'request.approved' || !w.subject || w.actor === w.subject) return undefined;
  const [row] = await tx
    .select({ n: count() })
    .from(evidenceEvents)
    .where(and(eq(evidenceEvents.kind, 'request.approved'), eq(evidenceEvents.actor, w.actor), eq(evidenceEvents.subject, w.subject), inWindowBefore(w, limits.within)));
  const n = row?.n ?? 0;
  if (n !== limits.max + 1) return undefined;
  return { subject: w.subject, notification: { kind: 'repeated_approver', approver: w.actor, person: w.subject, count: n, withinMs: limits.within } };
};

const hastySignOff: Detector = async (tx, w, config) => {
  const limits = config.hasty_sign_off;
  if (!limits || w.event.kind !== 'review.signed_off') return undefined;
  const { campaign_id: campaignId, card_id: cardId, lines, kept, reviewer } = w.event.details;
  const since = await cardShownAt(tx, cardId, campaignId, reviewer, w);
  const elapsedMs = Math.max(0, w.occurredAt.getTime() - since.getTime());
  if (!signedOffTooFast({ lines, kept, elapsedMs }, limits)) return undefined;
  return { subject: reviewer, notification: { kind: 'hasty_sign_off', campaignId, reviewer, lines, elapsedMs } };
};

/**
 * When the reviewer had the card: Slack's timestamp of the card's message, else (a card not posted
 * through Slack) their first decision on it — the shortest reading time the evidence supports.
 */
async function cardShownAt(tx: Tx, cardId: number, campaignId: number, reviewer: string, w: WatchedEvent): Promise<Date> {
  const [card] = await tx.select({ ts: reviewCards.ts }).from(reviewCards).where(eq(reviewCards.id, cardId));
  const posted = card?.ts ? Number(card.ts) * 1000 : Number.NaN;
  if (Number.isFinite(posted)) return new Date(posted);
  const [first] = await tx
    .select({ at: evidenceEvents.occurredAt })
    .from(evidenceEvents)
    .where(and(eq(evidenceEvents.kind, 'review.decided'), eq(evidenceEvents.actor, reviewer), sql`(${evidenceEvents.details}->>'campaign_id')::int = ${campaignId}`, lte(evidenceEvents.seq, w.seq)))
    .orderBy(asc(evidenceEvents.seq))
    .limit(1);
  return first?.at ?? w.occurredAt;
}

const largeLogExport: Detector = async (_tx, w, config) => {
  const limits = config.large_log_export;
  if (!limits || w.event.kind !== 'log.exported' || w.event.details.events < limits.max_events) return undefined;
  return { subject: w.actor, resource: w.resource ?? undefined, notification: { kind: 'large_log_export', user: w.actor, events: w.event.details.events, resource: w.resource } };
};

export const DETECTORS: Detector[] = [repeatedEmergency, outsideHours, reaskedAfterDenial, repeatedApprover, hastySignOff, largeLogExport];
