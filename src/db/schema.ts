import { sql } from 'drizzle-orm';
import { bigint, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * The evidence ledger. Rows are only ever inserted (database triggers refuse UPDATE, DELETE and
 * TRUNCATE; see the custom migration). `seq` is assigned by the appender under a lock, gapless,
 * and is part of the hashed content so reordering is detectable.
 */
export const evidenceEvents = pgTable(
  'evidence_events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, precision: 3 }).notNull(),
    kind: text('kind').notNull(),
    actor: text('actor').notNull(),
    subject: text('subject'),
    resource: text('resource'),
    requestId: text('request_id'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    prevHash: text('prev_hash').notNull().unique(),
    hash: text('hash').notNull().unique(),
  },
  (t) => [
    index('evidence_events_occurred_at_idx').on(t.occurredAt),
    index('evidence_events_kind_idx').on(t.kind),
    index('evidence_events_resource_idx').on(t.resource),
    index('evidence_events_request_id_idx').on(t.requestId),
  ],
);
