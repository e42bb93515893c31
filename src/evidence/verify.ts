import type { Db } from '../db/client.ts';
import { canonicalContent, chainHash, GENESIS_HASH } from './event.ts';
import { readEvents } from './read.ts';

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
 * reordering each break one of those. (Cutting off the newest events needs a checkpoint to see.)
 */
export async function verifyLedger(db: Db, onProgress?: (count: number) => void): Promise<VerifyResult> {
  let expectedSeq = 1;
  let previous = GENESIS_HASH;
  for await (const event of readEvents(db, {}, 10_000)) {
    const fail = (reason: string): VerifyResult => ({ ok: false, count: expectedSeq - 1, headHash: previous, problem: { seq: event.seq, kind: event.kind, reason } });
    if (event.seq !== expectedSeq) {
      return fail(
        event.seq > expectedSeq
          ? `events ${expectedSeq}${event.seq - 1 > expectedSeq ? `–${event.seq - 1}` : ''} are missing before it`
          : `seq ${event.seq} is out of order (expected ${expectedSeq})`,
      );
    }
    if (event.prevHash !== previous) {
      return fail(`its prev_hash does not match the hash of event ${expectedSeq - 1}: an event before it was removed, replaced or reordered`);
    }
    if (chainHash(event.prevHash, canonicalContent(event)) !== event.hash) {
      return fail('its content does not match its hash: it was changed after it was written');
    }
    previous = event.hash;
    expectedSeq++;
    if (onProgress && expectedSeq % 100_000 === 1) onProgress(expectedSeq - 1);
  }
  return { ok: true, count: expectedSeq - 1, headHash: previous };
}
