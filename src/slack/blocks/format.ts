import type { types } from '@slack/bolt';
import { formatDuration } from '../../domain/duration.ts';

/** Slack's published limits, in one place so builders and tests agree. */
export const LIMITS = {
  sectionText: 3_000,
  sectionField: 2_000,
  contextElements: 10,
  messageBlocks: 50,
  viewBlocks: 100,
  buttonText: 75,
  buttonValue: 2_000,
  headerText: 150,
  modalTitle: 24,
} as const;

/** The only escaping Slack asks for: without it `<!channel>` pings everyone and `<http…|x>` disguises a link. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Shortens to at most `max` characters, ending with `…`. Never leaves half a surrogate pair, half an
 * `&amp;` entity or an unclosed `<…>` token behind, since Slack would show those as garbage.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  cut = cut.replace(/&[a-z]{0,4}$/, '').replace(/<[^>]*$/, '');
  return `${cut}…`;
}

/** Text someone typed, made safe to place in mrkdwn and sized to fit. */
export function userText(text: string, max: number): string {
  return truncate(escapeMrkdwn(text), max);
}

/** Quotes user text line by line, so the reader sees whose words these are and where they stop. */
export function quote(text: string, max: number): string {
  const lines = escapeMrkdwn(text.trim() === '' ? '(none)' : text.trim()).split('\n');
  return truncate(lines.map((line) => `>${line}`).join('\n'), max);
}

/**
 * A Slack date token: every reader sees it in their own time zone. The fallback (for clients that
 * cannot render the token, and for notifications) is UTC ISO-8601 to the second.
 */
export function slackDate(date: Date, format = '{date_short_pretty} {time}'): string {
  const unix = Math.floor(date.getTime() / 1000);
  const iso = `${date.toISOString().slice(0, 19)}Z`;
  return `<!date^${unix}^${format}|${iso}>`;
}

/** `1h 20m left`, rounded down so it never promises more time than there is. */
export function timeLeft(endsAt: Date, now: Date): string {
  const ms = endsAt.getTime() - now.getTime();
  if (ms <= 0) return 'ending now';
  if (ms < 60_000) return 'less than a minute left';
  const compact = formatDuration(Math.floor(ms / 60_000) * 60_000);
  return `${compact.replace(/([dhm])(?=\d)/g, '$1 ')} left`;
}

/** How a grant that is not simply active reads to its holder, on App Home and in `/breakglass list`. */
export function grantStateText(state: 'granting' | 'extending' | 'revoking' | 'revoke_retrying'): string {
  if (state === 'granting') return 'being set up';
  if (state === 'extending') return 'being extended';
  if (state === 'revoking') return 'ending';
  return 'still active: the provider refused to remove it, and breakglass keeps retrying';
}

/** A mention; Slack ids are alphanumeric, so anything else is dropped rather than allowed to break the token. */
export function user(id: string): string {
  return `<@${id.replace(/[^A-Za-z0-9]/g, '')}>`;
}

/** `<@A>, <@B> and <@C>`. */
export function users(ids: readonly string[]): string {
  const mentions = ids.map(user);
  if (mentions.length <= 1) return mentions.join('');
  return `${mentions.slice(0, -1).join(', ')} and ${mentions.at(-1)}`;
}

/** A resource name from access.yml, shown as code. Backticks cannot be escaped inside code, so they are removed. */
export function resourceName(name: string): string {
  return `\`${truncate(escapeMrkdwn(name.replace(/`/g, '')), 100)}\``;
}

export function plain(text: string, max: number = LIMITS.buttonText): types.PlainTextElement {
  return { type: 'plain_text', text: truncate(text, max), emoji: true };
}

export function mrkdwnSection(text: string): types.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, LIMITS.sectionText) } };
}

export function context(texts: readonly string[]): types.ContextBlock {
  return {
    type: 'context',
    elements: texts.slice(0, LIMITS.contextElements).map((text) => ({ type: 'mrkdwn', text: truncate(text, LIMITS.sectionText) })),
  };
}

export function header(text: string): types.HeaderBlock {
  return { type: 'header', text: plain(text, LIMITS.headerText) };
}

export function button(
  text: string,
  actionId: string,
  value: string,
  style?: 'primary' | 'danger',
): types.Button {
  return { type: 'button', text: plain(text), action_id: actionId, value, ...(style ? { style } : {}) };
}

/** `…and 12 more`, for lists cut short to stay under the block limits. */
export function andMore(hidden: number, what: string): types.ContextBlock {
  return context([`…and ${hidden} more ${what}`]);
}
