import type { Tx } from './client.ts';
import { outbox, type OutboxMessage } from './schema.ts';

/** Queues Slack work in the caller's transaction: it is sent if, and only if, the change commits. */
export async function enqueue(tx: Tx, now: Date, ...messages: OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await tx.insert(outbox).values(messages.map((message) => ({ message, createdAt: now, notBefore: now })));
}
