import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordConfigLoaded } from '../../src/app/record-config.ts';
import { DatabaseSetupError, openDatabase, type Database } from '../../src/db/client.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { systemClock } from '../../src/ports.ts';
import { createPostgresDatabase, postgresAvailable, TEST_DATABASE_URL } from '../support/databases.ts';

const DEAD_URL = 'postgres://breakglass:secret@127.0.0.1:1/breakglass';

describe('a DATABASE_URL that cannot be opened', () => {
  it('is named, with the driver’s reason and no password, instead of a stack', async () => {
    const error = await openDatabase({ databaseUrl: DEAD_URL, dataDir: '', holder: 'test' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseSetupError);
    expect((error as Error).message).toMatch(/^DATABASE_URL: PostgreSQL at postgres:\/\/breakglass:\*\*\*@127\.0\.0\.1:1\/breakglass could not be opened: connect ECONNREFUSED 127\.0\.0\.1:1\. Check/);
    expect((error as Error).message).not.toContain('secret');
  });

  it('stops the bot at start with that message and exit code 1', async () => {
    const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', main],
        { env: { PATH: process.env.PATH ?? '', SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 's', DATABASE_URL: DEAD_URL, PORT: '0' }, timeout: 60_000 },
        (error, _stdout, stderr) => resolve({ code: typeof error?.code === 'number' ? error.code : 0, stderr }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^breakglass cannot start\.\nDATABASE_URL: PostgreSQL at .* could not be opened: connect ECONNREFUSED/);
    expect(result.stderr).not.toMatch(/DrizzleQueryError|\n\s+at /);
  });
});

describe.skipIf(!postgresAvailable)('DATABASE_MIGRATION_URL: the bot as a role that does not own the ledger [postgres]', () => {
  const role = `breakglass_bot_${randomBytes(4).toString('hex')}`;
  let created: Awaited<ReturnType<typeof createPostgresDatabase>>;
  let botUrl: string;
  let database: Database;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });

  beforeAll(async () => {
    created = await createPostgresDatabase();
    await admin.unsafe(`create role ${role} login`);
    const url = new URL(created.url);
    url.username = role;
    botUrl = url.toString();
    database = await openDatabase({ databaseUrl: botUrl, migrationUrl: created.url, dataDir: '', holder: 'test' });
  });
  afterAll(async () => {
    await database?.close();
    await created?.drop();
    await admin.unsafe(`drop role if exists ${role}`);
    await admin.end();
  });

  it('works as the bot’s role: records evidence that verifies', async () => {
    expect(await recordConfigLoaded(database.db, new Ledger(systemClock), { hash: 'a'.repeat(64), path: 'access.yml', resources: ['prod-db'], text: '# v1\n', source: { kind: 'file', path: '/etc/access.yml', host: 'h' }, now: new Date() })).toBe(true);
    expect(await verifyLedger(database.db)).toMatchObject({ ok: true, count: 1 });
  });

  it('leaves that role unable to disable the ledger’s triggers, or to change, delete or truncate events', async () => {
    const bot = postgres(botUrl, { max: 1, onnotice: () => {} });
    try {
      await expect(bot`alter table evidence_events disable trigger user`).rejects.toThrow(/must be owner/);
      await expect(bot`update evidence_events set kind = 'forged'`).rejects.toThrow(/permission denied/);
      await expect(bot`delete from evidence_events`).rejects.toThrow(/permission denied/);
      await expect(bot`truncate evidence_events`).rejects.toThrow(/permission denied/);
    } finally {
      await bot.end();
    }
    expect(await verifyLedger(database.db)).toMatchObject({ ok: true, count: 1 });
  });

  it('opens again beside the bot (the CLI, a replica) with both settings, and says what is missing without the owner’s', async () => {
    const again = await openDatabase({ databaseUrl: botUrl, migrationUrl: created.url, dataDir: '', holder: 'test' });
    try {
      expect(await verifyLedger(again.db)).toMatchObject({ ok: true, count: 1 });
    } finally {
      await again.close();
    }
    const error = await openDatabase({ databaseUrl: botUrl, dataDir: '', holder: 'test' }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^DATABASE_URL: .*permission denied.* set DATABASE_MIGRATION_URL to the role that owns the tables/);
  });

  it('refuses the same role for both, naming DATABASE_MIGRATION_URL', async () => {
    const error = await openDatabase({ databaseUrl: created.url, migrationUrl: created.url, dataDir: '', holder: 'test' }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^DATABASE_MIGRATION_URL: .* the same role as DATABASE_URL/);
  });
});
