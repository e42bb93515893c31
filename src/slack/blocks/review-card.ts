import type { types } from '@slack/bolt';
import { ACTIONS, type ReviewCardView, type ReviewLineView } from './view-models.ts';
import { button, context, header, mrkdwnSection, plain, resourceName, slackDate, truncate, user, userText } from './format.ts';

type Block = types.KnownBlock;

/**
 * An access-review card: one message per reviewer per campaign, showing one page of lines
 * (at most REVIEW_LINES_PER_PAGE). Layout, top to bottom:
 *   header     "Access review #3 · 2026-Q2"
 *   section    who should do what, and the due date
 *   context    progress: decided / kept / revoked, page n of m, overdue
 *   divider
 *   per line   section: person, resource, how it was granted, since when, new since last review
 *              + actions [Keep] [Revoke] while undecided; once decided, one section with the outcome
 *   divider
 *   section    "Signed off by …" once signed off
 *   actions    [◀ Previous] [Next ▶] [Keep all remaining (N)] [Sign off] — as they apply
 *   context    "Sign off appears once every line is decided (N left)"
 * At most 4 + 2 × 20 + 3 = 47 blocks, under Slack's 50 a message.
 */
export function reviewCard(view: ReviewCardView, now: Date): { text: string; blocks: Block[] } {
  const { campaign, totals } = view;
  const open = campaign.state === 'open' && !view.signedOff;
  const undecided = totals.lines - totals.decided;
  const overdue = !view.signedOff && campaign.state === 'open' && now > campaign.dueAt;
  const blocks: Block[] = [
    header(`Access review #${campaign.id} · ${campaign.period}`),
    mrkdwnSection(intro(view)),
    context([
      [
        `*${totals.decided} of ${totals.lines}* line(s) decided`,
        `${totals.kept} kept`,
        `${totals.revoked} revoked`,
        ...(view.pages > 1 ? [`page ${view.page + 1} of ${view.pages}`] : []),
        ...(overdue ? [':warning: *overdue*'] : []),
        ...(campaign.state === 'closed' ? ['review closed'] : []),
      ].join(' · '),
    ]),
    { type: 'divider' },
  ];
  for (const line of view.lines) {
    blocks.push(mrkdwnSection(lineText(line)));
    if (!line.decision && open) {
      blocks.push({
        type: 'actions',
        block_id: `review_line_${line.itemId}`,
        elements: [button('Keep', ACTIONS.reviewKeep, String(line.itemId), 'primary'), button('Revoke', ACTIONS.reviewRevoke, String(line.itemId), 'danger')],
      });
    }
  }
  if (view.lines.length === 0) blocks.push(context(['No lines on this page.']));
  blocks.push({ type: 'divider' });
  if (view.signedOff) blocks.push(mrkdwnSection(`:white_check_mark: *Signed off* by ${user(view.signedOff.by)} at ${slackDate(view.signedOff.at)}.`));

  const controls: types.Button[] = [];
  if (view.page > 0) controls.push(button('◀ Previous', ACTIONS.reviewPrevPage, String(view.cardId)));
  if (view.page < view.pages - 1) controls.push(button('Next ▶', ACTIONS.reviewNextPage, String(view.cardId)));
  if (open && undecided > 0) {
    controls.push({
      ...button(`Keep all remaining (${undecided})`, ACTIONS.reviewKeepAll, String(view.cardId)),
      confirm: {
        title: plain('Keep all remaining?', 100),
        text: plain(`Keeps the ${undecided} undecided line(s) on every page of this review, each recorded as your decision.`, 300),
        confirm: plain('Keep all', 30),
        deny: plain('Cancel', 30),
      },
    });
  }
  if (open && undecided === 0) controls.push(button('Sign off', ACTIONS.reviewSignOff, String(view.cardId), 'primary'));
  if (controls.length > 0) blocks.push({ type: 'actions', block_id: 'review_controls', elements: controls });
  if (open && undecided > 0) blocks.push(context([`*Sign off* appears once every line is decided (${undecided} left${view.pages > 1 ? ', on all pages' : ''}).`]));

  const state = view.signedOff ? 'signed off' : `${totals.decided} of ${totals.lines} decided`;
  return { text: truncate(`Access review #${campaign.id} (${campaign.period}): ${state}, due ${campaign.dueAt.toISOString().slice(0, 10)}`, 300), blocks };
}

function intro(view: ReviewCardView): string {
  const due = `Due ${slackDate(view.campaign.dueAt)}.`;
  if (view.audience === 'security') {
    return (
      `These ${view.totals.lines} line(s) of access have no manager who can review them (no manager in Okta, a manager who is not in Slack, ` +
      `or a person who would review themselves). The security team (access.yml \`security:\`) decides them. ` +
      `*Keep* what is still needed; *Revoke* removes it at the provider at once. ${due}`
    );
  }
  return (
    `${user(view.recipient)}, please review the production access of the ${view.totals.people} ${view.totals.people === 1 ? 'person' : 'people'} below. ` +
    `*Keep* what they still need; *Revoke* removes it at the provider at once. Then *Sign off*. ${due}`
  );
}

/** A Revoke of access granted by hand waits for an owner's Done, which is its evidence. */
function byHandStatus(r: ReviewLineView['revoke']): string {
  if (r?.state === 'revoked') return 'removed by hand (an owner confirmed it with Done)';
  return `its owners are asked to remove it by hand${r?.error ? ` (${userText(r.error, 300)})` : ''}`;
}

export function lineText(line: ReviewLineView): string {
  const who = [`*${userText(line.person, 100)}*`, line.slackId ? user(line.slackId) : undefined, line.email && line.email !== line.person ? `(${userText(line.email, 120)})` : undefined]
    .filter(Boolean)
    .join(' ');
  const how =
    line.requestId === undefined
      ? '*unmanaged*: not granted through breakglass'
      : `breakglass request #${line.requestId}${line.byHand ? ', granted by hand and confirmed by its owners (this system cannot be listed: the line is breakglass’s record)' : ''}`;
  const since = line.since ? `${line.sinceSource === 'grant' ? 'since' : 'seen since'} ${slackDate(line.since, '{date_short}')}` : undefined;
  const fresh = line.isNew === true ? ':new: new since the last review' : line.isNew === false ? 'in the last review too' : 'first review of this resource';
  const rows = [`${who} · ${resourceName(line.resource)}`, [how, since, fresh].filter(Boolean).join(' · ')];
  if (line.routeNote && line.route !== 'manager') rows.push(`_↪ ${userText(line.routeNote, 300)}_`);
  if (line.decision) rows.push(outcome(line));
  return rows.join('\n');
}

function outcome(line: ReviewLineView): string {
  const d = line.decision!;
  const by = d.by === 'breakglass' ? 'breakglass (the person has left)' : user(d.by);
  if (d.kind === 'keep') return `:white_check_mark: *Kept* by ${by}, ${slackDate(d.at, '{date_short} {time}')}`;
  const r = line.revoke;
  const status = line.byHand
    ? byHandStatus(r)
    : r?.state === 'revoked'
      ? `removed at the provider${r.verified ? ' (verified)' : ''}`
      : `being removed${r?.error ? ` — the provider refused for now (${userText(r.error, 300)}); breakglass keeps retrying` : ''}`;
  return `:no_entry: *Revoked* by ${by}, ${slackDate(d.at, '{date_short} {time}')}: ${status}`;
}
