import { desc, sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../db/client.ts';
import { evidenceEvents, ledgerHead } from '../db/schema.ts';
import { systemClock, type Clock } from '../ports.ts';
import { personOfEvent } from './event-person.ts';
import { canonicalContentAroundSeq, GENESIS_HASH, normaliseDetails, type EvidenceInput, type StoredEvent } from './event.ts';

/**
 * Appends evidence inside the caller's transaction, so a state change and its event commit or
 * roll back together. There is deliberately no form of append without a transaction.
 */
export class Ledger {
  constructor(private readonly clock: Clock = systemClock) {}

  async append(tx: Tx, input: EvidenceInput): Promise<StoredEvent> {
    const subject = input.subject ?? null;
    const details = normaliseDetails(input.details);
    // Every event names its person by breakglass id and a readable label, as known when it happened
    // (an event that names them itself, like person.seen, is left as written).
    const person = 'person_id' in details ? undefined : await personOfEvent(tx, subject, input.actor);
    const event = {
      occurredAt: this.clock.now(),
      kind: input.kind,
      actor: input.actor,
      subject,
      resource: input.resource ?? null,
      requestId: input.requestId === undefined || input.requestId === null ? null : String(input.requestId),
      details: person ? { ...details, ...person } : details,
    };
    const around = canonicalContentAroundSeq(event);
    if (!around) throw new TypeError(`evidence of kind ${String(input.kind)} has fields of the wrong type`);
    // One statement, so the chain's head is held for as little as possible: the UPDATE waits for
    // the head row's lock, which the previous appender holds until it commits, and then (read
    // committed re-reads a row it waited for) extends exactly the head that appender left. Two
    // writers can never both extend the same head, and the lock is held for this one round trip
    // and the caller's commit. The hash is SHA-256 over the same UTF-8 text canonicalContent
    // writes, with the seq the database assigns put in its place; verify recomputes it in Node.
    const result = await tx.execute(sql`
      with head as (
        update ${ledgerHead}
        set seq = seq + 1,
            prev_hash = hash,
            hash = encode(sha256(convert_to(hash || ${around.beforeSeq} || (seq + 1)::text || ${around.afterSeq}, 'UTF8')), 'hex')
        returning seq, prev_hash, hash
      )
      insert into ${evidenceEvents} (seq, occurred_at, kind, actor, subject, resource, request_id, details, prev_hash, hash)
      select seq, ${event.occurredAt.toISOString()}::timestamptz, ${event.kind}, ${event.actor}, ${event.subject}, ${event.resource}, ${event.requestId}, ${JSON.stringify(event.details)}::jsonb, prev_hash, hash
      from head
      returning seq, prev_hash, hash`);
    const [row] = rowsOf<{ seq: number | string; prev_hash: string; hash: string }>(result);
    if (!row) throw new Error('the ledger has no head row (ledger_head is empty): nothing can be appended until it is restored from the newest event');
    return { ...event, seq: Number(row.seq), prevHash: row.prev_hash, hash: row.hash };
  }

  /**
   * Takes the chain's head for the rest of the caller's transaction and returns the newest event:
   * until commit nothing else can be appended, so an event appended next in this transaction
   * directly follows exactly this one (what a checkpoint signs). It is read from the ledger itself,
   * not from the head row, after the lock is held, so a checkpoint signs what is really there.
   */
  async lockHead(tx: Tx): Promise<{ count: number; hash: string }> {
    await tx.execute(sql`select 1 from ${ledgerHead} for update`);
    const [head] = await tx.select({ seq: evidenceEvents.seq, hash: evidenceEvents.hash }).from(evidenceEvents).orderBy(desc(evidenceEvents.seq)).limit(1);
    return { count: head?.seq ?? 0, hash: head?.hash ?? GENESIS_HASH };
  }
}
