import type { types } from '@slack/bolt';
import { ACTIONS, type SecurityAlertView } from './view-models.ts';
import { button, header, mrkdwnSection, slackDate, truncate, user } from './format.ts';

/**
 * An alert in the security channel. `view.text` is mrkdwn composed by the app (it carries
 * mentions), so whoever builds it escapes any user text inside it with escapeMrkdwn.
 */
export function securityAlert(view: SecurityAlertView): { text: string; blocks: types.KnownBlock[] } {
  const blocks: types.KnownBlock[] = [header('🔔 Security alert'), mrkdwnSection(view.text)];
  if (view.acknowledged) {
    blocks.push(mrkdwnSection(`✅ Acknowledged by ${user(view.acknowledged.by)} at ${slackDate(view.acknowledged.at)}`));
  } else {
    blocks.push({ type: 'actions', elements: [button('Acknowledge', ACTIONS.acknowledgeAlert, String(view.alertId), 'primary')] });
  }
  const firstLine = view.text.split('\n')[0] ?? '';
  return { text: truncate(`Security alert: ${firstLine}`, 300), blocks };
}
