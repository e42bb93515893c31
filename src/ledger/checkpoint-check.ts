import { desc, eq, max } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { evidenceEvents } from '../db/schema.ts';
import { checkpointFromDetails, checkpointSignatureValid, keyFingerprint, normalisePublicKey, type SignedCheckpoint } from './checkpoint.ts';
import { GENESIS_HASH } from './event.ts';

export type CheckpointProblem = 'signature' | 'key' | 'missing' | 'rewritten';

export interface CheckpointCheck {
  ok: boolean;
  checkpoint: SignedCheckpoint;
  /** The newest seq in the ledger now (0 when empty). */
  newestSeq: number;
  problem?: CheckpointProblem;
  /** One sentence for people: what matched, or what is wrong. */
  message: string;
}

/**
 * Compares the ledger with a signed checkpoint: the signature must verify (and be by the pinned
 * key, when one is given), the ledger must still reach event #count, and that event's hash must
 * be the checkpoint's head. Since each hash covers every event before it, a matching head proves
 * events 1..count are exactly the ones checkpointed; the chain walk (verifyLedger) covers the rest.
 */
export async function checkLedgerAgainstCheckpoint(db: Db, checkpoint: SignedCheckpoint, options: { publicKey?: string | undefined } = {}): Promise<CheckpointCheck> {
  const when = `the checkpoint of ${checkpoint.at} (${checkpoint.count} event(s))`;
  const [newest] = await db.select({ seq: max(evidenceEvents.seq) }).from(evidenceEvents);
  const newestSeq = Number(newest?.seq ?? 0);
  const fail = (problem: CheckpointProblem, message: string): CheckpointCheck => ({ ok: false, checkpoint, newestSeq, problem, message });

  if (!checkpointSignatureValid(checkpoint)) {
    return fail('signature', `${when} is not genuine: its signature does not verify against its key ${keyFingerprint(checkpoint.publicKey)}, so its count, head or time were altered, or it was forged`);
  }
  if (options.publicKey !== undefined) {
    const pinned = normalisePublicKey(options.publicKey);
    if (pinned !== normalisePublicKey(checkpoint.publicKey)) {
      return fail('key', `${when} was signed by key ${keyFingerprint(checkpoint.publicKey)}, not by the pinned key ${keyFingerprint(pinned)}: it is not one of yours`);
    }
  }
  if (newestSeq < checkpoint.count) {
    const gone = checkpoint.count - newestSeq;
    return fail(
      'missing',
      `the newest ${gone} event(s) are missing: ${when} covers events #1–#${checkpoint.count}, but the ledger now ends at event #${newestSeq}; events #${newestSeq + 1}–#${checkpoint.count} (and any after them) were deleted`,
    );
  }
  let actual = GENESIS_HASH;
  if (checkpoint.count > 0) {
    const [row] = await db.select({ hash: evidenceEvents.hash }).from(evidenceEvents).where(eq(evidenceEvents.seq, checkpoint.count));
    if (!row) return fail('missing', `event #${checkpoint.count}, the last one ${when} covers, is missing from the ledger`);
    actual = row.hash;
  }
  if (actual !== checkpoint.head) {
    return fail(
      'rewritten',
      `the chain was rewritten: event #${checkpoint.count}'s hash differs from ${when} (checkpoint ${checkpoint.head.slice(0, 16)}…, ledger ${actual.slice(0, 16)}…), so events #1–#${checkpoint.count} are not the ones that were checkpointed`,
    );
  }
  return {
    ok: true,
    checkpoint,
    newestSeq,
    message: `event #${checkpoint.count}'s hash matches ${when}, signed by key ${keyFingerprint(checkpoint.publicKey)}; the ledger now holds ${newestSeq} event(s)`,
  };
}

export interface FoundCheckpoint {
  /** Seq of the `ledger.checkpoint` event. */
  seq: number;
  occurredAt: Date;
  checkpoint?: SignedCheckpoint;
  /** Set when the event's details are not a readable checkpoint. */
  error?: string;
}

/** The newest `ledger.checkpoint` event in the ledger, if any. */
export async function latestCheckpointEvent(db: Db): Promise<FoundCheckpoint | undefined> {
  const [row] = await db
    .select({ seq: evidenceEvents.seq, occurredAt: evidenceEvents.occurredAt, details: evidenceEvents.details })
    .from(evidenceEvents)
    .where(eq(evidenceEvents.kind, 'ledger.checkpoint'))
    .orderBy(desc(evidenceEvents.seq))
    .limit(1);
  if (!row) return undefined;
  try {
    return { seq: row.seq, occurredAt: row.occurredAt, checkpoint: checkpointFromDetails(row.details) };
  } catch (error) {
    return { seq: row.seq, occurredAt: row.occurredAt, error: (error as Error).message };
  }
}
