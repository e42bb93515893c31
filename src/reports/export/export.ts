import type { Writable } from 'node:stream';
import type { Db } from '../../db/client.ts';
import { eventContent, type StoredEvent } from '../../ledger/event.ts';
import { BOM } from '../csv-safe.ts';
import { copyCsv } from './export-csv.ts';
import { exportOcsf } from './export-ocsf.ts';
import { readEventPages, type EventFilter } from '../../ledger/read.ts';

export const EXPORT_COLUMNS = ['seq', 'occurred_at', 'kind', 'actor', 'subject', 'resource', 'request_id', 'details', 'hash', 'prev_hash'] as const;

export type ExportFormat = 'csv' | 'jsonl' | 'ocsf';

function toRecord(event: StoredEvent) {
  return {
    ...eventContent(event),
    hash: event.hash,
    prev_hash: event.prevHash,
  };
}

/**
 * Writes matching events to `out` in order, honouring backpressure; `onProgress` gets the count so
 * far. Returns the count. CSV starts with a UTF-8 byte order mark when `bom` is set.
 */
export async function exportEvents(
  db: Db,
  filter: EventFilter,
  format: ExportFormat,
  out: Writable,
  onProgress?: (count: number) => void,
  options: { bom?: boolean } = {},
): Promise<number> {
  let count = 0;
  if (format === 'csv') {
    await write(out, `${options.bom ? BOM : ''}${EXPORT_COLUMNS.join(',')}\n`);
    return copyCsv(db, filter, EXPORT_COLUMNS, async (chunk, records) => {
      count += records;
      await write(out, chunk);
      onProgress?.(count);
    });
  }
  if (format === 'ocsf') return exportOcsf(db, filter, (text) => write(out, text), onProgress);
  // A page of events becomes one write; pages of 2,000 keep each write's text short-lived, which
  // measured cheaper (in garbage collection) than larger ones.
  for await (const page of readEventPages(db, filter, 2_000)) {
    const text = page.map((event) => `${JSON.stringify(toRecord(event))}\n`).join('');
    count += page.length;
    await write(out, text);
    onProgress?.(count);
  }
  return count;
}

function write(out: Writable, text: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.write(text)) return resolve();
    // Whichever comes first removes the other listener: a long export into a slow pipe waits for
    // drain thousands of times, and must not pile up an 'error' listener each time.
    const drained = () => {
      out.off('error', failed);
      resolve();
    };
    const failed = (error: Error) => {
      out.off('drain', drained);
      reject(error);
    };
    out.once('drain', drained);
    out.once('error', failed);
  });
}
