import type { types } from '@slack/bolt';
import { ACTIONS, type SecurityAlertView } from './view-models.ts';
import { notificationMrkdwn } from '../render.ts';
import { button, header, mrkdwnSection, slackDate, truncate, user } from './format.ts';

/**
 * An alert in the security channel, worded from its facts. An alert raised before alerts carried
 * facts has only its text, which was the finished mrkdwn, so that is posted as it is.
 */
export function securityAlert(view: SecurityAlertView): { text: string; blocks: types.KnownBlock[] } {
  const text = view.notification ? notificationMrkdwn(view.notification) : view.text;
  const blocks: types.KnownBlock[] = [header('🔔 Security alert'), mrkdwnSection(text)];
  if (view.acknowledged) {
    blocks.push(mrkdwnSection(`✅ Acknowledged by ${user(view.acknowledged.by)} at ${slackDate(view.acknowledged.at)}`));
  } else {
    blocks.push({ type: 'actions', elements: [button('Acknowledge', ACTIONS.acknowledgeAlert, String(view.alertId), 'primary')] });
  }
  const firstLine = text.split('\n')[0] ?? '';
  return { text: truncate(`Security alert: ${firstLine}`, 300), blocks };
}
