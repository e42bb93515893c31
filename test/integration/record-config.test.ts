import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { recordConfigLoaded } from '../../src/app/record-config.ts';
import { evidenceEvents, policyVersions } from '../../src/db/schema.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { describeEachDatabase } from '../support/databases.ts';

/** A version's text and where it came from, as the bot passes them. */
const V = (letter: string) => ({ text: `# version ${letter}\n`, source: { kind: 'file' as const, path: '/etc/breakglass/access.yml', host: 'bot-1' }, now: new Date('2026-03-01T00:00:00Z') });

describeEachDatabase('config.loaded evidence', (ctx) => {
  it('is recorded when the policy changes and only then', async () => {
    const ledger = new Ledger();
    const db = ctx.database.db;
    expect(await recordConfigLoaded(db, ledger, { hash: 'a'.repeat(64), path: 'access.yml', resources: ['prod-db'], ...V('a') })).toBe(true);
    expect(await recordConfigLoaded(db, ledger, { hash: 'a'.repeat(64), path: 'access.yml', resources: ['prod-db'], ...V('a') })).toBe(false);
    expect(await recordConfigLoaded(db, ledger, { hash: 'b'.repeat(64), path: 'access.yml', resources: ['prod-db', 'prod-admin'], ...V('b') })).toBe(true);
    const events = await db.select().from(evidenceEvents).orderBy(evidenceEvents.seq);
    expect(events.map((e) => [e.kind, e.details.config_hash, e.details.previous_hash])).toEqual([
      ['config.loaded', 'a'.repeat(64), null],
      ['config.loaded', 'b'.repeat(64), 'a'.repeat(64)],
    ]);
    expect(events[0]!.details.source).toEqual({ kind: 'file', path: '/etc/breakglass/access.yml', host: 'bot-1' });
    const kept = await db.select().from(policyVersions).orderBy(policyVersions.hash);
    expect(kept.map((v) => [v.hash, v.text])).toEqual([
      ['a'.repeat(64), '# version a\n'],
      ['b'.repeat(64), '# version b\n'],
    ]);
  });

  it('is recorded once when several replicas start with the same policy at the same moment', async () => {
    const db = ctx.database.db;
    const before = (await db.select().from(evidenceEvents)).length;
    // Open the pool's connections first, so the five starts really run at the same moment.
    await Promise.all(Array.from({ length: 10 }, () => db.execute(sql`select pg_sleep(0.05)`)));
    const started = await Promise.all(Array.from({ length: 5 }, () => recordConfigLoaded(db, new Ledger(), { hash: 'c'.repeat(64), path: 'access.yml', resources: ['prod-db'], ...V('c') })));
    expect(started.filter(Boolean)).toHaveLength(1);
    expect((await db.select().from(evidenceEvents)).length).toBe(before + 1);
  });
});
