import { sql } from 'drizzle-orm';
import { beforeAll, expect, it } from 'vitest';
import { canonicalContent, chainHash, GENESIS_HASH } from '../../src/ledger/event.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { tamper } from '../support/tamper.ts';

/** More than two of verify's windows (20,000 rows each), so windows are checked on worker threads. */
const EVENTS = 45_000;

describeEachDatabase('verify over several windows', (ctx) => {
  let headHash = GENESIS_HASH;

  beforeAll(async () => {
    // A genuine chain written straight into the table: appending 45,000 events one by one would take minutes.
    const rows: unknown[] = [];
    for (let seq = 1; seq <= EVENTS; seq++) {
      const event = { seq, occurredAt: new Date(Date.UTC(2026, 0, 1) + seq * 1_000), kind: 'request.created', actor: `U0P${seq % 97}`, subject: null, resource: 'prod-db', requestId: String(seq), details: { reason: `INC-${seq} "lag"\té`, n: seq } };
      const hash = chainHash(headHash, canonicalContent(event));
      rows.push({ seq, occurred_at: event.occurredAt.toISOString(), kind: event.kind, actor: event.actor, resource: event.resource, request_id: event.requestId, details: event.details, prev_hash: headHash, hash });
      headHash = hash;
    }
    for (let start = 0; start < rows.length; start += 5_000) {
      await ctx.database.db.execute(sql`
        insert into evidence_events (seq, occurred_at, kind, actor, resource, request_id, details, prev_hash, hash)
        select seq, occurred_at, kind, actor, resource, request_id, details, prev_hash, hash
        from jsonb_to_recordset(${JSON.stringify(rows.slice(start, start + 5_000))}::jsonb)
          as r(seq bigint, occurred_at timestamptz, kind text, actor text, resource text, request_id text, details jsonb, prev_hash text, hash text)`);
    }
  }, 120_000);

  /** The windowed check (on workers) and the one-by-one check (in this thread, as with onEvent) must agree exactly. */
  async function verifyBothWays() {
    const seen: number[] = [];
    const oneByOne = await verifyLedger(ctx.database.db, undefined, (event) => seen.push(event.seq));
    const progress: number[] = [];
    const windowed = await verifyLedger(ctx.database.db, (n) => progress.push(n));
    expect(windowed).toEqual(oneByOne);
    expect(seen.length).toBe(oneByOne.count);
    return { result: windowed, progress };
  }

  it('verifies the whole chain', async () => {
    const { result } = await verifyBothWays();
    expect(result).toEqual({ ok: true, count: EVENTS, headHash });
  });

  // The tests below tamper one after another, each adding a problem earlier in the chain than the last.
  it('names a changed event in a later window', async () => {
    await tamper(ctx.database.db, sql`update evidence_events set details = '{"reason":"nothing to see","n":33333}' where seq = 33333`);
    const { result } = await verifyBothWays();
    expect(result).toMatchObject({ ok: false, count: 33_332, problem: { seq: 33_333, reason: expect.stringMatching(/content does not match/) } });
  });

  it('names the first of two problems in seq order, whichever window is checked first', async () => {
    await tamper(ctx.database.db, sql`delete from evidence_events where seq = 25000`);
    const { result } = await verifyBothWays();
    expect(result).toMatchObject({ ok: false, count: 24_999, problem: { seq: 25_001, reason: 'events 25000 are missing before it' } });
  });

  it('checks the link across a window boundary', async () => {
    await tamper(ctx.database.db, sql`update evidence_events set prev_hash = ${'f'.repeat(64)} where seq = 20001`);
    const { result } = await verifyBothWays();
    expect(result).toMatchObject({ ok: false, count: 20_000, problem: { seq: 20_001, reason: expect.stringMatching(/prev_hash does not match the hash of event 20000/) } });
  });
});
