/**
 * Migrated databases to copy from. A fresh PGlite runs initdb (two WebAssembly Postgres boots) and
 * then every migration, several seconds each time on a shared 2-core machine; copying a folder that
 * already went through exactly that (through the real `openDatabase`) takes milliseconds. The same
 * holds for PostgreSQL, where `CREATE DATABASE … TEMPLATE` copies a migrated database.
 *
 * Templates are keyed by the migrations and the PGlite version, so a new migration builds a new one;
 * they are built once per key (in the OS temp folder and on the test server) and only ever copied.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { migrationsFolder, openDatabase } from '../../src/db/client.ts';

const require = createRequire(import.meta.url);

function templateKey(): string {
  const hash = createHash('sha256');
  const pglitePackage = join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  hash.update(readFileSync(pglitePackage));
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(folder, entry.name);
      hash.update(path.slice(migrationsFolder.length));
      if (entry.isDirectory()) walk(path);
      else hash.update(readFileSync(path));
    }
  };
  walk(migrationsFolder);
  return hash.digest('hex').slice(0, 16);
}

export const TEMPLATE_KEY = templateKey();
const PGLITE_TEMPLATE = join(tmpdir(), `breakglass-pglite-template-${TEMPLATE_KEY}`);

let pgliteBuilt: Promise<string> | undefined;

/** The folder holding a migrated PGlite `pgdata` and its dump (`pgdata.tar`), built at first use. */
export function pgliteTemplate(): Promise<string> {
  pgliteBuilt ??= buildPgliteTemplate();
  return pgliteBuilt;
}

async function buildPgliteTemplate(): Promise<string> {
  if (existsSync(join(PGLITE_TEMPLATE, 'pgdata.tar'))) return PGLITE_TEMPLATE;
  // Built aside and renamed into place: another test process may be building the same one.
  const building = mkdtempSync(`${PGLITE_TEMPLATE}-building-`);
  try {
    const database = await openDatabase({ dataDir: building, holder: 'the test template' });
    const client = (database.db as unknown as { $client: { dumpDataDir(compression: 'none'): Promise<Blob> } }).$client;
    const dump = await client.dumpDataDir('none');
    await database.close();
    writeFileSync(join(building, 'pgdata.tar'), Buffer.from(await dump.arrayBuffer()));
    rmSync(join(building, 'breakglass.lock'), { force: true });
    try {
      renameSync(building, PGLITE_TEMPLATE);
    } catch (error) {
      if (!existsSync(join(PGLITE_TEMPLATE, 'pgdata.tar'))) throw error;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return PGLITE_TEMPLATE;
}

/**
 * Gives a PGlite DATA_DIR a migrated database, as if breakglass had opened it once before: what the
 * bot or the CLI then opens finds every migration applied. Nothing else (no lock, no key) is copied.
 */
export async function seedPgliteDataDir(dataDir: string): Promise<void> {
  const template = await pgliteTemplate();
  mkdirSync(dataDir, { recursive: true });
  cpSync(join(template, 'pgdata'), join(dataDir, 'pgdata'), { recursive: true });
}

let dump: Promise<Blob> | undefined;

/** The migrated PGlite as a tar, for `new PGlite({ loadDataDir })` (an in-memory copy). */
export function pgliteTemplateDump(): Promise<Blob> {
  dump ??= pgliteTemplate().then((folder) => new Blob([readFileSync(join(folder, 'pgdata.tar'))]));
  return dump;
}

let postgresBuilt: Promise<string> | undefined;

/** The name of a migrated PostgreSQL database on the test server to create others from, built at first use. */
export function postgresTemplate(serverUrl: string): Promise<string> {
  postgresBuilt ??= buildPostgresTemplate(serverUrl);
  return postgresBuilt;
}

async function buildPostgresTemplate(serverUrl: string): Promise<string> {
  const name = `breakglass_template_${TEMPLATE_KEY}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    const [found] = await admin`select 1 from pg_database where datname = ${name}`;
    if (found) return name;
    const building = `breakglass_template_building_${randomBytes(6).toString('hex')}`;
    await admin.unsafe(`create database ${building}`);
    try {
      const url = new URL(serverUrl);
      url.pathname = `/${building}`;
      const database = await openDatabase({ databaseUrl: url.toString(), dataDir: '', holder: 'the test template', onNotice: () => {} });
      await database.close();
      // Another test process may have finished the same template meanwhile: then its copy is used.
      await admin.unsafe(`alter database ${building} rename to ${name}`).catch(async (error: unknown) => {
        const [exists] = await admin`select 1 from pg_database where datname = ${name}`;
        if (!exists) throw error;
      });
    } finally {
      await admin.unsafe(`drop database if exists ${building} with (force)`);
    }
    return name;
  } finally {
    await admin.end();
  }
}
