import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { enqueue } from '../db/outbox.ts';
import { alerts, evidenceEvents, grants } from '../db/schema.ts';
import { controlCharacterProblem } from '../domain/command.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { isSecurity } from './security.ts';

/** A response is a paragraph or two for an auditor to read, not a document. */
export const MAX_RESPONSE = 2_000;

/** What is wrong with a response's text, worded for the person typing it; undefined when it may be recorded. */
export function responseProblem(text: string): string | undefined {
  if (text.trim() === '') return 'Write the response: what was done about it, or why it is acceptable.';
  if (text.length > MAX_RESPONSE) return `A response holds at most ${MAX_RESPONSE.toLocaleString('en-US')} characters (this one has ${text.length.toLocaleString('en-US')}); link to a longer write-up instead.`;
  return controlCharacterProblem(text);
}

export interface Response {
  by: string;
  at: Date;
  text: string;
  seq: number;
}

/** Records management's response in the caller's transaction; the exception's existence is the caller's to check. */
export async function recordResponse(
  tx: Tx,
  deps: { ledger: Ledger },
  input: { exceptionId: string; by: string; response: string; alertId?: number; subject?: string | null; resource?: string | null; requestId?: number | null },
): Promise<void> {
  await deps.ledger.append(tx, {
    kind: 'exception.responded',
    actor: input.by,
    subject: input.subject,
    resource: input.resource,
    requestId: input.requestId,
    details: { exception_id: input.exceptionId, response: input.response.trim(), alert_id: input.alertId ?? null },
  });
}

/** The Respond button's modal, submitted: the security audience (when access.yml names one) responds to an alert. */
export async function respondToAlert(deps: AppDeps, input: { alertId: number; user: string; response: string }): Promise<void> {
  if (deps.access.config.security && !(await isSecurity(deps, input.user))) throw new Refusal({ code: 'respond_not_security' });
  const problem = responseProblem(input.response);
  if (problem) throw new Refusal({ code: 'invalid_response', problem });
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    const [alert] = await tx.select().from(alerts).where(eq(alerts.id, input.alertId));
    if (!alert) throw new Refusal({ code: 'no_alert', alertId: input.alertId });
    const [grant] = alert.grantId === null ? [] : await tx.select({ person: grants.person, resource: grants.resource }).from(grants).where(eq(grants.id, alert.grantId));
    await recordResponse(tx, deps, { exceptionId: `alert:${alert.id}`, alertId: alert.id, by: input.user, response: input.response, subject: grant?.person, resource: grant?.resource, requestId: alert.requestId });
    // The alert's message shows the response.
    await enqueue(tx, now, { type: 'security_alert', alertId: alert.id });
  });
  deps.wake.outbox();
}

/** The responses recorded to one alert, oldest first. */
export async function alertResponses(db: Db, alertId: number): Promise<Response[]> {
  const rows = await db
    .select({ seq: evidenceEvents.seq, actor: evidenceEvents.actor, at: evidenceEvents.occurredAt, details: evidenceEvents.details })
    .from(evidenceEvents)
    .where(and(eq(evidenceEvents.kind, 'exception.responded'), sql`${evidenceEvents.details}->>'alert_id' = ${String(alertId)}`))
    .orderBy(asc(evidenceEvents.seq));
  return rows.map((row) => ({ by: row.actor, at: row.at, text: String(row.details.response ?? ''), seq: row.seq }));
}
