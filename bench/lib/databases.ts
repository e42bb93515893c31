/**
 * Throwaway databases for the benchmarks: a fresh PostgreSQL database (dropped afterwards, also
 * on Ctrl-C) or a file-backed PGlite folder (as the bot's default DATA_DIR is), both migrated
 * through the product's own openDatabase.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { DATABASE_URL } from './common.ts';

export type BenchDbKind = 'postgres' | 'pglite';

export interface BenchDatabase {
  kind: BenchDbKind;
  /** DATABASE_URL (postgres) or DATA_DIR (pglite) for a CLI or bot process. */
  env: Record<string, string>;
  /** Opens the product's Database on it (migrated). On PGlite only one may be open at a time. */
  open(): Promise<Database>;
  /** Drops the database / removes the folder. */
  drop(): Promise<void>;
}

const cleanups = new Set<() => Promise<void>>();
let hooked = false;
function onExit(cleanup: () => Promise<void>): () => void {
  cleanups.add(cleanup);
  if (!hooked) {
    hooked = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        void Promise.allSettled([...cleanups].map((c) => c())).then(() => process.exit(130));
      });
    }
  }
  return () => cleanups.delete(cleanup);
}

export async function createBenchDatabase(kind: BenchDbKind): Promise<BenchDatabase> {
  if (kind === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'breakglass-bench-'));
    const drop = async () => rmSync(dir, { recursive: true, force: true });
    const forget = onExit(drop);
    return {
      kind,
      env: { DATA_DIR: dir },
      open: () => openDatabase({ dataDir: dir, holder: 'the breakglass benchmark' }),
      drop: async () => {
        forget();
        await drop();
      },
    };
  }
  const name = `breakglass_bench_${randomBytes(5).toString('hex')}`;
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  const drop = async () => {
    const again = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
    await again.unsafe(`drop database if exists ${name} with (force)`);
    await again.end();
  };
  const forget = onExit(drop);
  return {
    kind,
    env: { DATABASE_URL: url.toString() },
    open: () => openDatabase({ databaseUrl: url.toString(), dataDir: '', holder: 'the breakglass benchmark', onNotice: () => {} }),
    drop: async () => {
      forget();
      await drop();
    },
  };
}
