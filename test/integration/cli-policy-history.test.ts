import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordConfigLoaded } from '../../src/app/record-config.ts';
import { loadAccessConfig } from '../../src/config/access.ts';
import { describePolicySource } from '../../src/config/policy-source.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { cliDatabaseVariants, type CliDatabase, describeSideBySide } from '../support/cli-databases.ts';
import { runCli } from '../support/cli.ts';
import { FakeClock } from '../support/clock.ts';

const policy = (maxDuration: string) => `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: ${maxDuration}
    approvers: { slack_users: [U0BOB] }
`;

const T0 = '2026-01-05T09:00:00.000Z';
const T1 = '2026-02-02T09:00:00.000Z';
const T2 = '2026-03-02T09:00:00.000Z';

for (const variant of cliDatabaseVariants) {
  describeSideBySide(variant, `npx breakglass policy --at / --history / diff [${variant.kind}]`, () => {
    let database: CliDatabase;
    const repo = mkdtempSync(join(tmpdir(), 'breakglass-policy-git-'));
    const file = join(repo, 'access.yml');
    const hashes: string[] = [];
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { stdio: 'pipe' });

    beforeAll(async () => {
      database = await variant.setup();
      const { db, close } = await database.open();
      const clock = new FakeClock(T0);
      const ledger = new Ledger(clock);
      // A version recorded before breakglass kept texts: its hash only, as an old ledger has it.
      await db.transaction((tx) => ledger.append(tx, { kind: 'config.loaded', actor: 'breakglass', subject: 'access.yml', details: { config_hash: 'f'.repeat(64), previous_hash: null, resources: ['prod-db'] } }));
      git('init', '-q');
      for (const [at, maxDuration, author] of [[T1, '4h', 'Ada <ada@example.com>'], [T2, '2h', 'Bob <bob@example.com>']] as const) {
        writeFileSync(file, policy(maxDuration));
        git('add', 'access.yml');
        git('-c', `user.name=${author.split(' <')[0]}`, '-c', `user.email=${author.split('<')[1]!.slice(0, -1)}`, 'commit', '-q', '-m', `max ${maxDuration}`);
        clock.set(at);
        const loaded = loadAccessConfig(file);
        hashes.push(loaded.hash);
        await recordConfigLoaded(db, ledger, { hash: loaded.hash, path: loaded.path, resources: ['prod-db'], text: loaded.text, source: await describePolicySource(file), now: clock.now() });
      }
      await close();
    });
    afterAll(async () => {
      await database?.cleanup();
      rmSync(repo, { recursive: true, force: true });
    });

    it('renders the version in force at a time, not today’s: a 4 h limit in February, 2 h in March', async () => {
      const feb = await runCli(['policy', '--at', '2026-02-15'], database.env);
      expect(feb.stderr).toBe('');
      expect(feb.stdout).toContain(`| SHA-256 of the source | \`${hashes[0]}\` |`);
      expect(feb.stdout).toContain('| Maximum duration | 4 hours; longer requests are refused |');
      const march = await runCli(['policy', '--at', '2026-03-02T09:00:00Z'], database.env);
      expect(march.stdout).toContain(`| SHA-256 of the source | \`${hashes[1]}\` |`);
      expect(march.stdout).toContain('| Maximum duration | 2 hours; longer requests are refused |');
    });

    it('lists every version with the commit and author it came from', async () => {
      const history = await runCli(['policy', '--history'], database.env);
      const lines = history.stdout.trim().split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(new RegExp(`^${T0}  ffffffffffff  seq 1  source not recorded .*\\[text not kept\\]$`));
      expect(lines[1]).toMatch(new RegExp(`^${T1}  ${hashes[0]!.slice(0, 12)}  seq 2  commit [0-9a-f]{12} by Ada <ada@example.com> \\(.*\\), ${file}$`));
      expect(lines[2]).toMatch(/by Bob <bob@example.com>/);
    });

    it('diffs two versions named by time or by hash', async () => {
      const byTime = await runCli(['policy', 'diff', '2026-02-15', '2026-03-15'], database.env);
      expect(byTime.code).toBe(0);
      expect(byTime.stdout).toContain('-    max_duration: 4h');
      expect(byTime.stdout).toContain('+    max_duration: 2h');
      expect(byTime.stdout).toMatch(/^--- policy [0-9a-f]{12}, in force from 2026-02-02T09:00:00.000Z \(commit .* by Ada/);
      const byHash = await runCli(['policy', 'diff', hashes[0]!.slice(0, 10), hashes[1]!], database.env);
      expect(byHash.stdout).toBe(byTime.stdout);
    });

    it('says plainly what it cannot know, and changes nothing', async () => {
      const old = await runCli(['policy', '--at', '2026-01-10'], database.env);
      expect(old.code).toBe(2);
      expect(old.stderr).toContain(`has SHA-256 ${'f'.repeat(64)}, but its text was recorded before breakglass kept policy texts`);
      const before = await runCli(['policy', '--at', '2025-12-01'], database.env);
      expect(before.stderr).toContain('No policy was in force at 2025-12-01T00:00:00.000Z');
      const unknown = await runCli(['policy', 'diff', 'abcdef12', '2026-02-15'], database.env);
      expect(unknown.stderr).toContain('No policy version with a hash starting "abcdef12" was ever loaded');
      const oldDiff = await runCli(['policy', 'diff', '2026-01-10', '2026-02-15'], database.env);
      expect(oldDiff.stdout).toContain('was recorded before breakglass kept policy texts; only the hashes differ');
    });
  });
}
