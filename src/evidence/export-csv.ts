import type { PGlite } from '@electric-sql/pglite';
import type { Sql } from 'postgres';
import type { Db } from '../db/client.ts';
import type { EventFilter } from './read.ts';

/**
 * The CSV export is written by the database itself (`COPY … TO STDOUT WITH (FORMAT csv)`, RFC 4180
 * quoting), about four times faster than formatting rows in JavaScript; this process only moves
 * bytes and counts records. Times are written as `2026-03-02T09:00:00.000Z`, and `details` as the
 * database writes jsonb (`{"reason": "…"}`). COPY takes no bind parameters, so the filter's values
 * are written as SQL literals here, the only place that does.
 */
export async function copyCsv(db: Db, filter: EventFilter, columns: readonly string[], emit: (chunk: Buffer, records: number) => Promise<void>): Promise<number> {
  const client = (db as unknown as { $client: Sql | PGlite }).$client;
  const counter = new RecordCounter();
  const select = (window?: { after: number; upTo: number }) =>
    `select ${columns.map(expression).join(', ')} from evidence_events where ${conditions(filter, window).join(' and ')} order by seq`;
  if (isPglite(client)) {
    // PGlite hands a COPY over as one Blob: windows of seq keep each one small.
    const [bounds] = (await client.query<{ max: number | null }>('select max(seq)::int as max from evidence_events')).rows;
    for (let after = 0; after < (bounds?.max ?? 0); after += PGLITE_WINDOW) {
      const result = await client.query(`copy (${select({ after, upTo: after + PGLITE_WINDOW })}) to '/dev/blob' with (format csv)`);
      if (!result.blob || result.blob.size === 0) continue;
      const chunk = Buffer.from(await result.blob.arrayBuffer());
      await emit(chunk, counter.count(chunk));
    }
  } else {
    const stream = await client.unsafe(`copy (${select()}) to stdout with (format csv)`).readable();
    for await (const chunk of stream as AsyncIterable<Buffer>) await emit(chunk, counter.count(chunk));
    releaseCopyConnection(stream);
  }
  return counter.records;
}

const PGLITE_WINDOW = 50_000;

/**
 * postgres.js (3.4.x) pauses the connection's socket when the stream's buffer is full, and only
 * the stream's next read resumes it. When the COPY's last data and its end arrive together, the
 * stream ends while the socket is paused, so the rest of the server's answer is never read and
 * the next query on that connection (the next export, any query of the bot) waits forever
 * (porsager/postgres#499, fix proposed in #1016). The stream's read is what resumes the socket,
 * and calling it once more after the end is harmless when the socket is already flowing.
 */
function releaseCopyConnection(stream: unknown): void {
  (stream as { _read?: (size: number) => void })._read?.(0);
}

function isPglite(client: Sql | PGlite): client is PGlite {
  return typeof (client as PGlite).query === 'function' && typeof (client as Sql).unsafe !== 'function';
}

function expression(column: string): string {
  if (column === 'occurred_at') return `to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
  if (column === 'details') return 'details::text';
  return column;
}

function conditions(filter: EventFilter, window?: { after: number; upTo: number }): string[] {
  const where = ['true'];
  if (window) where.push(`seq > ${window.after}`, `seq <= ${window.upTo}`);
  if (filter.from) where.push(`occurred_at >= ${literal(filter.from.toISOString())}::timestamptz`);
  if (filter.to) where.push(`occurred_at < ${literal(filter.to.toISOString())}::timestamptz`);
  if (filter.resource !== undefined) where.push(`resource = ${literal(filter.resource)}`);
  if (filter.user !== undefined) where.push(`(actor = ${literal(filter.user)} or subject = ${literal(filter.user)})`);
  return where;
}

/** A standard SQL string literal (standard_conforming_strings is on in every supported PostgreSQL and in PGlite). */
function literal(value: string): string {
  if (value.includes('\u0000')) throw new Error('a filter value cannot hold a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Counts CSV records across chunks: a record ends at a newline outside quotes. Inside a quoted
 * field a doubled quote toggles twice, so tracking quote parity is exact.
 */
class RecordCounter {
  records = 0;
  private quoted = false;

  count(chunk: Buffer): number {
    let found = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === QUOTE) this.quoted = !this.quoted;
      else if (byte === NEWLINE && !this.quoted) found++;
    }
    this.records += found;
    return found;
  }
}

const QUOTE = 0x22;
const NEWLINE = 0x0a;
