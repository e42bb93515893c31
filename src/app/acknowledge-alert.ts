import { and, eq, isNull } from 'drizzle-orm';
import { enqueue } from '../db/outbox.ts';
import { alerts, grants } from '../db/schema.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { isSecurity } from './security.ts';

/**
 * Someone in the security channel acknowledges an alert. When access.yml names a `security:`
 * audience only its members may; otherwise anyone who can see the channel's button.
 */
export async function acknowledgeAlert(deps: AppDeps, input: { alertId: number; user: string }): Promise<void> {
  if (deps.access.config.security && !(await isSecurity(deps, input.user))) {
    throw new Refusal({ code: 'ack_not_security' });
  }
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    const [alert] = await tx
      .update(alerts)
      .set({ acknowledgedBy: input.user, acknowledgedAt: now })
      .where(and(eq(alerts.id, input.alertId), isNull(alerts.acknowledgedBy)))
      .returning();
    if (!alert) throw new Refusal({ code: 'alert_already_acknowledged' });
    // The evidence names whose access the alert was about, as the alert's own event does.
    const [grant] = alert.grantId === null ? [] : await tx.select({ person: grants.person, resource: grants.resource }).from(grants).where(eq(grants.id, alert.grantId));
    await deps.ledger.append(tx, {
      kind: 'alert.acknowledged',
      actor: input.user,
      subject: grant?.person,
      resource: grant?.resource,
      requestId: alert.requestId,
      details: { alert_id: alert.id, alert_kind: alert.kind, raised_at: alert.createdAt.toISOString(), acknowledged_after_ms: now.getTime() - alert.createdAt.getTime() },
    });
    await enqueue(tx, now, { type: 'security_alert', alertId: alert.id });
  });
  deps.wake.outbox();
}
