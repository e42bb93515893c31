import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireDataDirLock } from '../../src/db/data-dir-lock.ts';
import { BIN, runCli, runCliWithClosedStdout } from '../support/cli.ts';

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
    // The example's Identity Center resource: its assignment calls, scoped to its permission set and account.
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({ Action: expect.arrayContaining(['sso:CreateAccountAssignment']), Resource: expect.arrayContaining(['arn:aws:sso:::account/123456789012']) }),
    );
    expect(JSON.stringify(policy)).not.toMatch(/"iam:\*"|"\*:\*"/);
  });

  it('adds what the IAM Identity Center provider calls, on the instance, permission sets and accounts access.yml names', async () => {
    const path = join(folder, 'sso.yml');
    const ps = (id: string) => `arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-${id}`;
    writeFileSync(
      path,
      `security_channel: C0SEC
resources:
  prod-admin:
    grant: { aws_sso: { permission_set_arn: ${ps('aaaaaaaaaaaaaaaa')}, account_id: "111122223333" } }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
  stage-read:
    grant: { aws_sso: { permission_set_arn: ${ps('bbbbbbbbbbbbbbbb')}, account_id: "444455556666", end_sessions: false } }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
`,
    );
    type Policy = { Statement: Array<{ Sid: string; Action: string | string[]; Resource: string | string[] }> };
    const found = await runCli(['iam-policy'], { ACCESS_CONFIG: path });
    expect(found.code).toBe(0);
    const policy = JSON.parse(found.stdout) as Policy;
    const instance = 'arn:aws:sso:::instance/ssoins-0123456789abcdef';
    expect(policy.Statement).toEqual([
      { Sid: 'BreakglassFindInstance', Effect: 'Allow', Action: 'sso:ListInstances', Resource: '*' },
      {
        Sid: 'BreakglassAccountAssignments',
        Effect: 'Allow',
        Action: ['sso:CreateAccountAssignment', 'sso:DeleteAccountAssignment', 'sso:DescribePermissionSet', 'sso:ListAccountAssignments'],
        Resource: [instance, ps('aaaaaaaaaaaaaaaa'), ps('bbbbbbbbbbbbbbbb'), 'arn:aws:sso:::account/111122223333', 'arn:aws:sso:::account/444455556666'],
      },
      { Sid: 'BreakglassAssignmentStatus', Effect: 'Allow', Action: ['sso:DescribeAccountAssignmentCreationStatus', 'sso:DescribeAccountAssignmentDeletionStatus'], Resource: [instance] },
      // Only the permission set that ends sessions at revoke has its inline policy edited and provisioned.
      {
        Sid: 'BreakglassEndSessions',
        Effect: 'Allow',
        Action: ['sso:GetInlinePolicyForPermissionSet', 'sso:ProvisionPermissionSet', 'sso:PutInlinePolicyToPermissionSet'],
        Resource: [instance, ps('aaaaaaaaaaaaaaaa'), 'arn:aws:sso:::account/111122223333'],
      },
      { Sid: 'BreakglassProvisioningStatus', Effect: 'Allow', Action: 'sso:DescribePermissionSetProvisioningStatus', Resource: [instance] },
      { Sid: 'BreakglassIdentityStore', Effect: 'Allow', Action: ['identitystore:DescribeUser', 'identitystore:GetUserId'], Resource: ['arn:aws:identitystore::*:identitystore/*', 'arn:aws:identitystore:::user/*'] },
    ]);

    // With the instance and identity store given, ListInstances is never called and the store is named.
    const given = await runCli(['iam-policy'], { ACCESS_CONFIG: path, AWS_SSO_INSTANCE_ARN: instance, AWS_IDENTITY_STORE_ID: 'd-0123456789' });
    expect(given.code).toBe(0);
    const narrowed = JSON.parse(given.stdout) as Policy;
    expect(narrowed.Statement.map((s) => s.Sid)).not.toContain('BreakglassFindInstance');
    expect(narrowed.Statement.find((s) => s.Sid === 'BreakglassIdentityStore')!.Resource).toEqual(['arn:aws:identitystore::*:identitystore/d-0123456789', 'arn:aws:identitystore:::user/*']);

    const bad = await runCli(['iam-policy'], { ACCESS_CONFIG: path, AWS_IDENTITY_STORE_ID: 'store-1' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/AWS_IDENTITY_STORE_ID: an identity store id looks like d-0123456789/);
    expect(bad.stdout).toBe('');
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
  it('prints the version from package.json, from a checkout (bin/breakglass.js through tsx) and compiled', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      expect(await runCli([flag], {}, BIN)).toMatchObject({ code: 0, stdout: `${version}\n` });
      expect(await runCli([flag], {})).toMatchObject({ code: 0, stdout: `${version}\n` });
    }
  });
});
