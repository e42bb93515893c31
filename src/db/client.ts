import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type ExtractTablesWithRelations } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { PGlite } from '@electric-sql/pglite';
import { acquireDataDirLock } from './data-dir-lock.ts';
import { PgliteThread } from './pglite-thread.ts';
import * as schema from './schema.ts';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle. Repositories and the ledger take this, never the outer `Db`. */
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Where it lives, for messages (the URL without its password, or the folder). */
  location: string;
  /**
   * Takes a session advisory lock on `key` and keeps it until close (lease-holder.ts): others see it
   * in pg_locks while this process runs, and it ends with the process.
   */
  holdSessionLock(key: number): Promise<void>;
  close(): Promise<void>;
}

/** Shipped beside the code (src/db → ../../drizzle, and dist/db → ../../drizzle), never the working directory. */
export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

export interface OpenOptions {
  databaseUrl?: string | undefined;
  /**
   * The role that owns the tables, for migrations only (DATABASE_MIGRATION_URL). The bot then runs
   * as DATABASE_URL's role, which is granted what it needs and cannot alter or rewrite the ledger.
   */
  migrationUrl?: string | undefined;
  dataDir: string;
  /** Who holds the embedded database, for the message another process gets. */
  holder: string;
  onNotice?: (message: string) => void;
  /** The embedded database's thread stopped after it opened: nothing more can be read or written. */
  onLost?: (error: Error) => void;
}

/** Opens PostgreSQL when a URL is given, else the embedded PGlite in dataDir; migrates either way. */
export async function openDatabase(options: OpenOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options.migrationUrl, options.onNotice) : openPglite(options.dataDir, options.holder, options.onLost);
}

/** PostgreSQL could not be opened or migrated at start: says which setting to look at, never a driver stack. */
export class DatabaseSetupError extends Error {
  constructor(variable: 'DATABASE_URL' | 'DATABASE_MIGRATION_URL', url: string, cause: unknown) {
    const denied = variable === 'DATABASE_URL' && sqlState(cause) === '42501';
    super(
      `${variable}: PostgreSQL at ${redact(url)} could not be ${variable === 'DATABASE_URL' ? 'opened' : 'migrated'}: ${rootMessage(cause)}. ` +
        (denied
          ? "This role may not run breakglass's migrations: set DATABASE_MIGRATION_URL to the role that owns the tables (wherever DATABASE_URL is set, the CLI too)."
          : "Check that the server runs and the URL's host, port, user, password and database" +
            (variable === 'DATABASE_URL' ? ', or unset DATABASE_URL for the embedded database in DATA_DIR.' : ", and that this role owns breakglass's tables.")),
      { cause },
    );
    this.name = 'DatabaseSetupError';
  }
}

function sqlState(error: unknown): unknown {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    if ((e as { code?: unknown }).code !== undefined) return (e as { code?: unknown }).code;
  }
  return undefined;
}

/** drizzle wraps the driver's error in "Failed query: …"; the driver's own message is the one a person can act on. */
function rootMessage(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++, e = e.cause) {
    if (e.message) message = e.message;
  }
  return message;
}

/**
 * A query waits at most this long for a connection (postgres.js's default is 30 s): during a network
 * partition a person is told to retry within seconds instead of after half a minute of silence.
 */
const CONNECT_TIMEOUT_S = 10;

/**
 * Seconds a connection waits before trying again after a failed one, by failures in a row (all
 * connections count them together). postgres.js's own grows to 20 s within a few failures, which
 * every tick of every worker adds to during an outage: the bot then stayed unusable for up to 20 s
 * after the database was back. Capped at 1 s: at most one attempt a second per pooled connection.
 */
const reconnectBackoffS = (failures: number) => Math.min(1, 0.05 * 2 ** failures) * (0.5 + Math.random() / 2);

async function openPostgres(url: string, migrationUrl: string | undefined, onNotice?: (message: string) => void): Promise<Database> {
  // A lost connection is not fatal: postgres.js opens a new one for the next query by itself.
  const client = postgresClient(url, 10, onNotice);
  const locks: Array<() => Promise<void>> = [];
  const db = drizzlePostgres(client, { schema });
  try {
    if (migrationUrl) await migrateAsOwner(migrationUrl, client, onNotice);
    else await migratePostgres(db, { migrationsFolder });
  } catch (error) {
    await client.end({ timeout: 1 }).catch(() => {});
    throw error instanceof DatabaseSetupError ? error : new DatabaseSetupError('DATABASE_URL', url, error);
  }
  return {
    db: db as unknown as Db,
    kind: 'postgres',
    location: redact(url),
    holdSessionLock: async (key) => void locks.push(await holdPostgresLock(url, key, onNotice)),
    close: async () => {
      await Promise.all(locks.map((release) => release()));
      await client.end({ timeout: 5 });
    },
  };
}

/** How often the lock's connection checks it still holds the lock, taking it again on a new session. */
const LOCK_CHECK_MS = 1_000;

/**
 * A session lock lives and dies with its connection, and pooled connections come and go: the lock
 * gets a connection of its own, never recycled. When that connection is lost (the server
 * restarted) postgres.js opens another for the next query, and the check every LOCK_CHECK_MS takes
 * the lock again on it. Returns what releases it.
 */
async function holdPostgresLock(url: string, key: number, onNotice?: (message: string) => void): Promise<() => Promise<void>> {
  const session = postgresClient(url, 1, onNotice, { max_lifetime: null, idle_timeout: 0, application: 'breakglass lease holder' });
  // CASE, not OR: its order is guaranteed, so a session already holding the lock never takes it a second time.
  const check = async () => {
    const [row] = await session<Array<{ held: boolean }>>`select case when exists (select 1 from pg_locks where pid = pg_backend_pid() and locktype = 'advisory' and granted and objsubid = 1 and ((classid::bigint << 32) | objid::bigint) = ${String(key)}::bigint) then true else pg_try_advisory_lock(${String(key)}::bigint) end as held`;
    return row?.held === true;
  };
  try {
    if (!(await check())) throw new Error(`the lease-holder lock ${key} is held by another session`);
  } catch (error) {
    await session.end({ timeout: 1 }).catch(() => {});
    throw new DatabaseSetupError('DATABASE_URL', url, error);
  }
  // A failed check (the server is down) is tried again at the next; the pool's queries report the outage.
  let checking: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    checking = checking.then(check).catch(() => false);
  }, LOCK_CHECK_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await checking;
    await session.end({ timeout: 5 });
  };
}

function postgresClient(url: string, max: number, onNotice?: (message: string) => void, options: { max_lifetime?: null; idle_timeout?: number; application?: string } = {}): postgres.Sql {
  return postgres(url, {
    max,
    ...(options.max_lifetime === null ? { max_lifetime: null } : {}),
    ...(options.idle_timeout !== undefined ? { idle_timeout: options.idle_timeout } : {}),
    connect_timeout: CONNECT_TIMEOUT_S,
    backoff: reconnectBackoffS,
    onnotice: (notice) => onNotice?.(String(notice.message)),
    connection: { application_name: options.application ?? 'breakglass' },
    // The driver's own first query on each new connection (array types, which breakglass never
    // binds) is not awaited by anyone: a database restarting at that moment rejected it unhandled
    // and ended the process (porsager/postgres#1192, #1223).
    fetch_types: false,
  });
}

/**
 * Migrates as the tables' owner, then grants the bot's role (DATABASE_URL) what it uses: every
 * table, but on the ledger only SELECT and INSERT. Not owning the ledger, that role cannot
 * ALTER TABLE … DISABLE TRIGGER either, so the append-only rule holds against it without exception.
 */
async function migrateAsOwner(migrationUrl: string, botClient: postgres.Sql, onNotice?: (message: string) => void): Promise<void> {
  const role = (await botClient<Array<{ role: string }>>`select current_user as role`)[0]!.role;
  const owner = postgresClient(migrationUrl, 1, onNotice);
  try {
    await migratePostgres(drizzlePostgres(owner, { schema }), { migrationsFolder });
    const me = (await owner<Array<{ me: string }>>`select current_user as me`)[0]!.me;
    if (me === role) throw new Error(`it connects as ${role}, the same role as DATABASE_URL; give the bot a role of its own`);
    await owner.begin(async (tx) => {
      await tx`grant usage on schema public to ${tx(role)}`;
      await tx`grant select, insert, update, delete on all tables in schema public to ${tx(role)}`;
      await tx`grant usage, select, update on all sequences in schema public to ${tx(role)}`;
      await tx`revoke update, delete, truncate on evidence_events from ${tx(role)}`;
      // A policy version's text is evidence too: the bot adds versions, never rewrites one.
      await tx`revoke update, delete, truncate on policy_versions from ${tx(role)}`;
    });
  } catch (error) {
    throw new DatabaseSetupError('DATABASE_MIGRATION_URL', migrationUrl, error);
  } finally {
    await owner.end({ timeout: 5 });
  }
}

async function openPglite(dataDir: string, holder: string, onLost?: (error: Error) => void): Promise<Database> {
  if (dataDir === 'memory://') return openPgliteInMemory();
  const folder = resolve(dataDir);
  mkdirSync(folder, { recursive: true });
  // PGlite allows one process per folder; a second one would corrupt it or hang, so refuse clearly.
  const lock = acquireDataDirLock(folder, holder);
  try {
    const client = await PgliteThread.start({ dataDir: resolve(folder, 'pgdata'), ...PGLITE_WORKER }, onLost);
    return await migratedPglite(client, folder, () => lock.release());
  } catch (error) {
    lock.release();
    throw error;
  }
}

/**
 * PostgreSQL's shared buffers live in PGlite's WebAssembly memory, and it touches all of them at
 * start: the default 128 MB was a third of the bot's idle memory. breakglass's working set (the
 * ledger head, open requests and grants, the outbox) fits in far less, and the files PGlite reads
 * stay in the operating system's page cache. `npm run bench` (rss, ack-latency) measures both:
 * 8 MB against 16 MB was 8 MB less idle memory, with the ack tail and ledger appends unchanged.
 *
 * `--liftoff-only`: V8's optimising compiler (TurboFan) recompiled PGlite's hot WebAssembly into
 * about 40 MB more idle memory (75 MB more at peak); with the baseline compiler alone the ack tail
 * did not grow (queries run on the worker's thread, not the bot's). V8 flags are process-wide: the
 * bot's other WebAssembly (undici's HTTP parser, for fetch) is compiled the same way.
 */
const PGLITE_WORKER = { settings: ['-c', 'shared_buffers=8MB'], v8Flags: ['--liftoff-only'] };

/** drizzle's PGlite driver is loaded only when the embedded database is used, never beside PostgreSQL. */
async function migratedPglite(client: PgliteThread, location: string, release: () => void = () => {}): Promise<Database> {
  const [{ drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([import('drizzle-orm/pglite'), import('drizzle-orm/pglite/migrator')]);
  // drizzle calls only query and transaction, which PgliteThread answers as PGlite does.
  const db = drizzlePglite(client as unknown as PGlite, { schema });
  try {
    await migratePglite(db, { migrationsFolder });
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
  return {
    db: db as unknown as Db,
    kind: 'pglite',
    location,
    // One session, the worker's, for as long as the database is open.
    holdSessionLock: async (key) => void (await db.execute(sql`select pg_advisory_lock(${String(key)}::bigint)`)),
    close: async () => {
      await client.close();
      release();
    },
  };
}

/** A throwaway embedded database, for tests and benchmarks. */
async function openPgliteInMemory(): Promise<Database> {
  return migratedPglite(await PgliteThread.start(PGLITE_WORKER), 'memory://');
}

/** An in-memory embedded database loaded from a dump (`dumpDataDir`), as the tests copy a migrated template. */
export async function openPgliteDump(dump: Blob): Promise<Database> {
  return migratedPglite(await PgliteThread.start({ ...PGLITE_WORKER, dump }), 'memory://');
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres (unparseable URL)';
  }
}

/** `db.execute()` answers rows on postgres.js and `{ rows }` on PGlite. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
