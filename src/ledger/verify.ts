import type { Db } from '../db/client.ts';
import { checkEvents, type ChainPosition, type ChainProblem } from './chain-check.ts';
import { GENESIS_HASH, type StoredEvent } from './event.ts';
import { parseEvents, readEventWindows } from './read.ts';
import { startVerifyWorkers, type VerifyWorkers, type WindowVerdict } from './verify-workers.ts';

export interface VerifyResult {
  ok: boolean;
  count: number;
  headHash: string;
  /** The first event that breaks the chain, and why, when not ok. */
  problem?: ChainProblem;
}

const PROGRESS_EVERY = 100_000;

/**
 * Walks the whole chain from the first event (checkEvents says what is checked). Cutting off the
 * newest events, or rewriting the whole chain, needs a signed checkpoint to see:
 * checkLedgerAgainstCheckpoint in checkpoint-check.ts. `onEvent` sees each event that verified,
 * in seq order.
 *
 * The ledger is read a window at a time. Each window is checked from where the one before it ends
 * if that one verifies (its stored last hash, its seq count), so windows can be checked on worker
 * threads while the next ones are read; verdicts are taken in order, and the first problem is the
 * answer, as if checked one by one. A ledger of one window, or a caller that wants every event,
 * is checked in this thread.
 */
export async function verifyLedger(db: Db, onProgress?: (count: number) => void, onEvent?: (event: StoredEvent) => void): Promise<VerifyResult> {
  let workers: VerifyWorkers | undefined;
  const pending: Promise<WindowVerdict>[] = [];
  let checked: ChainPosition = { expectedSeq: 1, previous: GENESIS_HASH };
  let reported = 0;
  const takeVerdict = async (): Promise<VerifyResult | undefined> => {
    const verdict = await pending.shift()!;
    checked = verdict.position;
    const count = checked.expectedSeq - 1;
    if (verdict.problem) return { ok: false, count, headHash: checked.previous, problem: verdict.problem };
    for (; onProgress && reported + PROGRESS_EVERY <= count; reported += PROGRESS_EVERY) onProgress(reported + PROGRESS_EVERY);
    return undefined;
  };
  try {
    let next: ChainPosition = checked;
    for await (const window of readEventWindows(db)) {
      const from = next;
      next = { expectedSeq: from.expectedSeq + window.rows, previous: window.lastHash };
      // Worth their start-up only for a ledger of more than one window.
      if (!workers && !onEvent && window.more) workers = startVerifyWorkers();
      const verdict = workers ? workers.check(window.text, from) : Promise.resolve(checkEvents(parseEvents(window.text), from, onEvent));
      // Taken in order below; one left behind when an earlier window fails must not count as unhandled.
      verdict.catch(() => undefined);
      pending.push(verdict);
      // One window queued beyond one per worker keeps every worker busy while a verdict is taken.
      while (pending.length > (workers ? workers.size + 1 : 0)) {
        const failed = await takeVerdict();
        if (failed) return failed;
      }
    }
    while (pending.length > 0) {
      const failed = await takeVerdict();
      if (failed) return failed;
    }
    return { ok: true, count: checked.expectedSeq - 1, headHash: checked.previous };
  } finally {
    await workers?.stop();
  }
}

/**
 * What `evidence verify` concludes from the chain, the checkpoints and the head row, worst first:
 * a broken chain, then a chain that verifies but not against the checkpoints, then a head row
 * ahead of (or otherwise unlike) the newest event. `headProblem` is kept beside any verdict, so
 * it can still be told after a checkpoint mismatch.
 */
export type LedgerVerdict =
  | { kind: 'ok'; chain: VerifyResult }
  | { kind: 'chain_broken'; chain: VerifyResult; problem: ChainProblem }
  | { kind: 'checkpoint_mismatch'; chain: VerifyResult; headProblem: string | undefined }
  | { kind: 'head_row_wrong'; chain: VerifyResult; headProblem: string };

export function ledgerVerdict(chain: VerifyResult, checkpointOk: boolean, headProblem: string | undefined): LedgerVerdict {
  if (!chain.ok) return { kind: 'chain_broken', chain, problem: chain.problem! };
  if (!checkpointOk) return { kind: 'checkpoint_mismatch', chain, headProblem };
  if (headProblem) return { kind: 'head_row_wrong', chain, headProblem };
  return { kind: 'ok', chain };
}
