import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { recordConfigLoaded } from '../../src/app/record-config.ts';
import { evidenceEvents } from '../../src/db/schema.ts';
import { Ledger } from '../../src/evidence/ledger.ts';
import { describeEachDatabase } from '../support/databases.ts';

describeEachDatabase('config.loaded evidence', (ctx) => {
  it('is recorded when the policy changes and only then', async () => {
    const ledger = new Ledger();
    const db = ctx.database.db;
    expect(await recordConfigLoaded(db, ledger, { hash: 'a'.repeat(64), path: 'access.yml', resources: ['prod-db'] })).toBe(true);
    expect(await recordConfigLoaded(db, ledger, { hash: 'a'.repeat(64), path: 'access.yml', resources: ['prod-db'] })).toBe(false);
    expect(await recordConfigLoaded(db, ledger, { hash: 'b'.repeat(64), path: 'access.yml', resources: ['prod-db', 'prod-admin'] })).toBe(true);
    const events = await db.select().from(evidenceEvents).orderBy(evidenceEvents.seq);
    expect(events.map((e) => [e.kind, e.details.config_hash, e.details.previous_hash])).toEqual([
      ['config.loaded', 'a'.repeat(64), null],
      ['config.loaded', 'b'.repeat(64), 'a'.repeat(64)],
    ]);
  });

  it('is recorded once when several replicas start with the same policy at the same moment', async () => {
    const db = ctx.database.db;
    const before = (await db.select().from(evidenceEvents)).length;
    // Open the pool's connections first, so the five starts really run at the same moment.
    await Promise.all(Array.from({ length: 10 }, () => db.execute(sql`select pg_sleep(0.05)`)));
    const started = await Promise.all(Array.from({ length: 5 }, () => recordConfigLoaded(db, new Ledger(), { hash: 'c'.repeat(64), path: 'access.yml', resources: ['prod-db'] })));
    expect(started.filter(Boolean)).toHaveLength(1);
    expect((await db.select().from(evidenceEvents)).length).toBe(before + 1);
  });
});
