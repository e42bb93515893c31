import { Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { rowsOf } from '../../src/db/client.ts';
import { safeCell } from '../../src/reports/csv-safe.ts';
import { EXPORT_COLUMNS, exportEvents } from '../../src/reports/export/export.ts';
import { describeEachDatabase } from '../support/databases.ts';

function sink(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
  }) as Writable & { text: () => string };
  out.text = () => Buffer.concat(chunks).toString('utf8');
  return out;
}

// Commas, quotes, CR, LF, tabs, backslashes, leading spaces, non-ASCII: everything CSV quoting and
// the database's own escaping could get wrong. (PostgreSQL text cannot hold NUL.)
const text = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r', ' ', '\t', '\\', '.', '=', '+', '-', '@', 'é', '😀'), maxLength: 12 });

/** Reads CSV back with NULL (an unquoted empty field) as null, as the export documents. */
function parseWithNulls(csv: string): Array<Array<string | null>> {
  return parse(csv, { relaxQuotes: false, cast: (value, context) => (value === '' && !context.quoting ? null : value) }) as Array<Array<string | null>>;
}
const nullable = fc.oneof(text, fc.constant(null));

describeEachDatabase('CSV export written by the database', (ctx) => {
  it('reads back, with an RFC 4180 parser, as exactly the stored values (formula-like text neutralised, NULL apart from ""), and counts its records', async () => {
    const db = ctx.database.db;
    let seq = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ kind: text, actor: text, subject: nullable, resource: nullable, requestId: nullable, reason: text }), { minLength: 1, maxLength: 8 }), async (rows) => {
        const first = seq + 1;
        for (const row of rows) {
          seq++;
          // Export does not check the chain, so any hashes do; inserting is all the triggers allow.
          await db.execute(sql`
            insert into evidence_events (seq, occurred_at, kind, actor, subject, resource, request_id, details, prev_hash, hash)
            values (${seq}, ${new Date(Date.UTC(2026, 0, 1) + seq * 1_001).toISOString()}::timestamptz, ${row.kind}, ${row.actor}, ${row.subject}, ${row.resource}, ${row.requestId}, ${JSON.stringify({ reason: row.reason })}::jsonb, ${`p${seq}`}, ${`h${seq}`})`);
        }
        const out = sink();
        const count = await exportEvents(db, { from: new Date(Date.UTC(2026, 0, 1) + first * 1_001) }, 'csv', out);
        expect(count).toBe(rows.length);
        const [header, ...records] = parseWithNulls(out.text());
        expect(header).toEqual([...EXPORT_COLUMNS]);
        const stored = rowsOf<Record<string, unknown>>(
          await db.execute(sql`select seq::text as seq_text, kind, actor, subject, resource, request_id, details::text as details, prev_hash, hash from evidence_events where seq >= ${first} order by evidence_events.seq`),
        );
        expect(records).toEqual(
          stored.map((r, i) => [
            r['seq_text'],
            new Date(Date.UTC(2026, 0, 1) + (first + i) * 1_001).toISOString(),
            safeCell(r['kind'] as string),
            safeCell(r['actor'] as string),
            r['subject'] === null ? null : safeCell(r['subject'] as string),
            r['resource'] === null ? null : safeCell(r['resource'] as string),
            r['request_id'] === null ? null : safeCell(r['request_id'] as string),
            r['details'],
            r['hash'],
            r['prev_hash'],
          ]),
        );
        expect(records.map((r) => JSON.parse(r[7]!) as unknown)).toEqual(rows.map((row) => ({ reason: row.reason })));
      }),
      { numRuns: 40 },
    );
  });

  it('applies the resource and user filters, quoting their values safely', async () => {
    const db = ctx.database.db;
    const [{ n } = { n: 0 }] = rowsOf<{ n: number }>(await db.execute(sql`select coalesce(max(seq), 0)::int as n from evidence_events`));
    const at = new Date('2027-06-01T00:00:00.000Z');
    await db.execute(sql`
      insert into evidence_events (seq, occurred_at, kind, actor, subject, resource, details, prev_hash, hash) values
        (${n + 1}, ${at.toISOString()}::timestamptz, 'request.created', ${"U0O'BRIEN"}, null, ${"prod'; drop table evidence_events; --"}, '{}'::jsonb, 'filter-p1', 'filter-h1'),
        (${n + 2}, ${at.toISOString()}::timestamptz, 'request.created', 'U0BOB', ${"U0O'BRIEN"}, 'prod-db', '{}'::jsonb, 'filter-p2', 'filter-h2'),
        (${n + 3}, ${at.toISOString()}::timestamptz, 'request.created', 'U0BOB', 'U0CAROL', 'prod-db', '{}'::jsonb, 'filter-p3', 'filter-h3')`);
    const byUser = sink();
    expect(await exportEvents(db, { from: at, user: "U0O'BRIEN" }, 'csv', byUser)).toBe(2);
    const byResource = sink();
    expect(await exportEvents(db, { from: at, resource: "prod'; drop table evidence_events; --" }, 'csv', byResource)).toBe(1);
    expect((parse(byResource.text()) as string[][])[1]![5]).toBe("prod'; drop table evidence_events; --");
  });

  it('starts with a UTF-8 byte order mark when asked, and writes an all-digit hash (the genesis hash) so a spreadsheet keeps all 64 digits', async () => {
    const db = ctx.database.db;
    const [{ n } = { n: 0 }] = rowsOf<{ n: number }>(await db.execute(sql`select coalesce(max(seq), 0)::int as n from evidence_events`));
    const at = new Date('2027-09-01T00:00:00.000Z');
    await db.execute(sql`
      insert into evidence_events (seq, occurred_at, kind, actor, subject, resource, request_id, details, prev_hash, hash) values
        (${n + 1}, ${at.toISOString()}::timestamptz, 'request.created', '=HYPERLINK("http://evil")', '', '@SUM(1)', '-2+3', '{}'::jsonb, ${'0'.repeat(64)}, ${'12e34'})`);
    const out = sink();
    await exportEvents(db, { from: at }, 'csv', out, undefined, { bom: true });
    expect(out.text().startsWith(`\uFEFF${EXPORT_COLUMNS.join(',')}\n`)).toBe(true);
    expect(parseWithNulls(out.text().slice(1))[1]).toEqual([
      String(n + 1), at.toISOString(), 'request.created', `'=HYPERLINK("http://evil")`, '', `'@SUM(1)`, `'-2+3`, '{}', `'12e34`, `'${'0'.repeat(64)}`,
    ]);
    const plain = sink();
    await exportEvents(db, { from: at }, 'csv', plain);
    expect(plain.text().startsWith('seq,')).toBe(true);
  });

  it('leaves the database connection usable after each export, export after export', async () => {
    // Big enough for the stream to fill and pause between chunks: the case where postgres.js,
    // left alone, ends the COPY with its connection's socket paused and the next query never returns.
    const db = ctx.database.db;
    const [{ n } = { n: 0 }] = rowsOf<{ n: number }>(await db.execute(sql`select coalesce(max(seq), 0)::int as n from evidence_events`));
    const from = new Date('2028-01-01T00:00:00.000Z');
    await db.execute(sql`
      insert into evidence_events (seq, occurred_at, kind, actor, details, prev_hash, hash)
      select ${n} + i, ${from.toISOString()}::timestamptz + i * interval '1 second', 'request.created', 'U0ALICE', jsonb_build_object('reason', repeat('x', 100), 'n', i), 'reuse-p' || i, 'reuse-h' || i
      from generate_series(1, 3000) as i`);
    for (let round = 0; round < 10; round++) {
      expect(await exportEvents(db, { from }, 'csv', sink())).toBe(3000);
      const [{ one } = { one: 0 }] = rowsOf<{ one: number }>(await db.execute(sql`select 1 as one`));
      expect(one).toBe(1);
    }
  }, 30_000);
});
