import type { types } from '@slack/bolt';
import { ACTIONS, type ApprovalCardView, type CardStatus, type HistoryItem, type RequestSummary } from './view-models.ts';
import { button, context, escapeMrkdwn, header, mrkdwnSection, quote, resourceName, slackDate, truncate, user, userText, users } from './format.ts';

const HISTORY_SHOWN = 5;

/**
 * The card each approver gets. Re-rendered from the database on every change, so the same function
 * draws the pending card and every decided one; buttons exist only while a decision is possible.
 */
export function approvalCard(view: ApprovalCardView): { text: string; blocks: types.KnownBlock[] } {
  const { request, status } = view;
  const blocks: types.KnownBlock[] = [
    header(title(request)),
    ...requestBlocks(request),
    historyBlock(request.requester, view.history),
    { type: 'divider' },
    ...statusBlocks(request, status, view.stepUp),
  ];
  return { text: fallback(request, status), blocks };
}

export function title(request: RequestSummary): string {
  if (request.kind === 'emergency') return `🚨 Emergency access #${request.id}`;
  if (request.kind === 'extension') return `Extension request #${request.id}`;
  return `Access request #${request.id}`;
}

/** Who, what, how long, why: shared with the deny modal and App Home so a request reads the same everywhere. */
export function requestBlocks(request: RequestSummary, reasonMax = 2_500): types.KnownBlock[] {
  const what = request.kind === 'extension' ? 'More time on' : 'Resource';
  const resource = `*${what}*\n${resourceName(request.resource)}${request.resourceDescription ? `\n${userText(request.resourceDescription, 300)}` : ''}`;
  const fields: types.MrkdwnElement[] = [
    { type: 'mrkdwn', text: `*Requester*\n${user(request.requester)}` },
    { type: 'mrkdwn', text: resource },
    { type: 'mrkdwn', text: `*Duration*\n${userText(request.duration, 50)}` },
    { type: 'mrkdwn', text: `*Requested*\n${slackDate(request.createdAt)}` },
  ];
  if (request.ticket) fields.push({ type: 'mrkdwn', text: `*Ticket*\n${userText(request.ticket, 100)}` });
  return [
    { type: 'section', fields },
    // The reason sits alone in its text object so stray `*` or `_` in it cannot reach our labels.
    mrkdwnSection(`*Reason*\n${quote(request.reason, reasonMax)}`),
  ];
}

function historyBlock(requester: string, history: HistoryItem[]): types.KnownBlock {
  if (history.length === 0) return context([`No earlier requests from ${user(requester)}.`]);
  const shown = history.slice(0, HISTORY_SHOWN).map(
    (h) => `#${h.id} ${resourceName(h.resource)} ${userText(h.duration, 20)} · ${userText(h.state, 30)} · ${slackDate(h.createdAt, '{date_short}')}`,
  );
  const more = history.length > HISTORY_SHOWN ? ` (${HISTORY_SHOWN} of ${history.length})` : '';
  return context([`*Recent requests from ${user(requester)}${more}:*`, ...shown]);
}

function statusBlocks(request: RequestSummary, status: CardStatus, stepUp = false): types.KnownBlock[] {
  switch (status.state) {
    case 'pending': {
      const so = status.approvals.length > 0 ? ` · approved so far by ${users(status.approvals)}` : '';
      return [
        mrkdwnSection(`*${status.approvals.length} of ${status.approvalsRequired} approvals*${so}`),
        context([`Expires if not decided by ${slackDate(status.pendingUntil)}`, ...(stepUp ? [STEP_UP_NOTE] : [])]),
        decisionButtons(request.id),
      ];
    }
    case 'approved':
      return [mrkdwnSection(`✅ *Approved* by ${users(status.approvals)}. ${request.kind === 'extension' ? 'The access is being extended.' : 'Access is being set up.'}`)];
    case 'active':
      return [mrkdwnSection(`✅ *Approved* by ${users(status.approvals)}. Access is active until ${slackDate(status.endsAt)}.`)];
    case 'ended':
      return [mrkdwnSection(`⏹️ *Access ended* ${slackDate(status.endedAt)}. Approved by ${users(status.approvals)}.`)];
    case 'denied':
      return [mrkdwnSection(`❌ *Denied* by ${user(status.by)}\n${quote(status.reason, 2_500)}`)];
    case 'expired':
      return [mrkdwnSection('⌛ *Expired*: no decision was made in time. Nothing was granted.')];
    case 'cancelled':
      return [mrkdwnSection(`🚫 *Cancelled*${status.reason ? `: ${userText(status.reason, 300)}` : ` by ${user(status.by)}`}. Nothing was granted.`)];
    case 'failed':
      if (request.kind === 'extension') return [mrkdwnSection(`⚠️ *Approved, but the access could not be extended.*\n${quote(status.error, 2_500)}`)];
      return [mrkdwnSection(`⚠️ *Approved, but access could not be granted.* Nothing was left behind.\n${quote(status.error, 2_500)}`)];
  }
}

/** On a pending card whose approvals need a step-up: the approver knows to have their phone at hand. */
const STEP_UP_NOTE = ':iphone: Approving sends an Okta Verify push to your phone; your approval counts once you accept it.';

/** Approve and Deny carry only the request id: who clicked and what it means come from Slack and the database. */
export function decisionButtons(requestId: number): types.ActionsBlock {
  return {
    type: 'actions',
    elements: [
      button('Approve', ACTIONS.approve, String(requestId), 'primary'),
      button('Deny', ACTIONS.deny, String(requestId), 'danger'),
    ],
  };
}

const STATE_WORDS: Record<CardStatus['state'], string> = {
  pending: 'waiting for approval',
  approved: 'approved',
  active: 'approved, access active',
  ended: 'access ended',
  denied: 'denied',
  expired: 'expired',
  cancelled: 'cancelled',
  failed: 'approved, but granting failed',
};

function fallback(request: RequestSummary, status: CardStatus): string {
  const who = user(request.requester);
  const what = `${escapeMrkdwn(request.resource)} for ${escapeMrkdwn(request.duration)}`;
  return truncate(`${title(request)}: ${who} asks for ${what}: ${STATE_WORDS[status.state]}`, 300);
}
