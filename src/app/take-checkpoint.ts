import { asc, desc, eq, max, ne } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { enqueue } from '../db/outbox.ts';
import { evidenceEvents } from '../db/schema.ts';
import type { Notification } from '../domain/notifications.ts';
import { checkpointDetails, formatCheckpoint, signCheckpoint, type CheckpointSigner, type SignedCheckpoint } from '../ledger/checkpoint.ts';
import type { AppDeps } from './deps.ts';

export const DAY_MS = 86_400_000;
/** When a checkpoint was due but nothing has been appended since the last one, look again this often. */
const RECHECK_MS = 60_000;

type Deps = Pick<AppDeps, 'db' | 'ledger' | 'clock' | 'access' | 'wake'>;

export interface CheckpointOutcome {
  /** The checkpoint taken now, with the seq of its `ledger.checkpoint` event. */
  taken?: { seq: number; checkpoint: SignedCheckpoint; text: string };
  /** Nothing can be due before this (unless another replica takes one first, which only delays it). */
  nextCheckAt: Date;
}

interface LedgerState {
  count: number;
  /** The newest event other than a heartbeat: heartbeats alone do not make a checkpoint due before the daily one. */
  newestActivitySeq: number;
  last?: { seq: number; at: Date } | undefined;
  first?: Date | undefined;
}

/**
 * Signs and records a checkpoint of the ledger when one is due: `checkpoint_every` (default 1 h)
 * after the last one if the ledger has grown since, and in any case once a day. The checkpoint
 * covers the events before its own `ledger.checkpoint` event, and a copy is queued for the
 * security channel in the same transaction. Replicas cannot both take one: the decision is
 * re-made under the ledger's append lock, which also pins the head that is signed.
 */
export async function takeCheckpointIfDue(deps: Deps, signer: CheckpointSigner, options: { force?: boolean } = {}): Promise<CheckpointOutcome> {
  const now = deps.clock.now();
  const every = Math.min(deps.access.config.checkpoint_every, DAY_MS);
  // A cheap look first, so the append lock is taken only when a checkpoint is likely due.
  const glance = decide(await readState(deps.db), now, every, options.force);
  if (!glance.due) return { nextCheckAt: glance.nextCheckAt };

  const outcome = await deps.db.transaction(async (tx): Promise<CheckpointOutcome> => {
    const head = await deps.ledger.lockHead(tx);
    const state = await readState(tx);
    const decision = decide({ ...state, count: head.count }, now, every, options.force);
    if (!decision.due) return { nextCheckAt: decision.nextCheckAt };
    const checkpoint = signCheckpoint(signer, { count: head.count, head: head.hash, at: now.toISOString() });
    const event = await deps.ledger.append(tx, { kind: 'ledger.checkpoint', actor: 'breakglass', details: checkpointDetails(checkpoint) });
    const text = formatCheckpoint(checkpoint);
    await enqueue(tx, now, { type: 'notify_security', notification: checkpointNotice(checkpoint, text, signer.fingerprint) });
    return { taken: { seq: event.seq, checkpoint, text }, nextCheckAt: new Date(now.getTime() + every) };
  });
  if (outcome.taken) deps.wake.outbox();
  return outcome;
}

async function readState(db: Db | Tx): Promise<LedgerState> {
  const [last] = await db
    .select({ seq: evidenceEvents.seq, at: evidenceEvents.occurredAt })
    .from(evidenceEvents)
    .where(eq(evidenceEvents.kind, 'ledger.checkpoint'))
    .orderBy(desc(evidenceEvents.seq))
    .limit(1);
  const [newest] = await db.select({ seq: max(evidenceEvents.seq) }).from(evidenceEvents);
  const count = Number(newest?.seq ?? 0);
  const [activity] = await db.select({ seq: max(evidenceEvents.seq) }).from(evidenceEvents).where(ne(evidenceEvents.kind, 'bot.heartbeat'));
  const newestActivitySeq = Number(activity?.seq ?? 0);
  if (last) return { count, newestActivitySeq, last };
  const [first] = await db.select({ at: evidenceEvents.occurredAt }).from(evidenceEvents).orderBy(asc(evidenceEvents.seq)).limit(1);
  return { count, newestActivitySeq, first: first?.at };
}

function decide(state: LedgerState, now: Date, every: number, force = false): { due: true } | { due: false; nextCheckAt: Date } {
  if (state.count === 0) return { due: false, nextCheckAt: new Date(now.getTime() + every) };
  if (force) return { due: true };
  // Before the first checkpoint, the ledger's first event starts the clock.
  const base = (state.last?.at ?? state.first ?? now).getTime();
  const grown = !state.last || state.newestActivitySeq > state.last.seq;
  if (now.getTime() >= base + DAY_MS) return { due: true };
  if (now.getTime() >= base + every) {
    return grown ? { due: true } : { due: false, nextCheckAt: new Date(Math.min(base + DAY_MS, now.getTime() + RECHECK_MS)) };
  }
  return { due: false, nextCheckAt: new Date(base + every) };
}

/** What the security channel is told: the checkpoint line to keep, and what to do with it. */
export function checkpointNotice(checkpoint: SignedCheckpoint, line: string, fingerprint: string): Notification {
  return { kind: 'ledger_checkpoint', count: checkpoint.count, head: checkpoint.head, at: checkpoint.at, fingerprint, line };
}
