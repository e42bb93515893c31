/**
 * PostgreSQL ends the backend of a connection while a transaction runs on it (a failover, an
 * administrator, an idle-in-transaction timeout). postgres.js 3.4.9 then wrote the transaction's
 * ROLLBACK to a socket it had already dropped, and the TypeError it threw from a timer took the
 * whole bot down (porsager/postgres#1208; patches/postgres+3.4.9.patch). The bot must instead see
 * the transaction fail, lose nothing that committed, and go on serving from the same pool.
 */
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowsOf, type Database, type Tx } from '../../src/db/client.ts';
import { isDatabaseUnreachable } from '../../src/db/unreachable.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { openTestDatabase, postgresAvailable, TEST_DATABASE_URL } from '../support/databases.ts';
import { uncatalogued } from '../support/uncatalogued.ts';

const ledger = new Ledger();
/** src/db/client.ts's pool size. */
const POOL_SIZE = 10;
/** More than the pool has connections, whichever way of dying would lose one for good. */
const KILLS = 3 * (POOL_SIZE + 1);

describe.skipIf(!postgresAvailable)('a transaction whose PostgreSQL backend is ended [postgres]', () => {
  let database: Database;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  const uncaught: unknown[] = [];
  const recordUncaught = (error: unknown) => uncaught.push(error);

  beforeAll(async () => {
    database = await openTestDatabase('postgres');
    process.on('uncaughtException', recordUncaught);
  });
  afterAll(async () => {
    process.off('uncaughtException', recordUncaught);
    await admin.end();
    await database?.close();
  });

  const backendPid = async (tx: Tx) =>
    Number(rowsOf<{ pid: number }>(await tx.execute(sql`select pg_backend_pid() as pid`))[0]!.pid);
  const endBackend = (pid: number) => admin`select pg_terminate_backend(${pid})`;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  /** Mid-statement: the backend dies while the transaction waits on a query. */
  const duringAQuery = (pid: number, tx: Tx) => {
    setTimeout(() => void endBackend(pid).catch(() => {}), 100);
    return tx.execute(sql`select pg_sleep(10)`);
  };
  /** Between statements: the next query is written to a connection the server has already closed. */
  const betweenQueries = async (pid: number, tx: Tx) => {
    await endBackend(pid);
    await sleep(100);
    return tx.execute(sql`select 1`);
  };

  /** The transaction carries on after a failed query: a parameterized one used to strand the connection. */
  const afterAFailedQuery = async (pid: number, tx: Tx) => {
    await duringAQuery(pid, tx).catch(() => {});
    return tx.execute(sql`select ${1}::int as one`);
  };
  const ways = [duringAQuery, betweenQueries, afterAFailedQuery];

  it('fails that transaction, keeps the process and the ledger, and the same pool serves on', async () => {
    const before = await verifyLedger(database.db);
    for (let kill = 0; kill < KILLS; kill++) {
      const whileWorking = ways[kill % ways.length]!;
      const failed = await database.db
        .transaction(async (tx) => {
          await ledger.append(tx, uncatalogued({ kind: 'request.created', actor: 'U0ALICE', resource: 'prod-db', requestId: `lost-${kill}`, details: { reason: 'never committed' } }));
          await whileWorking(await backendPid(tx), tx);
        })
        .then(() => undefined, (error: unknown) => error);
      expect(failed, `transaction ${kill} committed although its backend was ended`).toBeInstanceOf(Error);
      expect(isDatabaseUnreachable(failed), `not told to try again: ${String(failed)}`).toBe(true);
      await database.db.transaction((tx) => ledger.append(tx, uncatalogued({ kind: 'request.created', actor: 'U0ALICE', resource: 'prod-db', requestId: `kept-${kill}`, details: { reason: 'committed' } })));
    }
    await sleep(200); // a write the driver had queued for the dead socket runs on the next turns
    expect(uncaught).toEqual([]);

    // Every one of the pool's ten connections still works: ten queries at once get ten backends.
    const answers = await Promise.all(Array.from({ length: POOL_SIZE }, () => database.db.execute(sql`select pg_sleep(0.2), pg_backend_pid() as pid`)));
    expect(new Set(answers.map((r) => rowsOf<{ pid: number }>(r)[0]!.pid)).size).toBe(POOL_SIZE);

    const after = await verifyLedger(database.db);
    expect(after).toMatchObject({ ok: true, count: before.count + KILLS });
    const ids = rowsOf<{ request_id: string }>(await database.db.execute(sql`select request_id from evidence_events where kind = 'request.created' order by seq`)).map((r) => r.request_id);
    expect(ids).toEqual(Array.from({ length: KILLS }, (_, kill) => `kept-${kill}`));
  });
});
