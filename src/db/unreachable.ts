import { ProviderError } from '../ports.ts';

/**
 * postgres.js's codes for a connection it lost or could not open, and the network's own. The
 * client reconnects by itself on the next query, so these mean "try again", not "bad input".
 */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** SQLSTATEs of a server going away or not up yet: admin_shutdown, crash_shutdown, cannot_connect_now. */
const SHUTDOWN_STATES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03']);

/**
 * Whether an error means the database could not be reached (connection refused, reset, timed out,
 * the server restarting), rather than a query it answered. drizzle wraps the driver's error in
 * its own, so the cause chain is searched; it stops at a provider's error, whose network codes
 * are about Okta or AWS.
 */
export function isDatabaseUnreachable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && !(e instanceof ProviderError) && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || SHUTDOWN_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
