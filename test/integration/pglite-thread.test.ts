/**
 * The embedded database runs in a worker thread (src/db/pglite-thread.ts). What the bot relies on
 * must hold across that thread as it did in one: a transaction commits whole or not at all, nested
 * savepoints roll back alone, PostgreSQL's error codes arrive, concurrent callers take turns, a
 * data folder keeps its data and stays one process's, and a thread that dies is said, not waited on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, rowsOf, type Database } from '../../src/db/client.ts';
import { runCli } from '../support/cli.ts';
import { openTestDatabase } from '../support/databases.ts';
import { seedPgliteDataDir } from '../support/templates.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function names(database: Database): Promise<string[]> {
  return rowsOf<{ name: string }>(await database.db.execute(sql`select name from thread_probe order by name`)).map((r) => r.name);
}

describe('the embedded database in its worker thread', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openTestDatabase('pglite');
    await database.db.execute(sql`create table thread_probe (name text primary key)`);
  });
  afterAll(async () => {
    await database.close();
  });

  it('commits a transaction whole, and leaves nothing of one that throws', async () => {
    await database.db.execute(sql`delete from thread_probe`);
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into thread_probe values ('kept-1')`);
      await tx.execute(sql`insert into thread_probe values ('kept-2')`);
    });
    const thrown = database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into thread_probe values ('lost-1')`);
      await tx.execute(sql`insert into thread_probe values ('lost-2')`);
      throw new Error('the use case failed after its writes');
    });
    await expect(thrown).rejects.toThrow('the use case failed after its writes');
    expect(await names(database)).toEqual(['kept-1', 'kept-2']);
  });

  it('rolls back a nested savepoint alone and keeps the outer transaction', async () => {
    await database.db.execute(sql`delete from thread_probe`);
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into thread_probe values ('outer')`);
      await expect(
        tx.transaction(async (inner) => {
          await inner.execute(sql`insert into thread_probe values ('inner')`);
          throw new Error('inner failed');
        }),
      ).rejects.toThrow('inner failed');
      await tx.transaction(async (inner) => {
        await inner.execute(sql`insert into thread_probe values ('inner-kept')`);
      });
    });
    expect(await names(database)).toEqual(['inner-kept', 'outer']);
  });

  it("hands over PostgreSQL's unique-violation code and constraint, and the transaction rolls back", async () => {
    await database.db.execute(sql`delete from thread_probe`);
    const failed = await database.db
      .transaction(async (tx) => {
        await tx.execute(sql`insert into thread_probe values ('first')`);
        await tx.execute(sql`insert into thread_probe values ('twice')`);
        await tx.execute(sql`insert into thread_probe values ('twice')`);
      })
      .catch((error: unknown) => error as Error & { cause?: { code?: string; constraint?: string; message?: string } });
    expect(failed).toBeInstanceOf(Error);
    expect(failed?.cause).toMatchObject({ code: '23505', constraint: 'thread_probe_pkey' });
    expect(failed?.cause?.message).toMatch(/duplicate key value violates unique constraint "thread_probe_pkey"/);
    expect(await names(database)).toEqual([]);
  });

  it('lets concurrent transactions take turns: none sees or splits another half done', async () => {
    await database.db.execute(sql`delete from thread_probe`);
    await database.db.execute(sql`create sequence if not exists thread_probe_order`);
    const writer = (tag: string) =>
      database.db.transaction(async (tx) => {
        await tx.execute(sql`insert into thread_probe values (${`${tag}-a:`} || nextval('thread_probe_order'))`);
        await sleep(30);
        await tx.execute(sql`insert into thread_probe values (${`${tag}-b:`} || nextval('thread_probe_order'))`);
      });
    // A plain query asked while a transaction is open waits for it, and then sees all of it.
    const [, seen] = await Promise.all([writer('one'), sleep(5).then(async () => names(database)), sleep(10).then(() => writer('two'))]);
    expect(seen.map((name) => name.split(':')[0])).toEqual(['one-a', 'one-b']);
    // The sequence numbers say in which order the statements ran: each transaction's two together.
    const ran = (await names(database)).sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1])).map((name) => name.split(':')[0]);
    expect(ran).toEqual(['one-a', 'one-b', 'two-a', 'two-b']);
  });

  it('keeps the result types drizzle asks for: timestamps as written, bigints as numbers', async () => {
    const [row] = rowsOf<{ at: string; big: number; flag: boolean; doc: unknown }>(
      await database.db.execute(sql`select timestamptz '2026-03-02 09:00:00+00' as at, 12345678901::bigint as big, true as flag, '{"a":[1]}'::jsonb as doc`),
    );
    expect(row).toEqual({ at: '2026-03-02 09:00:00+00', big: 12345678901, flag: true, doc: { a: [1] } });
  });
});

describe('an embedded database in a folder', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'breakglass-pglite-thread-'));
  });
  afterAll(() => {
    rmSync(folder, { recursive: true, force: true });
  });

  it('keeps its data when reopened, and another process is refused while it is open', async () => {
    const dataDir = join(folder, 'data');
    await seedPgliteDataDir(dataDir);
    const first = await openDatabase({ dataDir, holder: 'the breakglass bot' });
    await first.db.execute(sql`create table kept (v text)`);
    await first.db.transaction(async (tx) => {
      await tx.execute(sql`insert into kept values ('written before the restart')`);
    });
    const other = await runCli(['evidence', 'verify'], { DATA_DIR: dataDir });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(new RegExp(`in use by the breakglass bot \\(pid ${process.pid}`));
    await first.close();
    const again = await openDatabase({ dataDir, holder: 'the breakglass bot' });
    try {
      expect(rowsOf<{ v: string }>(await again.db.execute(sql`select v from kept`))).toEqual([{ v: 'written before the restart' }]);
    } finally {
      await again.close();
    }
  });

  it('fails every query with a clear reason once its thread has died, instead of hanging', async () => {
    const lost: Error[] = [];
    await seedPgliteDataDir(join(folder, 'dying'));
    const database = await openDatabase({ dataDir: join(folder, 'dying'), holder: 'the breakglass bot', onLost: (error) => lost.push(error) });
    // What an out-of-memory abort or a crash in PGlite's WebAssembly does: the thread is gone.
    await (database.db as unknown as { $client: { worker: { terminate(): Promise<number> } } }).$client.worker.terminate();
    const failed = (await database.db.execute(sql`select 1`).catch((error: unknown) => error)) as Error;
    expect(failed.cause).toBe(lost[0]);
    expect(lost[0]!.message).toMatch(/^The embedded database \(PGlite\) stopped: .*breakglass must be restarted/s);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.message).toMatch(/thread exited/);
    await database.close();
  });

  it('is closed: its queries fail and the folder can be opened again', async () => {
    const dataDir = join(folder, 'closed');
    await seedPgliteDataDir(dataDir);
    const database = await openDatabase({ dataDir, holder: 'the breakglass bot' });
    await database.close();
    await expect(database.db.execute(sql`select 1`)).rejects.toThrow();
    const again = await openDatabase({ dataDir, holder: 'the breakglass bot' });
    await again.close();
  });
});
