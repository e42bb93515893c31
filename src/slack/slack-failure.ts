import { ErrorCode } from '@slack/web-api';

/**
 * Slack answers that trying again cannot change: the message itself is wrong for Slack, or its
 * recipient cannot receive it. Everything else (network errors, timeouts, 429, 5xx, `ratelimited`,
 * `fatal_error`, `service_unavailable`, …) passes with time.
 */
const PERMANENT = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_blocks',
  'invalid_blocks_format',
  'invalid_arguments',
  'msg_too_long',
  'no_text',
  'user_not_found',
  'user_disabled',
  'account_inactive',
  'cannot_dm_bot',
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
]);

/** Refusals that inviting the bot or correcting a channel id in access.yml fixes. */
const CHANNEL_ERRORS = new Set(['channel_not_found', 'not_in_channel', 'is_archived']);

export type SlackFailure =
  | { permanent: true; code: string; channelProblem: boolean }
  | { permanent: false; reason: string; retryAfterMs?: number | undefined };

/** What a failed Web API call means for the outbox: give up (and on what), or wait and try again (how long Slack asked for, if it did). */
export function classifySlackFailure(error: unknown): SlackFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown;
    data?: { error?: unknown; response_metadata?: { retryAfter?: unknown } };
    retryAfter?: unknown;
    statusCode?: unknown;
    headers?: Record<string, string>;
  };
  if (e.code === ErrorCode.PlatformError && typeof e.data?.error === 'string') {
    const code = e.data.error;
    if (PERMANENT.has(code)) return { permanent: true, code, channelProblem: CHANNEL_ERRORS.has(code) };
    return { permanent: false, reason: code, retryAfterMs: seconds(e.data.response_metadata?.retryAfter) };
  }
  if (e.code === ErrorCode.RateLimitedError) return { permanent: false, reason: 'rate limited (429)', retryAfterMs: seconds(e.retryAfter) };
  if (e.code === ErrorCode.HTTPError) return { permanent: false, reason: `HTTP ${String(e.statusCode)}`, retryAfterMs: seconds(Number.parseInt(e.headers?.['retry-after'] ?? '', 10)) };
  return { permanent: false, reason: error instanceof Error ? error.message : String(error) };
}

function seconds(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value * 1_000 : undefined;
}
