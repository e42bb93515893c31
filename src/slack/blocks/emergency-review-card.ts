import type { types } from '@slack/bolt';
import { ACTIONS, type EmergencyReviewCardView } from './view-models.ts';
import { button, context, header, mrkdwnSection, quote, resourceName, slackDate, truncate, user, userText } from './format.ts';

/**
 * Sent to approvers after an emergency self-grant: the access already happened, so the card asks
 * for a review, not a decision. The button goes once someone has reviewed it.
 */
export function emergencyReviewCard(view: EmergencyReviewCardView): { text: string; blocks: types.KnownBlock[] } {
  const { request, grantId, endsAt, reviewed } = view;
  const blocks: types.KnownBlock[] = [
    header(`🚨 Emergency access #${request.id}: review needed`),
    mrkdwnSection(
      `${user(request.requester)} granted themselves ${resourceName(request.resource)} for *${userText(request.duration, 50)}*, ` +
        `until ${slackDate(endsAt)}.${request.ticket ? ` Ticket: ${userText(request.ticket, 100)}.` : ''}`,
    ),
    mrkdwnSection(`*Reason*\n${quote(request.reason, 2_500)}`),
    context([`Self-granted ${slackDate(request.createdAt)} · request #${request.id}`]),
  ];
  if (reviewed) {
    blocks.push(mrkdwnSection(`✅ Reviewed by ${user(reviewed.by)} at ${slackDate(reviewed.at)}`));
  } else {
    blocks.push({ type: 'actions', elements: [button('Mark reviewed', ACTIONS.reviewEmergency, String(grantId), 'primary')] });
  }
  const state = reviewed ? 'reviewed' : 'needs review';
  return {
    text: truncate(`Emergency access #${request.id}: ${user(request.requester)} self-granted ${userText(request.resource, 100)}: ${state}`, 300),
    blocks,
  };
}
