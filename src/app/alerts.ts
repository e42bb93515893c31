import type { Tx } from '../db/client.ts';
import { plainText } from '../domain/message.ts';
import { notificationWords, type Notification } from '../domain/notifications.ts';
import { enqueue } from '../db/outbox.ts';
import { alerts } from '../db/schema.ts';
import type { AppDeps } from './deps.ts';

/**
 * A security-channel alert with an Acknowledge button; raised in the caller's transaction. The
 * alert keeps the facts, worded for Slack when it is posted; its evidence, and the audit pack
 * after it, get plain text.
 */
export async function raiseAlert(
  tx: Tx,
  deps: Pick<AppDeps, 'ledger' | 'clock'>,
  alert: { kind: string; notification: Notification; requestId?: number | undefined; grantId?: number | undefined; subject?: string | undefined; resource?: string | undefined },
): Promise<number> {
  const now = deps.clock.now();
  const text = plainText(notificationWords(alert.notification));
  const [row] = await tx
    .insert(alerts)
    .values({ kind: alert.kind, text, notification: alert.notification, requestId: alert.requestId ?? null, grantId: alert.grantId ?? null, createdAt: now })
    .returning({ id: alerts.id });
  await deps.ledger.append(tx, {
    kind: 'alert.raised',
    actor: 'breakglass',
    subject: alert.subject,
    resource: alert.resource,
    requestId: alert.requestId,
    details: { alert_id: row!.id, alert_kind: alert.kind, text, grant_id: alert.grantId ?? null },
  });
  await enqueue(tx, now, { type: 'security_alert', alertId: row!.id });
  return row!.id;
}
