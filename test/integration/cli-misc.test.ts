import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireDataDirLock } from '../../src/db/data-dir-lock.ts';
import { runCli, runCliWithClosedStdout } from '../support/cli.ts';

const folder = mkdtempSync(join(tmpdir(), 'breakglass-cli-misc-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
/** The shipped example with its commented-out AWS and Okta resources restored, under its own name. */
const EXAMPLE = join(mkdtempSync(join(folder, 'example-')), 'access.example.yml');
writeFileSync(EXAMPLE, readFileSync('access.example.yml', 'utf8').replace(/^#(\s{2}.*)$/gm, '$1'));

describe('npx breakglass iam-policy', () => {
  it('prints the least privilege for the configured AWS resources', async () => {
    const result = await runCli(['iam-policy'], { ACCESS_CONFIG: EXAMPLE });
    expect(result.code).toBe(0);
    const policy = JSON.parse(result.stdout) as { Statement: Array<{ Action: string | string[]; Resource: string | string[] }> };
    expect(policy.Statement).toContainEqual(expect.objectContaining({ Action: ['iam:AddUserToGroup', 'iam:GetGroup', 'iam:RemoveUserFromGroup'], Resource: ['arn:aws:iam::*:group/ProdAdmins'] }));
    expect(policy.Statement).toContainEqual(expect.objectContaining({ Action: 'sts:AssumeRole', Resource: ['arn:aws:iam::123456789012:role/breakglass-granter'] }));
    expect(JSON.stringify(policy)).not.toMatch(/"iam:\*"|"\*:\*"/);
  });

  it('names an unknown account role', async () => {
    const result = await runCli(['iam-policy', '--for-role', 'arn:aws:iam::999999999999:role/nope'], { ACCESS_CONFIG: EXAMPLE });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no resource in \S*access\.example\.yml uses account_role_arn arn:aws:iam::999999999999:role\/nope; known: arn:aws:iam::123456789012:role\/breakglass-granter/);
  });

  it('reports a broken access.yml with file, line and fix', async () => {
    const path = join(folder, 'broken.yml');
    writeFileSync(path, 'security_channel: C0SEC\nresources:\n  prod-db:\n    grant: { okta_group: 00g }\n    max_duration: forever\n    approvers: { slack_users: [U0BOB] }\n');
    const result = await runCli(['iam-policy'], { ACCESS_CONFIG: path });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path}:5:5 resources.prod-db.max_duration: "forever" is not a duration`);
  });
});

describe('the CLI on the embedded database while the bot runs', () => {
  it('says who holds it and how to proceed, instead of hanging', async () => {
    const dataDir = join(folder, 'data');
    mkdirSync(dataDir, { recursive: true });
    const lock = acquireDataDirLock(dataDir, 'the breakglass bot');
    try {
      const result = await runCli(['evidence', 'verify'], { DATA_DIR: dataDir });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`in use by the breakglass bot \\(pid ${process.pid}`));
      expect(result.stderr).toMatch(/set DATABASE_URL/);
    } finally {
      lock.release();
    }
  });
});

describe('the CLI writing to a reader that stops early (| head)', () => {
  it.each([
    ['evidence verify', ['evidence', 'verify']],
    ['policy', ['policy']],
    ['evidence export', ['evidence', 'export', '--from', '2020-01-01', '--to', '2030-01-01']],
  ])('%s ends quietly, with its own exit code, instead of crashing on EPIPE', async (_name, args) => {
    const dataDir = join(folder, `epipe-${args.join('-')}`);
    const result = await runCliWithClosedStdout(args, { DATA_DIR: dataDir, ACCESS_CONFIG: 'access.example.yml' });
    expect(result.stderr).not.toMatch(/EPIPE|Error|at /);
    expect(result.code).toBe(0);
  });
});

describe('npx breakglass --version', () => {
  it('prints the version from package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag], {});
      expect(result).toMatchObject({ code: 0, stdout: `${version}\n` });
    }
  });
});
