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
});
