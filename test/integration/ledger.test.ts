import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterEach, expect, it } from 'vitest';
import { rowsOf } from '../../src/db/client.ts';
import { evidenceEvents } from '../../src/db/schema.ts';
import { canonicalContent, chainHash, GENESIS_HASH, type StoredEvent } from '../../src/ledger/event.ts';
import { readEvents } from '../../src/ledger/read.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { tamper, wipeLedger } from '../support/tamper.ts';
import { uncatalogued } from '../support/uncatalogued.ts';

const ledger = new Ledger();

/** drizzle wraps the database's own error as the cause of "Failed query". */
async function expectRefused(query: Promise<unknown>, message: RegExp) {
  const error = await query.then(() => undefined, (e: unknown) => e);
  expect(error, 'the database accepted the statement').toBeInstanceOf(Error);
  expect(String((error as Error).cause ?? error)).toMatch(message);
}

describeEachDatabase('evidence ledger', (ctx) => {
  afterEach(async () => wipeLedger(ctx.database.db));

  async function appendMany(count: number) {
    for (let i = 1; i <= count; i++) {
      await ctx.database.db.transaction((tx) =>
        ledger.append(tx, uncatalogued({ kind: 'request.created', actor: 'U0ALICE', resource: 'prod-db', requestId: i, details: { reason: `reason ${i}`, n: i } })),
      );
    }
  }

  it('chains appended events and verifies them', async () => {
    await appendMany(5);
    const rows = await ctx.database.db.select().from(evidenceEvents).orderBy(evidenceEvents.seq);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(rows[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash);
    expect(await verifyLedger(ctx.database.db)).toEqual({ ok: true, count: 5, headHash: rows[4]!.hash });
  });

  it('rolls the event back with the transaction that failed', async () => {
    await appendMany(1);
    await expect(
      ctx.database.db.transaction(async (tx) => {
        await ledger.append(tx, uncatalogued({ kind: 'grant.applied', actor: 'breakglass' }));
        throw new Error('state change failed');
      }),
    ).rejects.toThrow('state change failed');
    expect((await verifyLedger(ctx.database.db)).count).toBe(1);
  });

  it('detects a changed event', async () => {
    await appendMany(4);
    await tamper(ctx.database.db, sql`update evidence_events set details = '{"reason":"nothing to see","n":3}' where seq = 3`);
    const result = await verifyLedger(ctx.database.db);
    expect(result).toMatchObject({ ok: false, count: 2, problem: { seq: 3, reason: expect.stringMatching(/changed after it was written/) } });
  });

  it('detects details rewritten as a JSON string holding the same object', async () => {
    await appendMany(3);
    // jsonb '"{\"n\": 2, …}"' is a string, not the object that was hashed; a reader that parses it again would miss this.
    await tamper(ctx.database.db, sql`update evidence_events set details = to_jsonb(details::text) where seq = 2`);
    const result = await verifyLedger(ctx.database.db);
    expect(result).toMatchObject({ ok: false, count: 1, problem: { seq: 2, reason: expect.stringMatching(/changed after it was written/) } });
  });

  it('detects a deleted event in the middle', async () => {
    await appendMany(5);
    await tamper(ctx.database.db, sql`delete from evidence_events where seq = 3`);
    const result = await verifyLedger(ctx.database.db);
    expect(result).toMatchObject({ ok: false, problem: { seq: 4, reason: 'events 3 are missing before it' } });
  });

  it('detects a deleted event even when the seq numbers are closed up', async () => {
    await appendMany(5);
    await tamper(ctx.database.db, sql`delete from evidence_events where seq = 3`);
    await tamper(ctx.database.db, sql`update evidence_events set seq = seq - 1 where seq > 3`);
    const result = await verifyLedger(ctx.database.db);
    expect(result.ok).toBe(false);
    expect(result.problem?.seq).toBe(3);
  });

  it('detects two swapped events', async () => {
    await appendMany(4);
    await tamper(ctx.database.db, sql`update evidence_events set seq = -2 where seq = 2`);
    await tamper(ctx.database.db, sql`update evidence_events set seq = 2 where seq = 3`);
    await tamper(ctx.database.db, sql`update evidence_events set seq = 3 where seq = -2`);
    const result = await verifyLedger(ctx.database.db);
    expect(result).toMatchObject({ ok: false, problem: { seq: 2, reason: expect.stringMatching(/prev_hash does not match/) } });
  });

  it('refuses UPDATE, DELETE and TRUNCATE in the database itself', async () => {
    await appendMany(2);
    const db = ctx.database.db;
    await expectRefused(db.execute(sql`update evidence_events set actor = 'U0MALLORY' where seq = 1`), /append-only: UPDATE is not allowed/);
    await expectRefused(db.execute(sql`delete from evidence_events where seq = 2`), /append-only: DELETE is not allowed/);
    await expectRefused(db.execute(sql`truncate evidence_events`), /append-only: TRUNCATE is not allowed/);
    expect(await verifyLedger(db)).toMatchObject({ ok: true, count: 2 });
  });

  it('keeps one linear chain with 20 concurrent writers', async () => {
    const writers = Array.from({ length: 20 }, (_, w) =>
      (async () => {
        for (let i = 0; i < 10; i++) {
          await ctx.database.db.transaction(async (tx) => {
            await ledger.append(tx, uncatalogued({ kind: 'request.created', actor: `U0W${w}`, details: { i } }));
            // Work after the append and before commit, as a use case's state change does: the
            // next writer must still wait for this commit, not only for the append statement.
            if (w % 2) await tx.execute(sql`select pg_sleep(0.002)`);
          });
        }
      })(),
    );
    await Promise.all(writers);
    expect(await verifyLedger(ctx.database.db)).toMatchObject({ ok: true, count: 200 });
    const [{ distinct }] = (await ctx.database.db.select({ distinct: sql<number>`count(distinct prev_hash)::int` }).from(evidenceEvents)) as [{ distinct: number }];
    expect(distinct).toBe(200);
  });

  it('hashes in the database exactly what verify hashes: quotes, control characters, non-ASCII and emoji', async () => {
    const awkward = { reason: 'a "quoted", back\\slash\nnew line\ttab \u0001 é ✓ 😀 \u2028', nested: { z: [1.5, -0, 1e21, null, true], a: 'Ω' } };
    const stored = await ctx.database.db.transaction((tx) => ledger.append(tx, uncatalogued({ kind: 'request.created', actor: 'U0ÉLODIE', subject: '😀', resource: 'prod "db"', requestId: 'r\n1', details: awkward })));
    expect(stored.hash).toBe(chainHash(GENESIS_HASH, canonicalContent(stored)));
    expect(await verifyLedger(ctx.database.db)).toEqual({ ok: true, count: 1, headHash: stored.hash });
  });

  it('stores and hashes an event appended through the typed catalogue exactly as the ledger always has', async () => {
    const at = new Ledger({ now: () => new Date('2026-03-02T09:00:00.000Z') });
    const stored = await ctx.database.db.transaction((tx) =>
      at.append(tx, {
        kind: 'grant.failed',
        actor: 'breakglass',
        subject: 'U0ALICE',
        resource: 'prod-db',
        requestId: 7,
        // Written in this (unsorted) order, with an optional member left undefined: neither may show.
        details: { grant_id: 3, error: 'Okta said "no" — é', extension: false, provider_cleanup: undefined },
      }),
    );
    // RFC 8785 by hand: keys sorted, the undefined member absent, nothing added by the schema.
    const canonical =
      '{"actor":"breakglass","details":{"error":"Okta said \\"no\\" — é","extension":false,"grant_id":3},"kind":"grant.failed","occurred_at":"2026-03-02T09:00:00.000Z","request_id":"7","resource":"prod-db","seq":1,"subject":"U0ALICE"}';
    expect(canonicalContent(stored)).toBe(canonical);
    expect(stored.hash).toBe(createHash('sha256').update(GENESIS_HASH + canonical, 'utf8').digest('hex'));
    expect(stored.hash).toBe('e447707ff9b05ea0d36b0ee126efb6e76fde2028b3497815d69f6d9d6c5345f7');
    const [row] = rowsOf<{ details: string }>(await ctx.database.db.execute(sql`select details::text as details from evidence_events where seq = 1`));
    expect(row!.details).toBe('{"error": "Okta said \\"no\\" — é", "grant_id": 3, "extension": false}');
    expect(await verifyLedger(ctx.database.db)).toEqual({ ok: true, count: 1, headHash: stored.hash });
  });

  it('refuses to append, loudly, when the head row has been deleted', async () => {
    await appendMany(2);
    await ctx.database.db.execute(sql`delete from ledger_head`);
    try {
      await expect(ctx.database.db.transaction((tx) => ledger.append(tx, uncatalogued({ kind: 'grant.applied', actor: 'breakglass' })))).rejects.toThrow(/no head row/);
      expect((await verifyLedger(ctx.database.db)).count).toBe(2);
    } finally {
      await ctx.database.db.execute(sql`insert into ledger_head (single, seq, hash, prev_hash) values (true, 0, repeat('0', 64), '')`);
    }
  });

  it('reads back exactly what was appended, whatever the text holds', async () => {
    // Tabs, newlines, backslashes and a literal \N are what COPY's text format escapes or means NULL by.
    const text = fc.string({ unit: fc.constantFrom('a', '\t', '\n', '\r', '\\', 'N', '"', ',', ' ', '\u0001', '\u000b', 'é', '😀'), maxLength: 10 });
    const nullable = fc.oneof(text, fc.constant(null));
    await fc.assert(
      fc.asyncProperty(fc.record({ actor: text, subject: nullable, resource: nullable, requestId: nullable, reason: text, key: text }), async (input) => {
        const stored = await ctx.database.db.transaction((tx) =>
          ledger.append(tx, uncatalogued({ kind: 'request.created', actor: input.actor, subject: input.subject, resource: input.resource, requestId: input.requestId, details: { reason: input.reason, [input.key]: [input.reason, 1] } })),
        );
        const read: StoredEvent[] = [];
        for await (const event of readEvents(ctx.database.db, { from: stored.occurredAt })) if (event.seq === stored.seq) read.push(event);
        expect(read).toEqual([stored]);
      }),
      { numRuns: 60 },
    );
    expect(await verifyLedger(ctx.database.db)).toMatchObject({ ok: true, count: 60 });
  });
});
