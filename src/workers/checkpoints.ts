import type { AppDeps } from '../app/deps.ts';
import { takeCheckpointIfDue } from '../app/take-checkpoint.ts';
import type { CheckpointSigner } from '../ledger/checkpoint.ts';

/**
 * The checkpoint worker's tick: cheap on every tick (a clock comparison), it looks at the
 * database only once a checkpoint may be due. The database decides; this only avoids asking it
 * every second. Run it in a WorkerLoop.
 */
export function checkpointTicker(deps: Pick<AppDeps, 'db' | 'ledger' | 'clock' | 'access' | 'wake' | 'logger'>, signer: CheckpointSigner): () => Promise<void> {
  let nextCheckAt = 0;
  return async () => {
    if (deps.clock.now().getTime() < nextCheckAt) return;
    const outcome = await takeCheckpointIfDue(deps, signer);
    nextCheckAt = outcome.nextCheckAt.getTime();
    if (outcome.taken) deps.logger.info({ seq: outcome.taken.seq, count: outcome.taken.checkpoint.count, head: outcome.taken.checkpoint.head, key: signer.fingerprint }, 'ledger checkpoint taken');
  };
}
