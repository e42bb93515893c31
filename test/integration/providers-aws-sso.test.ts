import { CreateAccountAssignmentCommand, SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listsHolder } from '../../src/app/grant-in-doubt.ts';
import { AccessConfigError, parseAccessConfig } from '../../src/config/access.ts';
import { readEnv } from '../../src/config/env.ts';
import { createLogger } from '../../src/logger.ts';
import { ProviderError, RevokeIneffectiveError, type GrantSpec, type GrantTarget } from '../../src/ports.ts';
import { AwsSsoProvider, type AwsSsoProviderOptions } from '../../src/providers/aws-sso/aws-sso-provider.ts';
import { awsSso } from '../../src/providers/aws-sso/index.ts';
import type { AwsSsoTarget } from '../../src/providers/aws-sso/target.ts';
import { sessionDenySid, sessionDenyStatement } from '../../src/providers/aws-sso/session-deny.ts';
import { ProviderSetupError } from '../../src/providers/module.ts';
import { describeGrant } from '../../src/providers/registry.ts';
import { isOutcomeUnknown } from '../../src/providers/retry.ts';
import { loadJsonModel } from '../support/aws-json-model.ts';
import { startSsoServer, type SsoRecordedRequest, type SsoTestServer } from '../support/sso-server.ts';

const ACCOUNT = '222222222222';
const fast = { attempts: 3, baseMs: 1, maxMs: 20, sleep: async () => {} };

let sso: SsoTestServer;
let permissionSet: string;
let aliceId: string;
const providers: AwsSsoProvider[] = [];

function makeProvider(opts: AwsSsoProviderOptions = {}): AwsSsoProvider {
  const p = new AwsSsoProvider({ ssoAdminEndpoint: sso.url, identityStoreEndpoint: sso.url, credentials: sso.credentials, retry: fast, ...opts });
  providers.push(p);
  return p;
}

const target = (permissionSetArn = permissionSet, endSessions = false): AwsSsoTarget => ({ kind: 'aws_sso_assignment', permissionSetArn, accountId: ACCOUNT, endSessions });

function spec(overrides: Partial<GrantSpec> = {}): GrantSpec {
  return {
    grantId: '41',
    resource: 'prod-admin',
    target: target(),
    person: { email: 'alice@example.com', slackUserId: 'U0ALICE' },
    expiresAt: new Date(Date.now() + 2 * 3_600_000),
    ...overrides,
  };
}

const op = (name: string) => (r: SsoRecordedRequest) => r.operation === name;

beforeEach(async () => {
  sso = await startSsoServer();
  permissionSet = sso.addPermissionSet('ProdAdmin', { sessionDuration: 'PT8H' });
  aliceId = sso.addUser('alice', { email: 'alice@example.com' });
});

afterEach(async () => {
  for (const p of providers.splice(0)) p.destroy();
  await sso.close();
});

describe('grant and revoke', () => {
  it('assigns the permission set to the user found by email, waiting until AWS reports the creation done', async () => {
    await makeProvider().grant(spec());
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([aliceId]);
    expect(sso.calls('ListInstances')).toHaveLength(1);
    expect(sso.calls('GetUserId')[0]?.input).toEqual({
      IdentityStoreId: sso.identityStoreId,
      AlternateIdentifier: { UniqueAttribute: { AttributePath: 'emails.value', AttributeValue: 'alice@example.com' } },
    });
    expect(sso.calls('CreateAccountAssignment')[0]?.input).toEqual({
      InstanceArn: sso.instanceArn,
      TargetId: ACCOUNT,
      TargetType: 'AWS_ACCOUNT',
      PermissionSetArn: permissionSet,
      PrincipalType: 'USER',
      PrincipalId: aliceId,
    });
    // IN_PROGRESS on the first poll, SUCCEEDED on the second.
    expect(sso.calls('DescribeAccountAssignmentCreationStatus')).toHaveLength(2);
  });

  it('finds the user by the user name access.yml people: gives', async () => {
    const other = sso.addUser('alice.smith', { email: 'a.smith@corp.example' });
    await makeProvider().grant(spec({ person: { email: 'alice@example.com', principal: 'alice.smith' } }));
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([other]);
    expect(sso.calls('GetUserId')[0]?.input['AlternateIdentifier']).toEqual({ UniqueAttribute: { AttributePath: 'userName', AttributeValue: 'alice.smith' } });
  });

  it('is idempotent: grant twice, revoke twice (the second removal is confirmed by the listing)', async () => {
    const provider = makeProvider();
    await provider.grant(spec());
    await provider.grant(spec());
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([aliceId]);
    await provider.revoke(spec());
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([]);
    expect(sso.calls('DescribeAccountAssignmentDeletionStatus').at(-1)?.status).toBe(200);
    // The listing that confirmed it comes back, for the caller to record rather than list again.
    await expect(provider.revoke(spec())).resolves.toEqual({ listed: [] });
    expect(sso.calls('DeleteAccountAssignment').map((r) => r.errorCode)).toEqual([undefined, 'ResourceNotFoundException']);
    expect(sso.calls('ListAccountAssignments')).toHaveLength(1);
    // The instance was looked up once for all of it.
    expect(sso.calls('ListInstances')).toHaveLength(1);
  });

  it("a creation AWS reports FAILED fails the grant for good, with AWS's reason", async () => {
    sso.failProvisioning((r) => r.kind === 'creation', 'Quota exceeded: the account has 1000 IAM roles');
    const err = await makeProvider().grant(spec()).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.transient).toBe(false);
    expect(err.message).toMatch(/could not assign prod-admin .*ps-.* in account 222222222222.* for alice@example.com: Quota exceeded: the account has 1000 IAM roles/);
    expect(isOutcomeUnknown(err)).toBe(false);
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([]);
  });

  it('a permission set that does not exist is a clear error, not retried', async () => {
    const missing = permissionSet.replace(/ps-[0-9a-f]{16}$/, 'ps-0000000000000000');
    const err = await makeProvider().grant(spec({ target: target(missing) })).catch((e) => e);
    expect(err).toMatchObject({ transient: false });
    expect(err.message).toContain(`Could not find PermissionSet with ARN ${missing}`);
    expect(err.message).toMatch(/Check permission_set_arn and account_id in access.yml/);
    expect(sso.calls('CreateAccountAssignment')).toHaveLength(1);
  });

  it('a person the identity store does not know is refused with the people: override to add', async () => {
    const err = await makeProvider().grant(spec({ person: { email: 'bob@example.com', slackUserId: 'U0BOB' } })).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.transient).toBe(false);
    expect(err.message).toBe(
      `IAM Identity Center (identity store ${sso.identityStoreId}) has no user with the email bob@example.com; if they have another email there, add their Identity Center user name to access.yml: people: { U0BOB: { aws_sso_user: <their user name> } }`,
    );
    expect(sso.calls('CreateAccountAssignment')).toHaveLength(0);

    const named = await makeProvider().grant(spec({ person: { email: 'bob@example.com', principal: 'bobby', slackUserId: 'U0BOB' } })).catch((e) => e);
    expect(named.message).toMatch(/has no user named bobby; correct aws_sso_user for U0BOB under people: in access.yml/);
  });

  it('finds a user whose email Slack spells in another case', async () => {
    await makeProvider().grant(spec({ person: { email: 'Alice@Example.com' } }));
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([aliceId]);
  });
});

describe('listing', () => {
  it("lists the users holding the permission set across pages, by user name and email, skipping group assignments", async () => {
    sso.maxPageSize = 2;
    const bob = sso.addUser('bob@example.com', { email: 'bob@example.com' });
    const svc = sso.addUser('deploy-bot');
    const gone = sso.addUser('carol', { email: 'carol@example.com' });
    for (const id of [aliceId, bob, svc, gone]) sso.assign(ACCOUNT, permissionSet, id);
    sso.groups.add('9a67b2d1c3-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0');
    sso.assign(ACCOUNT, permissionSet, '9a67b2d1c3-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', 'GROUP');
    sso.assign('333333333333', permissionSet, bob);
    sso.deleteUser(gone);

    const entries = await makeProvider().listAccess('prod-admin', target());
    expect(entries).toEqual([
      { resource: 'prod-admin', principal: 'alice', email: 'alice@example.com' },
      { resource: 'prod-admin', principal: 'bob@example.com', email: 'bob@example.com' },
      { resource: 'prod-admin', principal: 'deploy-bot' },
      // Deleted from the identity store since: only its id is left to show.
      { resource: 'prod-admin', principal: gone },
    ]);
    expect(sso.calls('ListAccountAssignments')).toHaveLength(3);
    expect(sso.calls('ListAccountAssignments')[1]?.input['NextToken']).toBeTruthy();
  });

  it('answers whether the assignment exists, for a grant in doubt (by email or by the people: user name)', async () => {
    const provider = makeProvider();
    expect(listsHolder(await provider.listAccess('prod-admin', target()), spec())).toBe(false);
    sso.assign(ACCOUNT, permissionSet, aliceId);
    const entries = await provider.listAccess('prod-admin', target());
    expect(listsHolder(entries, spec())).toBe(true);
    expect(listsHolder(entries, spec({ person: { email: 'someone@else.example', principal: 'ALICE' } }))).toBe(true);
    expect(listsHolder(entries, spec({ person: { email: 'bob@example.com' } }))).toBe(false);
  });
});

describe('failures', () => {
  it('retries a 500 and a throttle, and succeeds', async () => {
    sso.failNext(1, 500, op('CreateAccountAssignment'));
    sso.failNext(1, 400, op('DescribeAccountAssignmentCreationStatus'));
    await makeProvider().grant(spec());
    expect(sso.calls('CreateAccountAssignment').map((r) => r.status)).toEqual([500, 200]);
    expect(sso.calls('DescribeAccountAssignmentCreationStatus').map((r) => r.errorCode ?? r.status)).toEqual(['ThrottlingException', 200, 200]);
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([aliceId]);
  });

  it('retries a ConflictException (another operation on the same assignment still running), as AWS advises', async () => {
    sso.failNext(1, { status: 400, code: 'ConflictException', message: 'An operation on this assignment is in progress' }, op('CreateAccountAssignment'));
    await makeProvider().grant(spec());
    expect(sso.calls('CreateAccountAssignment').map((r) => r.errorCode ?? r.status)).toEqual(['ConflictException', 200]);
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([aliceId]);
  });

  it('a persistent 500 fails the call as transient after the retry budget', async () => {
    sso.failWhen(op('DeleteAccountAssignment'), 500);
    sso.assign(ACCOUNT, permissionSet, aliceId);
    const err = await makeProvider().revoke(spec()).catch((e) => e);
    expect(err).toMatchObject({ transient: true, status: 500 });
    expect(err.message).toMatch(/after 3 attempts/);
    expect(sso.calls('DeleteAccountAssignment')).toHaveLength(3);
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([aliceId]);
  });

  it('a creation made with its answer lost is an unknown outcome, which the listing resolves', async () => {
    sso.dropWhen(op('CreateAccountAssignment'), { apply: true });
    const provider = makeProvider();
    const lost = await provider.grant(spec()).catch((e) => e);
    expect(lost).toBeInstanceOf(ProviderError);
    expect(isOutcomeUnknown(lost)).toBe(true);
    expect(sso.calls('CreateAccountAssignment').map((r) => r.errorCode)).toEqual(Array(fast.attempts).fill('ConnectionDropped'));
    sso.clearFailures();
    expect(listsHolder(await provider.listAccess('prod-admin', target()), spec())).toBe(true);
  });

  it('a request dropped unapplied is an unknown outcome too, and the listing shows nothing', async () => {
    sso.dropWhen(op('CreateAccountAssignment'), { apply: false });
    const provider = makeProvider();
    expect(isOutcomeUnknown(await provider.grant(spec()).catch((e) => e))).toBe(true);
    sso.clearFailures();
    expect(listsHolder(await provider.listAccess('prod-admin', target()), spec())).toBe(false);
  });

  it('a creation still in progress when the wait runs out is an unknown outcome', async () => {
    sso.pollsBeforeDone = 1_000;
    const err = await makeProvider({ statusWaitMs: 2_000 }).grant(spec()).catch((e) => e);
    expect(err).toMatchObject({ transient: true });
    expect(err.message).toMatch(/still in progress after 2 s/);
    expect(isOutcomeUnknown(err)).toBe(true);
  });

  it('a revoke answered "not found" while the listing still shows the assignment is not done', async () => {
    sso.assign(ACCOUNT, permissionSet, aliceId);
    sso.failWhen(op('DeleteAccountAssignment'), { status: 400, code: 'ResourceNotFoundException', message: 'The specified account assignment does not exist' });
    const err = await makeProvider().revoke(spec()).catch((e) => e);
    expect(err).toBeInstanceOf(RevokeIneffectiveError);
    expect(err).toMatchObject({ principal: 'alice', message: expect.stringMatching(/ResourceNotFoundException.*still shows alice holding it/) });
  });

  it('a deletion AWS reports FAILED counts only if the listing no longer shows it', async () => {
    sso.assign(ACCOUNT, permissionSet, aliceId);
    sso.failProvisioning((r) => r.kind === 'deletion', 'An unexpected internal service exception was encountered');
    const err = await makeProvider().revoke(spec()).catch((e) => e);
    expect(err).toBeInstanceOf(RevokeIneffectiveError);
    expect(err.message).toMatch(/the deletion failed: An unexpected internal service exception was encountered/);
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([aliceId]);
  });

  it('revoking from someone the identity store no longer knows is done once the listing shows nobody of theirs', async () => {
    await expect(makeProvider().revoke(spec({ person: { email: 'ghost@example.com' } }))).resolves.toEqual({ listed: expect.not.arrayContaining([expect.objectContaining({ email: 'ghost@example.com' })]) });
    expect(sso.calls('DeleteAccountAssignment')).toHaveLength(0);
    expect(sso.calls('ListAccountAssignments')).toHaveLength(1);
  });

  it('revokes by the user id a listing reported for a user it could not describe', async () => {
    const gone = sso.addUser('carol', { email: 'carol@example.com' });
    sso.assign(ACCOUNT, permissionSet, gone);
    sso.deleteUser(gone);
    const provider = makeProvider();
    const [entry] = await provider.listAccess('prod-admin', target());
    await provider.revoke(spec({ person: { email: 'carol@example.com', principal: entry!.principal } }));
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([]);
  });
});

describe('the instance and the setup check', () => {
  it('uses AWS_SSO_INSTANCE_ARN and AWS_IDENTITY_STORE_ID without ListInstances when both are given', async () => {
    await makeProvider({ instanceArn: sso.instanceArn, identityStoreId: sso.identityStoreId }).grant(spec());
    expect(sso.calls('ListInstances')).toHaveLength(0);
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([aliceId]);
  });

  it('asks for AWS_SSO_INSTANCE_ARN when several instances are visible, and takes the one it names', async () => {
    const second = sso.addInstance();
    const problems = await makeProvider().setupProblems([{ name: 'prod-admin', target: target() }]);
    expect(problems).toEqual([expect.stringMatching(/several IAM Identity Center instances .*: set AWS_SSO_INSTANCE_ARN to the one breakglass grants in \(needed by prod-admin\)/)]);
    const other = sso.addPermissionSet('Other', { instanceArn: second.instanceArn });
    const chosen = makeProvider({ instanceArn: second.instanceArn });
    expect(await chosen.instance()).toEqual({ instanceArn: second.instanceArn, identityStoreId: second.identityStoreId });
    expect(await chosen.setupProblems([{ name: 'other', target: target(other) }])).toEqual([]);
    expect(await chosen.setupProblems([{ name: 'prod-admin', target: target() }])).toEqual([
      `resource prod-admin: permission set ${permissionSet} belongs to instance ${sso.instanceArn}, but breakglass assigns in ${second.instanceArn} (set AWS_SSO_INSTANCE_ARN)`,
    ]);
  });

  it('names the permission set that does not exist (DescribePermissionSet)', async () => {
    const missing = permissionSet.replace(/ps-[0-9a-f]{16}$/, 'ps-0000000000000000');
    const problems = await makeProvider().setupProblems([
      { name: 'prod-admin', target: target() },
      { name: 'prod-typo', target: target(missing) },
    ]);
    expect(problems).toEqual([`resource prod-typo: IAM Identity Center has no permission set ${missing}`]);
  });

  it('the module stops the start naming the resource, and starts anyway when AWS is only unreachable', async () => {
    const logs = new PassThrough();
    let logged = '';
    logs.on('data', (c: Buffer) => (logged += c.toString()));
    const env = readEnv({
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SIGNING_SECRET: 's',
      AWS_ENDPOINT_URL_SSO_ADMIN: sso.url,
      AWS_ENDPOINT_URL_IDENTITYSTORE: sso.url,
      AWS_SSO_INSTANCE_ARN: sso.instanceArn,
      AWS_IDENTITY_STORE_ID: sso.identityStoreId,
    });
    const missing = permissionSet.replace(/ps-[0-9a-f]{16}$/, 'ps-0000000000000000');
    const context = (resources: Array<{ name: string; target: AwsSsoTarget }>) => ({ env, variables: {}, resources, logger: createLogger('info', logs), retry: fast });
    const saved = { id: process.env['AWS_ACCESS_KEY_ID'], secret: process.env['AWS_SECRET_ACCESS_KEY'] };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: sso.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: sso.credentials.secretAccessKey });
    try {
      await expect(awsSso.setup(context([]))).resolves.toBeUndefined();
      const err = await awsSso.setup(context([{ name: 'prod-typo', target: target(missing) }])).catch((e) => e);
      expect(err).toBeInstanceOf(ProviderSetupError);
      expect(err.message).toMatch(/^resource prod-typo: IAM Identity Center has no permission set .*ps-0000000000000000\. The bot's AWS credentials need the policy in the README's IAM Identity Center section\.$/);

      const ok = await awsSso.setup(context([{ name: 'prod-admin', target: target() }]));
      expect(ok?.provider.name).toBe('aws-sso');
      ok?.close?.();

      sso.failWhen(op('DescribePermissionSet'), 503);
      const outage = await awsSso.setup(context([{ name: 'prod-admin', target: target() }]));
      expect(outage?.provider.name).toBe('aws-sso');
      outage?.close?.();
      expect(logged).toContain('IAM Identity Center is unreachable');
    } finally {
      for (const [k, v] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('says what is wrong when no instance is visible or ListInstances is denied', async () => {
    sso.failWhen(op('ListInstances'), { status: 400, code: 'AccessDeniedException', message: 'User is not authorized to perform: sso:ListInstances' });
    const problems = await makeProvider().setupProblems([{ name: 'prod-admin', target: target() }]);
    expect(problems).toEqual([
      expect.stringMatching(/not authorized to perform: sso:ListInstances: allow sso:ListInstances, or set AWS_SSO_INSTANCE_ARN and AWS_IDENTITY_STORE_ID \(needed by prod-admin\)$/),
    ]);
    sso.clearFailures();
    sso.instances.splice(0);
    const none = await makeProvider({ region: 'eu-west-1' }).setupProblems([{ name: 'prod-admin', target: target() }]);
    expect(none).toEqual([expect.stringMatching(/no active IAM Identity Center instance in eu-west-1 .*set AWS_SSO_REGION to the instance's region, or set AWS_SSO_INSTANCE_ARN and AWS_IDENTITY_STORE_ID \(needed by prod-admin\)/)]);
  });
});

describe('ending sessions (end_sessions)', () => {
  const ending = (permissionSetArn = permissionSet) => target(permissionSetArn, true);
  const HOUR = 3_600_000;
  const refused = (issuedAt: Date, o: { at?: Date; userId?: string; accountId?: string } = {}) =>
    sso.refusesSession({ accountId: o.accountId ?? ACCOUNT, permissionSetArn: permissionSet, userId: o.userId ?? aliceId, issuedAt, at: o.at ?? new Date() });
  const sids = () => (JSON.parse(sso.permissionSets.get(permissionSet)!.inlinePolicy!) as { Statement: Array<{ Sid: string }> }).Statement.map((s) => s.Sid);

  it('a revoke refuses the sessions the person opened before it, in that account, until the session duration has passed', async () => {
    const provider = makeProvider();
    await provider.grant(spec({ target: ending() }));
    const opened = new Date(Date.now() - 60_000);
    expect(refused(opened)).toBe(false);
    await provider.revoke(spec({ target: ending() }));
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([]);
    expect(refused(opened)).toBe(true);
    // A session begun after the revoke (a new grant) works; so does everyone else's.
    expect(refused(new Date(Date.now() + 1_000))).toBe(false);
    expect(refused(opened, { userId: sso.addUser('bob', { email: 'bob@example.com' }) })).toBe(false);
    // The permission set's sessions last 8 hours: then no session from before the revoke is valid, and the deny stops applying.
    expect(refused(opened, { at: new Date(Date.now() + 8 * HOUR) })).toBe(true);
    expect(refused(opened, { at: new Date(Date.now() + 8 * HOUR + 6 * 60_000) })).toBe(false);
    expect(sso.calls('ProvisionPermissionSet')[0]?.input).toEqual({ InstanceArn: sso.instanceArn, PermissionSetArn: permissionSet, TargetType: 'AWS_ACCOUNT', TargetId: ACCOUNT });
    expect(sso.calls('DescribePermissionSetProvisioningStatus').map((r) => r.status)).toEqual([200, 200]);

    // The same permission set provisioned to another account does not refuse her sessions there.
    const other: AwsSsoTarget = { ...ending(), accountId: '333333333333' };
    const carol = sso.addUser('carol', { email: 'carol@example.com' });
    sso.assign('333333333333', permissionSet, carol);
    await provider.revoke(spec({ target: other, person: { email: 'carol@example.com' } }));
    expect(refused(opened, { accountId: '333333333333' })).toBe(false);
    expect(refused(opened, { accountId: '333333333333', userId: carol })).toBe(true);
  });

  it("keeps the administrator's own statements, replaces the person's earlier deny and drops denies past their deadline", async () => {
    const stale = sessionDenyStatement({ userId: sso.addUser('dave'), accountId: ACCOUNT, issuedBefore: new Date(Date.now() - 10 * HOUR), sessionSeconds: 3_600 }).statement;
    const own = { Sid: 'AdminOwn', Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' };
    sso.permissionSets.get(permissionSet)!.inlinePolicy = JSON.stringify({ Version: '2012-10-17', Statement: [own, stale] });
    const provider = makeProvider();
    await expect(provider.endSessions(spec({ target: ending() }))).resolves.toBeNull();
    await provider.endSessions(spec({ target: ending() }));
    expect(sids()).toEqual(['AdminOwn', sessionDenySid(aliceId, ACCOUNT)]);
    expect(JSON.parse(sso.permissionSets.get(permissionSet)!.inlinePolicy!).Statement[0]).toEqual(own);
  });

  it('two revokes on one permission set at once both keep their deny', async () => {
    const bob = sso.addUser('bob', { email: 'bob@example.com' });
    sso.assign(ACCOUNT, permissionSet, aliceId);
    sso.assign(ACCOUNT, permissionSet, bob);
    const provider = makeProvider();
    await Promise.all([provider.revoke(spec({ target: ending() })), provider.revoke(spec({ target: ending(), person: { email: 'bob@example.com' } }))]);
    expect(sids().sort()).toEqual([sessionDenySid(aliceId, ACCOUNT), sessionDenySid(bob, ACCOUNT)].sort());
  });

  it('end_sessions: false leaves the inline policy alone; the policy document says which applies', async () => {
    sso.assign(ACCOUNT, permissionSet, aliceId);
    await makeProvider().revoke(spec());
    expect(sso.calls('PutInlinePolicyToPermissionSet')).toHaveLength(0);
    expect(describeGrant(ending() as GrantTarget)).toMatch(/at revoke the person's sessions already open are ended too: .*Deny for their Identity Center user id in that account on sessions issued before the revoke/);
    expect(describeGrant(target() as GrantTarget)).toMatch(/keeps working until it expires, .* since end_sessions is off/);
  });

  it('a provisioning that fails fails the revoke, to be tried again', async () => {
    sso.assign(ACCOUNT, permissionSet, aliceId);
    sso.failWhen((r) => r.operation === 'ProvisionPermissionSet', 500);
    const err = await makeProvider().revoke(spec({ target: ending() })).catch((e) => e);
    expect(err).toMatchObject({ transient: true, message: expect.stringMatching(/ProvisionPermissionSet/) });
    expect(sso.holders(ACCOUNT, permissionSet)).toEqual([]);
    sso.clearFailures();
    await makeProvider().revoke(spec({ target: ending() }));
    expect(refused(new Date(Date.now() - 60_000))).toBe(true);
  });
});

describe('access.yml and the policy document', () => {
  const yml = (grant: string) => `security_channel: C0SEC\nresources:\n  prod-admin:\n    description: d\n    grant: ${grant}\n    max_duration: 4h\n    approvers: { slack_users: [U0BOB] }\n`;

  it('reads grant: { aws_sso } and people: { aws_sso_user }', () => {
    const config = parseAccessConfig(
      `${yml(`{ aws_sso: { permission_set_arn: '${permissionSet}', account_id: '222222222222' } }`)}people:\n  U0ALICE: { aws_sso_user: alice.smith }\n`,
    );
    expect(config.resources['prod-admin']?.grant).toEqual({ kind: 'aws_sso_assignment', permissionSetArn: permissionSet, accountId: '222222222222', endSessions: true });
    expect(awsSso.principalOf('alice@example.com', config.people['U0ALICE'])).toBe('alice.smith');
  });

  it('refuses an unquoted account id and a malformed permission set ARN, with the line', () => {
    const err = (() => {
      try {
        parseAccessConfig(yml(`{ aws_sso: { permission_set_arn: 'arn:aws:sso:::permissionSet/ProdAdmin', account_id: 222222222222 } }`));
      } catch (e) {
        return e;
      }
    })() as AccessConfigError;
    expect(err).toBeInstanceOf(AccessConfigError);
    expect(err.message).toMatch(/access.yml:5:\d+ .*permission_set_arn: a permission set ARN looks like arn:aws:sso:::permissionSet\/ssoins-/);
    expect(err.message).toMatch(/access.yml:5:\d+ resources.prod-admin.grant.aws_sso.account_id: an AWS account id is 12 digits, quoted: account_id: "123456789012"/);
    expect(err.problems).toHaveLength(2);
  });

  it("the policy document says what grant and revoke do, and that a session outlives the revoke up to the permission set's duration", () => {
    const line = describeGrant(target() as GrantTarget);
    expect(line).toContain(`permission set \`${permissionSet}\` in AWS account \`222222222222\``);
    expect(line).toMatch(/CreateAccountAssignment.*DeleteAccountAssignment/);
    expect(line).toMatch(/keeps working until it expires, up to the permission set's session duration \(1 to 12 hours\)/);
  });
});

describe('the Identity Center test server itself', () => {
  it('answers ValidationException, in AWS JSON, to a call that breaks the model', async () => {
    const client = new SSOAdminClient({ region: 'us-east-1', endpoint: sso.url, credentials: sso.credentials, maxAttempts: 1 });
    try {
      const missing = await client.send(new CreateAccountAssignmentCommand({ InstanceArn: sso.instanceArn, TargetId: ACCOUNT, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSet, PrincipalType: 'USER' } as never)).catch((e) => e);
      expect(missing).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
      expect(missing.message).toBe("1 validation error detected: Value null at 'principalId' failed to satisfy constraint: Member must not be null");
      const bad = await client
        .send(new CreateAccountAssignmentCommand({ InstanceArn: sso.instanceArn, TargetId: '12345', TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSet, PrincipalType: 'ROBOT' as never, PrincipalId: aliceId }))
        .catch((e) => e);
      expect(bad.message).toMatch(/^3 validation errors detected: .*'targetId' failed to satisfy constraint: Member must have length greater than or equal to 12.*regular expression pattern.*'principalType' failed to satisfy constraint: Member must satisfy enum value set: \[USER, GROUP\]/);
      const unsigned = await new SSOAdminClient({ region: 'us-east-1', endpoint: sso.url, credentials: { accessKeyId: sso.credentials.accessKeyId, secretAccessKey: 'wrong' }, maxAttempts: 1 })
        .send(new CreateAccountAssignmentCommand({ InstanceArn: sso.instanceArn, TargetId: ACCOUNT, TargetType: 'AWS_ACCOUNT', PermissionSetArn: permissionSet, PrincipalType: 'USER', PrincipalId: aliceId }))
        .catch((e) => e);
      expect(unsigned).toMatchObject({ name: 'InvalidSignatureException' });
      expect(sso.holders(ACCOUNT, permissionSet)).toEqual([]);
    } finally {
      client.destroy();
    }
  });

  it("checks against botocore's models, which require these members of the operations breakglass calls", () => {
    const required = (service: 'sso-admin' | 'identitystore', operation: string) => {
      const model = loadJsonModel(service);
      return model.shapes[model.operations[operation]!.input!.shape]!.required?.slice().sort();
    };
    const assignment = ['InstanceArn', 'PermissionSetArn', 'PrincipalId', 'PrincipalType', 'TargetId', 'TargetType'];
    expect(required('sso-admin', 'CreateAccountAssignment')).toEqual(assignment);
    expect(required('sso-admin', 'DeleteAccountAssignment')).toEqual(assignment);
    expect(required('sso-admin', 'ListAccountAssignments')).toEqual(['AccountId', 'InstanceArn', 'PermissionSetArn']);
    expect(required('sso-admin', 'DescribeAccountAssignmentCreationStatus')).toEqual(['AccountAssignmentCreationRequestId', 'InstanceArn']);
    expect(required('identitystore', 'GetUserId')).toEqual(['AlternateIdentifier', 'IdentityStoreId']);
    expect(required('identitystore', 'DescribeUser')).toEqual(['IdentityStoreId', 'UserId']);
  });
});
