import { and, eq, isNull, sql } from 'drizzle-orm';
import type { AccessConfig } from '../config/access-schema.ts';
import { alerts } from '../db/schema.ts';
import type { Notification } from '../domain/notifications.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';

type Problem = Extract<Notification, { kind: 'approval_channel_unusable' }>['problem'];

/** Each approval channel access.yml names, with the resources whose cards go there. */
export function approvalChannels(config: AccessConfig): Map<string, string[]> {
  const channels = new Map<string, string[]>();
  for (const [name, resource] of Object.entries(config.resources)) {
    const channel = resource.approvers.channel;
    if (channel) channels.set(channel, [...(channels.get(channel) ?? []), name]);
  }
  return channels;
}

/**
 * At start and after each policy reload: every approval channel must exist and have the bot in
 * it, or its cards cannot be posted there. Each one that cannot take them is a warning in the log
 * and an alert to security (once until acknowledged); its requests fall back to DMs meanwhile.
 * A Slack that cannot be asked now is logged, not alerted: the posting itself falls back too.
 */
export async function checkApprovalChannels(deps: Pick<AppDeps, 'db' | 'ledger' | 'clock' | 'logger' | 'directory'>, config: AccessConfig, when: string): Promise<void> {
  for (const [channel, resources] of approvalChannels(config)) {
    let problem: Problem | undefined;
    try {
      const access = await deps.directory.channel(channel);
      problem = !access.found ? 'not_found' : access.isArchived ? 'archived' : access.isMember ? undefined : 'not_member';
    } catch (error) {
      deps.logger.warn({ err: error, channel, resources, when }, 'could not check the approval channel with Slack; cards fall back to DMs if it refuses them');
      continue;
    }
    if (!problem) continue;
    deps.logger.warn(
      { channel, resources, problem, when },
      `approval channel ${channel} (${resources.join(', ')}) cannot take approval cards: ${problem === 'not_member' ? 'invite the bot to it (/invite @breakglass)' : 'correct approvers.channel in access.yml or invite the bot'}; cards are sent to the approvers as DMs meanwhile`,
    );
    await alertOnce(deps, { kind: 'approval_channel_unusable', channel, resources, problem });
  }
}

async function alertOnce(deps: Pick<AppDeps, 'db' | 'ledger' | 'clock'>, notification: Extract<Notification, { kind: 'approval_channel_unusable' }>): Promise<void> {
  await deps.db.transaction(async (tx) => {
    // Under the append lock, so replicas starting together alert once.
    await deps.ledger.lockHead(tx);
    const [told] = await tx
      .select({ id: alerts.id })
      .from(alerts)
      .where(and(eq(alerts.kind, 'approval_channel_unusable'), isNull(alerts.acknowledgedAt), sql`${alerts.notification}->>'channel' = ${notification.channel}`, sql`${alerts.notification}->>'problem' = ${notification.problem}`))
      .limit(1);
    if (told) return;
    await raiseAlert(tx, deps, { kind: 'approval_channel_unusable', resource: notification.resources[0], notification });
  });
}
