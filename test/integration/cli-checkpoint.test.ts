import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeCheckpointIfDue } from '../../src/app/take-checkpoint.ts';
import { parseAccessConfig } from '../../src/config/access.ts';
import { openDatabase } from '../../src/db/client.ts';
import { generateSigningKey, keyFingerprint, type CheckpointSigner } from '../../src/ledger/checkpoint.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { runCli } from '../support/cli.ts';
import { cliDatabaseVariants, type CliDatabase, describeSideBySide } from '../support/cli-databases.ts';
import { tamper } from '../support/tamper.ts';
import { seedPgliteDataDir } from '../support/templates.ts';
import { uncatalogued } from '../support/uncatalogued.ts';

const access = {
  config: parseAccessConfig(`security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`),
  hash: 'test',
  text: '',
  path: 'access.yml',
};

describeSideBySide({ skip: false }, 'npx breakglass evidence checkpoint verify', () => {
  const dir = mkdtempSync(join(tmpdir(), 'breakglass-cli-checkpoint-'));
  const env = { DATA_DIR: dir };
  const { signer } = generateSigningKey();
  let text = '';

  beforeAll(async () => {
    await seedPgliteDataDir(dir);
    const database = await openDatabase({ dataDir: dir, holder: 'test' });
    const ledger = new Ledger();
    for (let i = 1; i <= 5; i++) {
      await database.db.transaction((tx) => ledger.append(tx, uncatalogued({ kind: 'request.created', actor: 'U0ALICE', resource: 'prod-db', requestId: i })));
    }
    const deps = { db: database.db, ledger, clock: { now: () => new Date() }, access, wake: { grants() {}, outbox() {} } };
    text = (await takeCheckpointIfDue(deps, signer, { force: true })).taken!.text;
    await database.db.transaction((tx) => ledger.append(tx, uncatalogued({ kind: 'request.created', actor: 'U0ALICE', resource: 'prod-db', requestId: 6 })));
    await database.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 for a genuine checkpoint pasted unquoted, and 1 for a forged one', async () => {
    // Unquoted, as a shell splits it: the words are joined back together.
    const genuine = await runCli(['evidence', 'checkpoint', 'verify', ...text.split(' '), '--public-key', signer.publicKey], env);
    expect(genuine).toMatchObject({ code: 0, stdout: expect.stringMatching(/^VERIFIED: event #5's hash matches the checkpoint of .* \(5 event\(s\)\), signed by key ed25519:[0-9a-f]{16}; the ledger now holds 7 event\(s\)/) });

    const forged = await runCli(['evidence', 'checkpoint', 'verify', text.replace('count=5', 'count=4')], env);
    expect(forged.code).toBe(1);
    expect(forged.stdout).toMatch(/^NOT VERIFIED: the checkpoint of .* \(4 event\(s\)\) is not genuine: its signature does not verify/);
  });

  it('evidence verify --checkpoint exits 1 when the newest events were deleted', async () => {
    const database = await openDatabase({ dataDir: dir, holder: 'test' });
    await tamper(database.db, sql`delete from evidence_events where seq > 3`);
    await database.close();
    const result = await runCli(['evidence', 'verify', '--checkpoint', `\`${text}\``], env);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^TAMPERED: the 3 event\(s\) present chain correctly, but the ledger does not match the checkpoint/);
    expect(result.stdout).toMatch(/CHECKPOINT FAILED: the newest 2 event\(s\) are missing/);
  });
});

const DAY = 86_400_000;

for (const variant of cliDatabaseVariants) {
  describeSideBySide(variant, `pinned and default keys [${variant.kind}]`, () => {
    let database: CliDatabase;
    const keyDir = mkdtempSync(join(tmpdir(), 'breakglass-cli-key-'));
    const own = generateSigningKey();
    const other = generateSigningKey().signer;
    const start = Date.now() - 10 * DAY;
    let env: Record<string, string> = {};

    /** Appends through the real Ledger (and takes checkpoints as the bot does) at instants `start + days`. */
    async function record(steps: Array<{ days: number; checkpoint?: CheckpointSigner }>): Promise<string[]> {
      const db = await database.open();
      const texts: string[] = [];
      try {
        for (const step of steps) {
          const clock = { now: () => new Date(start + step.days * DAY) };
          const ledger = new Ledger(clock);
          if (step.checkpoint) texts.push((await takeCheckpointIfDue({ db: db.db, ledger, clock, access, wake: { grants() {}, outbox() {} } }, step.checkpoint, { force: true })).taken!.text);
          else await db.db.transaction((tx) => ledger.append(tx, uncatalogued({ kind: 'request.created', actor: 'U0ALICE', resource: 'prod-db', requestId: Math.round(step.days * 100) })));
        }
      } finally {
        await db.close();
      }
      return texts;
    }

    beforeAll(async () => {
      database = await variant.setup();
      // The bot's generated key, where the CLI looks for it (on PGlite DATA_DIR is the database's folder too).
      const dataDir = database.env.DATA_DIR ?? keyDir;
      writeFileSync(join(dataDir, 'ledger-signing-key'), `${own.encoded}\n`, { mode: 0o600 });
      env = { ...database.env, DATA_DIR: dataDir };
    });
    afterAll(async () => {
      await database.cleanup();
      rmSync(keyDir, { recursive: true, force: true });
    });

    it('evidence verify --public-key fails a ledger a day old with no checkpoint by that key, and events left uncovered for over a day', async () => {
      const pin = ['evidence', 'verify', '--public-key', own.signer.publicKey];
      await record([{ days: 0 }, { days: 0.9 }, { days: 1.8 }]);
      const unpinned = await runCli(['evidence', 'verify'], env);
      expect(unpinned.code, unpinned.stdout).toBe(0);
      expect(unpinned.stdout).toMatch(/No checkpoint in the ledger yet/);
      const none = await runCli(pin, env);
      expect(none.code).toBe(1);
      expect(none.stdout).toMatch(/^TAMPERED: the 3 event\(s\) present chain correctly, but the ledger does not match the checkpoints/);
      expect(none.stdout).toMatch(
        /CHECKPOINT FAILED: the ledger holds no checkpoint signed by the pinned key ed25519:[0-9a-f]{16}, though its first event is from \S+ \(10 day\(s\) ago\) and the bot signs one at least daily/,
      );

      // Signed (late, as readiness reports), then covered: verified.
      await record([{ days: 1.9, checkpoint: own.signer }]);
      const covered = await runCli(pin, env);
      expect(covered.code, covered.stdout).toBe(0);
      expect(covered.stdout).toMatch(/^OK: 4 event\(s\), chain intact/);

      // A day and more recorded after the newest checkpoint, with no newer one: as if the newer ones were cut away.
      await record([{ days: 3 }, { days: 3.6 }, { days: 4.2 }]);
      const tail = await runCli(pin, env);
      expect(tail.code).toBe(1);
      expect(tail.stdout).toMatch(/CHECKPOINT FAILED: event\(s\) #5–#7, recorded from \S+ to \S+ \(1 day\(s\)\), are covered by no checkpoint signed by the pinned key/);
      await record([{ days: 4.3, checkpoint: own.signer }]);
      expect((await runCli(pin, env)).code).toBe(0);
    }, 180_000);

    it('evidence checkpoint verify pins the bot\'s own key by default, so a checkpoint signed by another key is rejected', async () => {
      const [forged] = await record([{ days: 5, checkpoint: other }]);
      const [genuine] = await record([{ days: 5.1, checkpoint: own.signer }]);

      const rejected = await runCli(['evidence', 'checkpoint', 'verify', forged!], env);
      expect(rejected.code).toBe(1);
      expect(rejected.stdout).toMatch(new RegExp(`^Pinned to the bot's own key ${keyFingerprint(own.signer.publicKey)} \\(from .*ledger-signing-key\\)\\.\\nNOT VERIFIED: .* not by the pinned key`));
      const accepted = await runCli(['evidence', 'checkpoint', 'verify', genuine!], env);
      expect(accepted.code, accepted.stdout).toBe(0);
      expect(accepted.stdout).toMatch(/^Pinned to the bot's own key .*\nVERIFIED: /);
      expect(accepted.stdout).not.toMatch(/NOT PINNED/);

      renameSync(join(env.DATA_DIR!, 'ledger-signing-key'), join(keyDir, 'moved-away'));
      try {
        // LEDGER_SIGNING_KEY is the bot's key wherever it is set.
        const fromEnv = await runCli(['evidence', 'checkpoint', 'verify', forged!], { ...env, LEDGER_SIGNING_KEY: own.encoded });
        expect(fromEnv.code).toBe(1);
        expect(fromEnv.stdout).toMatch(/^Pinned to the bot's own key .* \(from LEDGER_SIGNING_KEY\)/);
        // Where no key of the bot's can be found, the check still runs, and says loudly that it proves little.
        const unpinned = await runCli(['evidence', 'checkpoint', 'verify', forged!], env);
        expect(unpinned.code, unpinned.stdout).toBe(0);
        expect(unpinned.stdout).toMatch(/^VERIFIED: .*\nWARNING: THE SIGNER IS NOT PINNED\./);
      } finally {
        renameSync(join(keyDir, 'moved-away'), join(env.DATA_DIR!, 'ledger-signing-key'));
      }
    }, 180_000);
  });
}
