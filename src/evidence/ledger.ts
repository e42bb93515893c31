import { desc, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { evidenceEvents } from '../db/schema.ts';
import { systemClock, type Clock } from '../ports.ts';
import { canonicalContent, chainHash, GENESIS_HASH, normaliseDetails, type EvidenceInput, type StoredEvent } from './event.ts';

/** Any constant works; it only has to be the same in every process that appends. */
const APPEND_LOCK = 0x6267_6c65_6467;

/**
 * Appends evidence inside the caller's transaction, so a state change and its event commit or
 * roll back together. There is deliberately no form of append without a transaction.
 */
export class Ledger {
  constructor(private readonly clock: Clock = systemClock) {}

  async append(tx: Tx, input: EvidenceInput): Promise<StoredEvent> {
    // The transaction-scoped lock serialises appenders across connections and replicas until
    // commit, so two writers can never both extend the same head and fork the chain.
    await tx.execute(sql`select pg_advisory_xact_lock(${APPEND_LOCK})`);
    const [head] = await tx
      .select({ seq: evidenceEvents.seq, hash: evidenceEvents.hash })
      .from(evidenceEvents)
      .orderBy(desc(evidenceEvents.seq))
      .limit(1);
    const event = {
      seq: (head?.seq ?? 0) + 1,
      occurredAt: this.clock.now(),
      kind: input.kind,
      actor: input.actor,
      subject: input.subject ?? null,
      resource: input.resource ?? null,
      requestId: input.requestId === undefined || input.requestId === null ? null : String(input.requestId),
      details: normaliseDetails(input.details),
    };
    const prevHash = head?.hash ?? GENESIS_HASH;
    const stored: StoredEvent = { ...event, prevHash, hash: chainHash(prevHash, canonicalContent(event)) };
    await tx.insert(evidenceEvents).values(stored);
    return stored;
  }

  /**
   * Takes the append lock for the rest of the caller's transaction and returns the chain's head:
   * until commit nothing else can be appended, so an event appended next in this transaction
   * directly follows exactly this head (what a checkpoint signs).
   */
  async lockHead(tx: Tx): Promise<{ count: number; hash: string }> {
    await tx.execute(sql`select pg_advisory_xact_lock(${APPEND_LOCK})`);
    const [head] = await tx.select({ seq: evidenceEvents.seq, hash: evidenceEvents.hash }).from(evidenceEvents).orderBy(desc(evidenceEvents.seq)).limit(1);
    return { count: head?.seq ?? 0, hash: head?.hash ?? GENESIS_HASH };
  }
}
