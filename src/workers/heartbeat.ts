import type { AppDeps } from '../app/deps.ts';
import { heartbeatIfIdle } from '../app/lifecycle.ts';

/**
 * The heartbeat worker's tick: a clock comparison on most ticks; the database is asked only once
 * a heartbeat may be due (and decides, so replicas write one between them). Run it in a WorkerLoop.
 */
export function heartbeatTicker(deps: Pick<AppDeps, 'db' | 'ledger' | 'clock'>, host: string): () => Promise<void> {
  let nextCheckAt = 0;
  return async () => {
    if (deps.clock.now().getTime() < nextCheckAt) return;
    nextCheckAt = (await heartbeatIfIdle(deps, host)).getTime();
  };
}
