import type { HomeView } from './view-models.ts';
import { grantStateText, resourceName, slackDate, timeLeft, truncate, users, userText } from './format.ts';

/** Enough for anyone's real list, and keeps the reply far below Slack's 40,000-character message text. */
export const LIST_SHOWN = 25;

/**
 * The answer to `/breakglass list`. Everything is numbered by its REQUEST id, the one number
 * people type into `end` and `extend`, so the grant id never appears here.
 */
export function listText(view: Pick<HomeView, 'activeGrants' | 'myPending'>, now: Date): string {
  const lines: string[] = ['*Your active access*'];
  if (view.activeGrants.length === 0) lines.push('_None._');
  for (const g of view.activeGrants.slice(0, LIST_SHOWN)) {
    const state = g.state === 'active' ? '' : ` (${grantStateText(g.state)})`;
    lines.push(`• *${g.requestId}*: ${resourceName(g.resource)}, ${timeLeft(g.endsAt, now)}, until ${slackDate(g.endsAt)}${state}`);
  }
  more(lines, view.activeGrants.length);

  lines.push('', '*Your pending requests*');
  if (view.myPending.length === 0) lines.push('_None._');
  for (const { request, approvals, approvalsRequired } of view.myPending.slice(0, LIST_SHOWN)) {
    const so = approvals.length > 0 ? `, approved by ${users(approvals)}` : '';
    lines.push(`• *${request.id}*: ${resourceName(request.resource)} for ${userText(request.duration, 50)}, ${approvals.length} of ${approvalsRequired} approvals${so}`);
  }
  more(lines, view.myPending.length);

  if (view.activeGrants.length > 0) {
    const id = view.activeGrants[0]!.requestId;
    lines.push('', `The number in bold is the request id: \`/breakglass end ${id}\` ends that access now, \`/breakglass extend ${id} 1h\` asks for an hour more.`);
  }
  return truncate(lines.join('\n'), 39_000);
}

function more(lines: string[], total: number): void {
  if (total > LIST_SHOWN) lines.push(`…and ${total - LIST_SHOWN} more`);
}
