import { canonicalContent, chainHash, type StoredEvent } from './event.ts';

/** Where a check of the chain stands: the seq the next event must have, and the hash it must point back to. */
export interface ChainPosition {
  expectedSeq: number;
  previous: string;
}

export interface ChainProblem {
  seq: number;
  kind?: string;
  reason: string;
}

/**
 * Checks events in seq order from `from`: each one's seq must be the next, its prev_hash the
 * previous event's hash, and its hash must match its content. An edit, a deletion in the middle
 * and a reordering each break one of those. Stops at the first event that does not verify and
 * says where the check stood then; `onEvent` sees each event that verified.
 */
export function checkEvents(events: Iterable<StoredEvent>, from: ChainPosition, onEvent?: (event: StoredEvent) => void): { position: ChainPosition; problem?: ChainProblem } {
  let { expectedSeq, previous } = from;
  const stop = (event: StoredEvent, reason: string) => ({ position: { expectedSeq, previous }, problem: { seq: event.seq, kind: event.kind, reason } });
  for (const event of events) {
    if (event.seq !== expectedSeq) {
      return stop(
        event,
        event.seq > expectedSeq
          ? `events ${expectedSeq}${event.seq - 1 > expectedSeq ? `–${event.seq - 1}` : ''} are missing before it`
          : `seq ${event.seq} is out of order (expected ${expectedSeq})`,
      );
    }
    if (event.prevHash !== previous) {
      return stop(event, `its prev_hash does not match the hash of event ${expectedSeq - 1}: an event before it was removed, replaced or reordered`);
    }
    if (chainHash(event.prevHash, canonicalContent(event)) !== event.hash) {
      return stop(event, 'its content does not match its hash: it was changed after it was written');
    }
    onEvent?.(event);
    previous = event.hash;
    expectedSeq++;
  }
  return { position: { expectedSeq, previous } };
}
