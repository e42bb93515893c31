/**
 * Text for people reading a file, not Slack: the bot records some texts (alerts) as it posted
 * them, in Slack's mrkdwn, which a spreadsheet shows as `<@U0ALICE>` and `<!date^1767…|…>`.
 */

const TOKEN = /<([^<>]*)>/g;
const EMOJI = /(^|\s):[a-z0-9_+-]*[a-z][a-z0-9_+-]*:(?=\s|$)/g;

/** Slack mrkdwn as plain text: mentions as `@U0ALICE`, dates as their UTC fallback, links as `label (url)`, entities decoded. */
export function slackToText(text: string): string {
  return text
    .replace(TOKEN, (_, inner: string) => token(inner))
    .replace(EMOJI, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .trim();
}

function token(inner: string): string {
  const bar = inner.indexOf('|');
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? undefined : inner.slice(bar + 1);
  if (target.startsWith('@')) return `@${label ?? target.slice(1)}`;
  if (target.startsWith('#')) return `#${label ?? target.slice(1)}`;
  if (target.startsWith('!date^')) return label ?? dateOf(target);
  if (target.startsWith('!subteam^')) return label ?? `@${target.slice('!subteam^'.length)}`;
  if (target.startsWith('!')) return `@${label ?? target.slice(1)}`;
  return label && label !== target ? `${label} (${target})` : target;
}

function dateOf(target: string): string {
  const seconds = Number(target.split('^')[1]);
  return Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : target;
}

/**
 * An event's details as one line for a spreadsheet cell, instead of raw JSON:
 * `decision: keep; item_id: 1; systems: [prod-db, okta]`. Keys sorted, as the database does not
 * keep their order.
 */
export function detailsText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}: ${valueText(value)}`)
    .join('; ');
}

function valueText(value: unknown): string {
  if (value === null) return 'none';
  if (Array.isArray(value)) return `[${value.map(valueText).join(', ')}]`;
  if (typeof value === 'object') return `{${detailsText(value as Record<string, unknown>)}}`;
  return typeof value === 'string' ? slackToText(value) : String(value);
}
