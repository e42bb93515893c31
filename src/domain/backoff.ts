/**
 * How long to wait before try number `attempt + 1`: `baseMs × 2^attempt`, at most `maxMs`.
 * `jitter` spreads replicas that failed together (one outage) so they do not retry in one instant:
 * `upper-half` waits at least half the ceiling (a durable retry that should not come back too soon),
 * `full` anywhere from zero (AWS's "full jitter", for quick in-call retries), `none` exactly.
 */
export function backoffMs(attempt: number, opts: { baseMs: number; maxMs: number; jitter: 'upper-half' | 'full' | 'none' }, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  if (opts.jitter === 'none') return ceiling;
  if (opts.jitter === 'full') return random() * ceiling;
  return ceiling / 2 + random() * (ceiling / 2);
}
