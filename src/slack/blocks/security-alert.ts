import type { types } from '@slack/bolt';
import { ACTIONS, type SecurityAlertView } from './view-models.ts';
import { notificationMrkdwn } from '../render.ts';
import { button, escapeMrkdwn, header, mrkdwnSection, slackDate, truncate, user, userText } from './format.ts';

/**
 * An alert in the security channel, worded from its facts. An alert raised before alerts carried
 * facts has only its text, which was the finished mrkdwn, so that is posted as it is.
 */
export function securityAlert(view: SecurityAlertView): { text: string; blocks: types.KnownBlock[] } {
  const text = view.notification ? notificationMrkdwn(view.notification) : view.text;
  const blocks: types.KnownBlock[] = [header('🔔 Security alert'), mrkdwnSection(text)];
  // The newest responses fit in the message; every one of them is in the evidence.
  for (const response of (view.responses ?? []).slice(-5)) {
    blocks.push(mrkdwnSection(`💬 Response by ${responder(response.by)} at ${slackDate(response.at)}: ${userText(response.text, 2_500)}`));
  }
  if (view.acknowledged) blocks.push(mrkdwnSection(`✅ Acknowledged by ${user(view.acknowledged.by)} at ${slackDate(view.acknowledged.at)}`));
  const respond = button('Respond', ACTIONS.respondAlert, String(view.alertId));
  blocks.push({ type: 'actions', elements: view.acknowledged ? [respond] : [button('Acknowledge', ACTIONS.acknowledgeAlert, String(view.alertId), 'primary'), respond] });
  const firstLine = text.split('\n')[0] ?? '';
  return { text: truncate(`Security alert: ${firstLine}`, 300), blocks };
}

/** A response from Slack names a person; one recorded with the CLI names its `cli:` user as text. */
function responder(by: string): string {
  return by.startsWith('cli:') ? `\`${escapeMrkdwn(by).replace(/`/g, "'")}\`` : user(by);
}
