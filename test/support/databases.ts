import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe } from 'vitest';
import { openDatabase, openPgliteDump, type Database } from '../../src/db/client.ts';
import { pgliteTemplateDump, postgresTemplate } from './templates.ts';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function postgresReachable(): Promise<boolean> {
  const client = postgres(TEST_DATABASE_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await client`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await client.end({ timeout: 1 });
  }
}

export const postgresAvailable = await postgresReachable();
if (!postgresAvailable) {
  if (process.env.CI === 'true') throw new Error(`CI=true but PostgreSQL is not reachable at ${TEST_DATABASE_URL}`);
  console.warn(`\n*** PostgreSQL is not reachable at ${TEST_DATABASE_URL}: the Postgres variants of the integration tests are SKIPPED.\n*** Start PostgreSQL or set TEST_DATABASE_URL to run them.\n`);
}

/**
 * A fresh PostgreSQL database for one test file; dropped afterwards. Empty, or with `migrated` a
 * copy of one breakglass already migrated (what its next open finds: nothing left to apply).
 */
export async function createPostgresDatabase(options: { migrated?: boolean } = {}): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `breakglass_test_${randomBytes(6).toString('hex')}`;
  const template = options.migrated ? ` template ${await postgresTemplate(TEST_DATABASE_URL)}` : '';
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}${template}`);
  // A commit does not wait for the shared test server's disk (here 2.7 ms a commit against 0.4 ms,
  // and the bots under test commit on every worker tick). Visibility, locking and isolation are
  // unchanged, and no test crashes the server itself, only its connections.
  await admin.unsafe(`alter database ${name} set synchronous_commit = off`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const again = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      await again.unsafe(`drop database if exists ${name} with (force)`);
      await again.end();
    },
  };
}

export type DatabaseKind = 'pglite' | 'postgres';

/** Opens a migrated database of the given kind; `close` also drops a Postgres one. */
export async function openTestDatabase(kind: DatabaseKind): Promise<Database> {
  if (kind === 'pglite') return openPgliteCopy();
  const created = await createPostgresDatabase({ migrated: true });
  const database = await openDatabase({ databaseUrl: created.url, dataDir: '', holder: 'test' });
  return { ...database, close: async () => { await database.close(); await created.drop(); } };
}

/**
 * An in-memory PGlite, as `openDatabase({ dataDir: 'memory://' })` gives, loaded from the migrated
 * template instead of running initdb and the migrations again; the migrator still runs (and finds
 * nothing to do), so a database behind the migrations could not pass unnoticed.
 */
async function openPgliteCopy(): Promise<Database> {
  return openPgliteDump(await pgliteTemplateDump());
}

/**
 * Runs a suite once on PGlite and once on PostgreSQL. Without a reachable PostgreSQL the second
 * is skipped with a notice (a newcomer's `npm test` still passes); with CI=true it is an error.
 */
export function describeEachDatabase(title: string, suite: (context: { readonly database: Database; readonly kind: DatabaseKind }) => void): void {
  for (const kind of ['pglite', 'postgres'] as const) {
    describe.skipIf(kind === 'postgres' && !postgresAvailable)(`${title} [${kind}]`, () => {
      let database: Database | undefined;
      beforeAll(async () => {
        database = await openTestDatabase(kind);
      });
      afterAll(async () => {
        await database?.close();
      });
      suite({
        kind,
        get database() {
          if (!database) throw new Error('database not open yet');
          return database;
        },
      });
    });
  }
}
