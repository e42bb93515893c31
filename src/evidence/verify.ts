import type { Db } from '../db/client.ts';
import { canonicalContent, chainHash, GENESIS_HASH, type StoredEvent } from './event.ts';
import { readEventPages } from './read.ts';

export interface VerifyResult {
  ok: boolean;
  count: number;
  headHash: string;
  /** The first event that breaks the chain, and why, when not ok. */
  problem?: { seq: number; kind?: string; reason: string };
}

/**
 * Walks the whole chain from the first event: each event's hash must match its content and the
 * previous event's hash, and seq must run without gaps. An edit, a deletion in the middle and a
 * reordering each break one of those. (Cutting off the newest events, or rewriting the whole chain, needs a signed checkpoint to see:
 * checkLedgerAgainstCheckpoint in checkpoint-check.ts.) `onEvent` sees each event that verified, in seq order.
 */
export async function verifyLedger(db: Db, onProgress?: (count: number) => void, onEvent?: (event: StoredEvent) => void): Promise<VerifyResult> {
  let expectedSeq = 1;
  let previous = GENESIS_HASH;
  const fail = (event: StoredEvent, reason: string): VerifyResult => ({ ok: false, count: expectedSeq - 1, headHash: previous, problem: { seq: event.seq, kind: event.kind, reason } });
  for await (const page of readEventPages(db, {}, 10_000)) for (const event of page) {
    if (event.seq !== expectedSeq) {
      return fail(
        event,
        event.seq > expectedSeq
          ? `events ${expectedSeq}${event.seq - 1 > expectedSeq ? `–${event.seq - 1}` : ''} are missing before it`
          : `seq ${event.seq} is out of order (expected ${expectedSeq})`,
      );
    }
    if (event.prevHash !== previous) {
      return fail(event, `its prev_hash does not match the hash of event ${expectedSeq - 1}: an event before it was removed, replaced or reordered`);
    }
    if (chainHash(event.prevHash, canonicalContent(event)) !== event.hash) {
      return fail(event, 'its content does not match its hash: it was changed after it was written');
    }
    onEvent?.(event);
    previous = event.hash;
    expectedSeq++;
    if (onProgress && expectedSeq % 100_000 === 1) onProgress(expectedSeq - 1);
  }
  return { ok: true, count: expectedSeq - 1, headHash: previous };
}
