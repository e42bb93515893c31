import type { Sql } from 'postgres';
import type { Db } from '../db/client.ts';
import type { PgliteThread } from '../db/pglite-thread.ts';
import type { EventFilter } from './read.ts';

/**
 * What reading the ledger through COPY needs on both drivers: the filter as SQL text (COPY takes
 * no bind parameters), and a query's whole COPY output (PGlite hands it over as one Blob; on
 * PostgreSQL it is read to the end, so the connection is never left in the middle of a COPY).
 */
export type Client = Sql | PgliteThread;

export const clientOf = (db: Db): Client => (db as unknown as { $client: Client }).$client;

export function isPglite(client: Client): client is PgliteThread {
  return typeof (client as PgliteThread).query === 'function' && typeof (client as Sql).unsafe !== 'function';
}

/** The filter, and optionally a window of seq (after, upTo], as a WHERE clause. */
export function eventConditions(filter: EventFilter, window?: { after: number; upTo: number }): string {
  const where = ['true'];
  if (window) where.push(`seq > ${window.after}`, `seq <= ${window.upTo}`);
  if (filter.from) where.push(`occurred_at >= ${literal(filter.from.toISOString())}::timestamptz`);
  if (filter.to) where.push(`occurred_at < ${literal(filter.to.toISOString())}::timestamptz`);
  if (filter.resource !== undefined) where.push(`resource = ${literal(filter.resource)}`);
  if (filter.user !== undefined) {
    // Every name of the person (person-filter.ts), compared without case: Slack keeps the capitals people type.
    const names = (typeof filter.user === 'string' ? [filter.user] : filter.user).map((u) => literal(u.toLowerCase()));
    const list = names.length > 0 ? names.join(', ') : 'null';
    where.push(`(lower(actor) in (${list}) or lower(subject) in (${list}))`);
  }
  return where.join(' and ');
}

/** A standard SQL string literal (standard_conforming_strings is on in every supported PostgreSQL and in PGlite). */
function literal(value: string): string {
  if (value.includes('\u0000')) throw new Error('a filter value cannot hold a NUL character');
  return `'${value.replaceAll("'", "''")}'`;
}

export async function newestSeq(client: Client): Promise<number> {
  if (isPglite(client)) return Number((await client.query<{ max: number | null }>('select max(seq)::int as max from evidence_events')).rows[0]?.max ?? 0);
  const [row] = await client.unsafe<{ max: number | null }[]>('select max(seq)::int as max from evidence_events');
  return Number(row?.max ?? 0);
}

/** The whole output of `copy (select) to stdout`, in COPY's text format unless `csv`. */
export async function copyAll(client: Client, select: string, format: 'text' | 'csv' = 'text'): Promise<Buffer> {
  const options = format === 'csv' ? ' with (format csv)' : '';
  if (isPglite(client)) {
    const result = await client.query(`copy (${select}) to '/dev/blob'${options}`);
    return result.blob ? Buffer.from(await result.blob.arrayBuffer()) : Buffer.alloc(0);
  }
  const chunks: Buffer[] = [];
  const stream = await client.unsafe(`copy (${select}) to stdout${options}`).readable();
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  releaseCopyConnection(stream);
  return Buffer.concat(chunks);
}

/**
 * postgres.js (3.4.x) pauses the connection's socket when the stream's buffer is full, and only
 * the stream's next read resumes it. When the COPY's last data and its end arrive together, the
 * stream ends while the socket is paused, so the rest of the server's answer is never read and
 * the next query on that connection (the next export, any query of the bot) waits forever
 * (porsager/postgres#499, fix proposed in #1016). The stream's read is what resumes the socket,
 * and calling it once more after the end is harmless when the socket is already flowing.
 */
export function releaseCopyConnection(stream: unknown): void {
  (stream as { _read?: (size: number) => void })._read?.(0);
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** A field of COPY's text format: `\N` is NULL; backslash escapes the rest (PostgreSQL writes \\, \b, \f, \n, \r, \t, \v). */
export function copyField(field: string): string | null {
  if (field === '\\N') return null;
  return field.includes('\\') ? field.replace(/\\(.)/gs, (_, c: string) => ESCAPES[c] ?? c) : field;
}
