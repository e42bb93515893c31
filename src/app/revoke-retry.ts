import { backoffMs } from '../domain/backoff.ts';

/** A failing revoke is retried at least this often, so access ends within about this long of the provider's recovery. */
export const MAX_REVOKE_BACKOFF_MS = 20_000;

/**
 * When a revoke that failed on its `attempts`-th try is tried again: 1 s × 2^attempts, at most
 * MAX_REVOKE_BACKOFF_MS, of which the upper half is random, so replicas retrying many revokes
 * after one outage do not all call the provider in the same instant.
 */
export function revokeRetryAt(now: Date, attempts: number): Date {
  return new Date(now.getTime() + backoffMs(attempts, { baseMs: 1_000, maxMs: MAX_REVOKE_BACKOFF_MS, jitter: 'upper-half' }));
}
