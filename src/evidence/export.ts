import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { Db } from '../db/client.ts';
import type { StoredEvent } from './event.ts';
import { readEvents, type EventFilter } from './read.ts';

export const EXPORT_COLUMNS = ['seq', 'occurred_at', 'kind', 'actor', 'subject', 'resource', 'request_id', 'details', 'hash', 'prev_hash'] as const;

export type ExportFormat = 'csv' | 'jsonl';

function toRecord(event: StoredEvent) {
  return {
    seq: event.seq,
    occurred_at: event.occurredAt.toISOString(),
    kind: event.kind,
    actor: event.actor,
    subject: event.subject,
    resource: event.resource,
    request_id: event.requestId,
    details: event.details,
    hash: event.hash,
    prev_hash: event.prevHash,
  };
}

/** Writes matching events to `out` a page at a time, honouring backpressure. Returns the count. */
export async function exportEvents(db: Db, filter: EventFilter, format: ExportFormat, out: Writable): Promise<number> {
  let count = 0;
  let chunk: string[] = [];
  if (format === 'csv') await write(out, stringify([EXPORT_COLUMNS as unknown as string[]]));
  for await (const event of readEvents(db, filter)) {
    const record = toRecord(event);
    chunk.push(
      format === 'jsonl'
        ? `${JSON.stringify(record)}\n`
        : stringify([EXPORT_COLUMNS.map((column) => (column === 'details' ? JSON.stringify(record.details) : record[column]))]),
    );
    count++;
    if (chunk.length >= 1_000) {
      await write(out, chunk.join(''));
      chunk = [];
    }
  }
  if (chunk.length > 0) await write(out, chunk.join(''));
  return count;
}

function write(out: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.write(text)) resolve();
    else {
      out.once('drain', resolve);
      out.once('error', reject);
    }
  });
}
