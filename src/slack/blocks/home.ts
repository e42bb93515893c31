import type { types } from '@slack/bolt';
import { ACTIONS, type HomeView } from './view-models.ts';
import { andMore, button, context, header, mrkdwnSection, plain, quote, resourceName, slackDate, timeLeft, user, userText, users } from './format.ts';
import { decisionButtons, title } from './approval-card.ts';

/**
 * How many of each list are drawn. At most 8 fixed blocks + 21 + (2×10 + 1) + 16 + 11 = 77, under
 * Slack's 100 for a view whatever the lists hold; the rest are counted in an "…and K more" line.
 */
export const HOME_SHOWN = { active: 20, waiting: 10, pending: 15, reviews: 10 } as const;

type Block = types.KnownBlock;

/** The App Home tab: what this person holds, what waits on them, what they wait on. */
export function homeView(view: HomeView, now: Date): types.HomeView {
  const blocks: Block[] = [
    context([`Hi ${user(view.user)}. As of ${slackDate(now)}; this page refreshes each time you open it.`]),
    header('Your active access'),
    ...activeBlocks(view, now),
    { type: 'divider' },
    header('Waiting on your approval'),
    ...waitingBlocks(view),
    { type: 'divider' },
    header('Your pending requests'),
    ...pendingBlocks(view),
  ];
  if (view.reviewsDue.length > 0) blocks.push({ type: 'divider' }, header('Access reviews due'), ...reviewBlocks(view));
  return { type: 'home', blocks };
}

function activeBlocks(view: HomeView, now: Date): Block[] {
  if (view.activeGrants.length === 0) {
    return [context(['You have no active access. Ask for some with `/breakglass <resource> <duration> <reason>`.'])];
  }
  const blocks: Block[] = view.activeGrants.slice(0, HOME_SHOWN.active).map((g) => {
    const text = `${resourceName(g.resource)} · *${timeLeft(g.endsAt, now)}* (until ${slackDate(g.endsAt)})\nRequest #${g.requestId}${g.state === 'active' ? '' : ` · ${stateWord(g.state)}`}`;
    const section: types.SectionBlock = mrkdwnSection(text);
    // Only live access can be ended; while it is being set up or taken away there is nothing to press.
    if (g.state === 'active') {
      section.accessory = {
        ...button('End now', ACTIONS.endGrant, String(g.grantId), 'danger'),
        confirm: {
          title: plain('End this access now?', 100),
          text: plain(`Your access to ${g.resource} ends at once. You would need a new request to get it back.`, 300),
          confirm: plain('End now', 30),
          deny: plain('Keep it', 30),
          style: 'danger',
        },
      };
    }
    return section;
  });
  return withMore(blocks, view.activeGrants.length, HOME_SHOWN.active, 'active grants');
}

function waitingBlocks(view: HomeView): Block[] {
  if (view.waitingOnMe.length === 0) return [context(['Nothing is waiting on your approval. ✨'])];
  const blocks = view.waitingOnMe.slice(0, HOME_SHOWN.waiting).flatMap(({ request, approvals, approvalsRequired }): Block[] => [
    mrkdwnSection(
      `*${title(request)}*: ${user(request.requester)} asks for ${resourceName(request.resource)} for *${userText(request.duration, 50)}*` +
        ` · ${approvals.length} of ${approvalsRequired} approvals\n${quote(request.reason, 500)}`,
    ),
    decisionButtons(request.id),
  ]);
  return withMore(blocks, view.waitingOnMe.length, HOME_SHOWN.waiting, 'requests waiting on you: their cards are in your direct messages');
}

function pendingBlocks(view: HomeView): Block[] {
  if (view.myPending.length === 0) return [context(['You have no requests waiting for approval.'])];
  const blocks = view.myPending.slice(0, HOME_SHOWN.pending).map(({ request, approvals, approvalsRequired }) => {
    const so = approvals.length > 0 ? ` (${users(approvals)})` : '';
    return mrkdwnSection(
      `*#${request.id}* ${resourceName(request.resource)} for *${userText(request.duration, 50)}* · ` +
        `${approvals.length} of ${approvalsRequired} approvals${so} · asked ${slackDate(request.createdAt)}`,
    );
  });
  return withMore(blocks, view.myPending.length, HOME_SHOWN.pending, 'pending requests');
}

function reviewBlocks(view: HomeView): Block[] {
  const blocks = view.reviewsDue
    .slice(0, HOME_SHOWN.reviews)
    .map((r) => mrkdwnSection(`*Review #${r.campaignId}*: ${r.items} to review, due ${slackDate(r.dueAt)}. The review card is in your direct messages.`));
  return withMore(blocks, view.reviewsDue.length, HOME_SHOWN.reviews, 'reviews');
}

function withMore(blocks: Block[], total: number, shown: number, what: string): Block[] {
  return total > shown ? [...blocks, andMore(total - shown, what)] : blocks;
}

function stateWord(state: string): string {
  if (state === 'granting') return '_being set up_';
  if (state === 'extending') return '_being extended_';
  if (state === 'revoking') return '_ending_';
  return `_${userText(state, 30)}_`;
}
