import type { types } from '@slack/bolt';
import { ACTIONS, type EmergencyReviewCardView } from './view-models.ts';
import { button, context, header, mrkdwnSection, quote, resourceName, slackDate, truncate, user, userText } from './format.ts';

/**
 * Sent to approvers after an emergency self-grant (or an on-call approval): the access already
 * happened, so the card asks for a review, not a decision. The button goes once someone has reviewed it.
 */
export function emergencyReviewCard(view: EmergencyReviewCardView): { text: string; blocks: types.KnownBlock[] } {
  const { request, grantId, endsAt, reviewed } = view;
  const onCall = request.kind === 'on_call';
  const what = onCall ? 'On-call access' : 'Emergency access';
  const ticket = request.ticket ? ` Ticket: ${userText(request.ticket, 100)}.` : '';
  const blocks: types.KnownBlock[] = [
    header(`${onCall ? '📟' : '🚨'} ${what} #${request.id}: review needed`),
    mrkdwnSection(
      onCall
        ? `${user(request.requester)} was on call in PagerDuty and was granted ${resourceName(request.resource)} at once for *${userText(request.duration, 50)}*, until ${slackDate(endsAt)}.${ticket}`
        : `${user(request.requester)} granted themselves ${resourceName(request.resource)} for *${userText(request.duration, 50)}*, until ${slackDate(endsAt)}.${ticket}`,
    ),
    ...(onCall ? [mrkdwnSection(`*On call*\n${onCallLines(view.onCall ?? [])}`)] : []),
    mrkdwnSection(`*Reason*\n${quote(request.reason, 2_500)}`),
    context([`${onCall ? 'Approved as on call' : 'Self-granted'} ${slackDate(request.createdAt)} · request #${request.id}`]),
  ];
  if (reviewed) {
    blocks.push(mrkdwnSection(`✅ Reviewed by ${user(reviewed.by)} at ${slackDate(reviewed.at)}`));
  } else {
    blocks.push({ type: 'actions', elements: [button('Mark reviewed', ACTIONS.reviewEmergency, String(grantId), 'primary')] });
  }
  const state = reviewed ? 'reviewed' : 'needs review';
  return {
    text: truncate(`${what} #${request.id}: ${user(request.requester)} ${onCall ? 'was granted (on call)' : 'self-granted'} ${userText(request.resource, 100)}: ${state}`, 300),
    blocks,
  };
}

/** The PagerDuty shifts the approval rests on, one per line (ids as PagerDuty gave them). */
function onCallLines(shifts: NonNullable<EmergencyReviewCardView['onCall']>): string {
  if (shifts.length === 0) return 'PagerDuty shifts are in the evidence ledger.';
  return shifts
    .map((s) => `• schedule \`${userText(s.scheduleId, 40)}\`, escalation level ${s.escalationLevel}, ${shiftEnd(s.end)}`)
    .join('\n');
}

function shiftEnd(end: string | null): string {
  if (end === null) return 'with no end';
  const at = new Date(end);
  return Number.isNaN(at.getTime()) ? `until ${userText(end, 40)}` : `until ${slackDate(at)}`;
}
