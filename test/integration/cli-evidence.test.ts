import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { describeSideBySide } from '../support/cli-databases.ts';
import { runCli } from '../support/cli.ts';
import { createPostgresDatabase, postgresAvailable } from '../support/databases.ts';
import { tamper } from '../support/tamper.ts';
import { seedPgliteDataDir } from '../support/templates.ts';
import { uncatalogued } from '../support/uncatalogued.ts';

const TRICKY_REASON = 'INC-7, "urgent": replica lag\nsecond line, with comma';
const times = ['2026-02-01T10:00:00.000Z', '2026-02-15T12:00:00.000Z', '2026-03-31T23:59:59.000Z', '2026-04-01T00:00:00.000Z'];

async function seed(database: Database) {
  let i = 0;
  const ledger = new Ledger({ now: () => new Date(times[i++]!) });
  const events = [
    { kind: 'request.created', actor: 'U0ALICE', resource: 'prod-db', requestId: 1, details: { reason: TRICKY_REASON } },
    { kind: 'request.approved', actor: 'U0BOB', subject: 'U0ALICE', resource: 'prod-db', requestId: 1 },
    { kind: 'request.created', actor: 'U0CAROL', resource: 'prod-admin', requestId: 2, details: { reason: 'deploy' } },
    { kind: 'request.created', actor: 'U0ALICE', resource: 'prod-db', requestId: 3, details: { reason: 'after the period' } },
  ] as const;
  for (const event of events) await database.db.transaction((tx) => ledger.append(tx, uncatalogued(event)));
}

const variants: Array<{ kind: string; skip: boolean; setup(): Promise<{ env: Record<string, string>; database: () => Promise<Database>; cleanup(): Promise<void> }> }> = [
  {
    kind: 'pglite',
    skip: false,
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'breakglass-cli-'));
      await seedPgliteDataDir(dir);
      return {
        env: { DATA_DIR: dir },
        database: () => openDatabase({ dataDir: dir, holder: 'test' }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    kind: 'postgres',
    skip: !postgresAvailable,
    async setup() {
      const created = await createPostgresDatabase({ migrated: true });
      return { env: { DATABASE_URL: created.url }, database: () => openDatabase({ databaseUrl: created.url, dataDir: '', holder: 'test' }), cleanup: created.drop };
    },
  },
];

for (const variant of variants) {
  describeSideBySide(variant, `npx breakglass evidence [${variant.kind}]`, () => {
    let env: Record<string, string>;
    let open: () => Promise<Database>;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ env, database: open, cleanup } = await variant.setup());
      const database = await open();
      await seed(database);
      await database.close();
    });
    afterAll(async () => cleanup());

    it('exports CSV with the header and RFC 4180 escaping', async () => {
      const result = await runCli(['evidence', 'export', '--from', '2026-02-01', '--to', '2026-03-31'], env);
      expect(result.code).toBe(0);
      const lines = result.stdout.split('\n');
      // A byte order mark first, so Excel reads the file as UTF-8.
      expect(lines[0]).toBe('\uFEFFseq,occurred_at,kind,actor,subject,resource,request_id,details,hash,prev_hash');
      // The reason's quotes are doubled, and the field is quoted because it holds commas, quotes and a newline
      // (details as the database writes jsonb).
      expect(result.stdout).toContain('"{""reason"": ""INC-7, \\""urgent\\"": replica lag\\nsecond line, with comma""}"');
      expect(result.stdout).toContain('2,2026-02-15T12:00:00.000Z,request.approved,U0BOB,U0ALICE,prod-db,1,{},');
      expect(result.stdout).toContain('3,2026-03-31T23:59:59.000Z,request.created,U0CAROL');
      expect(result.stdout).not.toContain('after the period');
    });

    it('leaves the byte order mark out with --no-bom', async () => {
      const result = await runCli(['evidence', 'export', '--from', '2026-02-01', '--to', '2026-03-31', '--no-bom'], env);
      expect(result.code).toBe(0);
      expect(result.stdout.startsWith('seq,occurred_at,')).toBe(true);
    });

    it('exports JSON Lines with the same keys, one parseable object a line', async () => {
      const result = await runCli(['evidence', 'export', '--from', '2026-01-01', '--to', '2026-12-31', '--format', 'jsonl', '--user', 'U0ALICE'], env);
      expect(result.code).toBe(0);
      const objects = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(objects.map((o) => o.seq)).toEqual([1, 2, 4]);
      expect(Object.keys(objects[0]!)).toEqual(['seq', 'occurred_at', 'kind', 'actor', 'subject', 'resource', 'request_id', 'details', 'hash', 'prev_hash']);
      expect(objects[0]!.details).toEqual({ reason: TRICKY_REASON });
    });

    it('filters by resource', async () => {
      const result = await runCli(['evidence', 'export', '--from', '2026-01-01', '--to', '2026-12-31', '--format', 'jsonl', '--resource', 'prod-admin'], env);
      expect(result.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual([3]);
    });

    it('refuses a bad date with a clear message and exit code', async () => {
      const result = await runCli(['evidence', 'export', '--from', 'last tuesday', '--to', '2026-12-31'], env);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/"last tuesday" is not a date/);
      expect(result.stdout).toBe('');
    });

    it('verifies the chain, then names the first tampered event', async () => {
      const intact = await runCli(['evidence', 'verify'], env);
      expect(intact).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK: 4 event\(s\), chain intact/) });
      const database = await open();
      await tamper(database.db, sql`update evidence_events set actor = 'U0MALLORY' where seq = 2`);
      await database.close();
      const broken = await runCli(['evidence', 'verify'], env);
      expect(broken.code).toBe(1);
      expect(broken.stdout).toMatch(/TAMPERED: event 2 \(request\.approved\): its content does not match its hash/);
    });

    it('has --help on every command', async () => {
      for (const args of [['--help'], ['evidence', '--help'], ['evidence', 'export', '--help'], ['evidence', 'verify', '--help']]) {
        const result = await runCli(args, env);
        expect(result.code, args.join(' ')).toBe(0);
        expect(result.stdout).toMatch(/Usage: breakglass/);
      }
    });
  });
}
