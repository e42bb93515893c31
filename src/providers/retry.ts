import { ProviderError } from '../ports.ts';
import { backoffMs } from '../domain/backoff.ts';
import { admitCall, reportTransientFailure } from './circuit.ts';

export interface RetryOptions {
  /** Total tries, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
  isTransient: (err: unknown) => boolean;
  /** A wait the server asked for (Retry-After, X-Rate-Limit-Reset), honoured up to maxMs. */
  retryAfterMs?: (err: unknown) => number | undefined;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Names the operation in the final error, e.g. "okta assignUserToGroup". */
  label?: string;
}

/**
 * Kept small on purpose: the durable expiry worker tries a failed revoke again later, so a long
 * in-call budget would only hold a worker slot (and a Slack reply) hostage.
 */
export const DEFAULT_RETRY: RetryOptions = {
  attempts: 4,
  baseMs: 200,
  maxMs: 5_000,
  isTransient: isTransientError,
};

const TRANSIENT_AWS_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ConcurrentModification',
  'ConcurrentModificationException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** HTTP status of an SDK error, whichever SDK threw it (AWS v3, Okta v8, node-fetch, plain). */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as Record<string, unknown>;
  const meta = e['$metadata'] as { httpStatusCode?: unknown } | undefined;
  for (const v of [meta?.httpStatusCode, e['status'], e['statusCode'], e['code']]) {
    const n = typeof v === 'string' && /^\d{3}$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && n >= 100 && n < 600) return n;
  }
  return undefined;
}

/** 429, 5xx, AWS throttling/conflict codes and dropped connections; anything else is a real answer. */
export function isTransientError(err: unknown): boolean {
  if (err instanceof ProviderError) return err.transient;
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const rec = e as Record<string, unknown>;
    const status = httpStatusOf(e);
    if (status === 429 || (status !== undefined && status >= 500)) return true;
    for (const key of ['name', 'Code', 'code']) {
      const v = rec[key];
      if (typeof v === 'string' && (TRANSIENT_AWS_CODES.has(v) || TRANSIENT_NETWORK_CODES.has(v))) {
        return true;
      }
    }
    // node-fetch (used by the Okta SDK) reports its own timeout without an errno.
    if (rec['type'] === 'request-timeout') return true;
    if (status !== undefined) return false;
    e = rec['cause'];
  }
  return false;
}

/** The request may have reached the provider, and no answer came back: the connection dropped, or the wait ran out. */
const UNANSWERED_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_SOCKET', 'TimeoutError', 'RequestTimeout', 'AbortError']);

/**
 * Whether a failed call's outcome is unknown: the request may have been carried out and its answer
 * lost. Any HTTP answer (a 4xx refusal, even a 5xx) is an answer; a connection refused never sent
 * the request. Such a change is checked at the provider, never assumed either way.
 */
export function isOutcomeUnknown(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const rec = e as Record<string, unknown>;
    if (httpStatusOf(e) !== undefined && !(e instanceof ProviderError)) return false;
    for (const key of ['name', 'code']) {
      const v = rec[key];
      if (typeof v === 'string' && UNANSWERED_CODES.has(v)) return true;
    }
    if (rec['type'] === 'request-timeout' || (typeof rec['message'] === 'string' && /socket hang up/i.test(rec['message']))) return true;
    e = rec['cause'];
  }
  return false;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn`, retrying transient failures with exponential backoff and full jitter
 * (delay = random × min(maxMs, baseMs × 2^n)). Whatever still fails becomes a ProviderError:
 * transient=true once the budget is spent, transient=false at once for a definitive answer.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: Partial<RetryOptions> = {},
): Promise<T> {
  const opts = { ...DEFAULT_RETRY, ...options };
  const sleep = opts.sleep ?? realSleep;
  const random = opts.random ?? Math.random;
  const attempts = Math.max(1, Math.floor(opts.attempts));
  for (let attempt = 1; ; attempt++) {
    admitCall();
    try {
      return await fn(attempt);
    } catch (err) {
      // A ProviderError has been through a retry budget of its own (or is deliberate): budgets don't multiply.
      if (err instanceof ProviderError) throw err;
      const transient = opts.isTransient(err);
      if (!transient) throw toProviderError(err, false, opts.label);
      reportTransientFailure(`${opts.label ?? 'call'}: ${err instanceof Error ? err.message : String(err)}`, opts.retryAfterMs?.(err));
      if (attempt >= attempts) {
        throw toProviderError(err, true, opts.label, `after ${attempts} attempt${attempts === 1 ? '' : 's'}`);
      }
      const jittered = backoffMs(attempt - 1, { baseMs: opts.baseMs, maxMs: opts.maxMs, jitter: 'full' }, random);
      const asked = opts.retryAfterMs?.(err);
      const delay = asked !== undefined && asked > 0 ? Math.min(opts.maxMs, Math.max(asked, jittered)) : jittered;
      await sleep(Math.round(delay));
    }
  }
}

function toProviderError(err: unknown, transient: boolean, label?: string, suffix?: string): ProviderError {
  const message = err instanceof Error ? err.message : String(err);
  const head = [label, 'failed', suffix].filter(Boolean).join(' ');
  return new ProviderError(`${head}: ${message}`, transient, httpStatusOf(err), { cause: err });
}
