import { AddUserToGroupCommand, GetAccountAuthorizationDetailsCommand, IAMClient, UpdateUserCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { AccessConfigError, parseAccessConfig } from '../../src/config/access.ts';
import { minimalIamPolicy } from '../../src/providers/aws-iam/iam-policy.ts';
import { describeGrant } from '../../src/providers/registry.ts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderError, RevokeIneffectiveError, type GrantSpec, type GrantTarget, type IamPolicyDocument } from '../../src/ports.ts';
import { AwsIamProvider, type AwsIamProviderOptions } from '../../src/providers/aws-iam/aws-iam-provider.ts';
import { OktaProvider } from '../../src/providers/okta/okta-provider.ts';
import { NoProviderError, ProviderRegistry } from '../../src/providers/registry.ts';
import { isOutcomeUnknown } from '../../src/providers/retry.ts';
import { startIamServer, loadIamModel, type IamRecordedRequest, type IamTestServer } from '../support/iam-server.ts';

const fast = { attempts: 3, baseMs: 1, maxMs: 20 };
const ROLE_B = 'arn:aws:iam::222222222222:role/breakglass-manager';
const logsPolicy: IamPolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::prod-logs/*', Condition: { Bool: { 'aws:SecureTransport': 'true' } } },
    { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::prod-logs' },
  ],
};

let iam: IamTestServer;
let provider: AwsIamProvider;
const providers: AwsIamProvider[] = [];

function makeProvider(opts: AwsIamProviderOptions = {}): AwsIamProvider {
  const p = new AwsIamProvider({ iamEndpoint: iam.url, stsEndpoint: iam.url, credentials: iam.credentials, retry: fast, ...opts });
  providers.push(p);
  return p;
}

function spec(target: GrantTarget, overrides: Partial<GrantSpec> = {}): GrantSpec {
  return {
    grantId: '7f1c2b9e-0d4a-4e55-9a0b-1234567890ab',
    resource: 'prod-logs',
    target,
    person: { email: 'alice@example.com' },
    expiresAt: new Date(Date.now() + 2 * 3_600_000),
    ...overrides,
  };
}

const groupTarget = (accountRoleArn?: string): GrantTarget => ({ kind: 'aws_iam_group', groupName: 'ProdDB', ...(accountRoleArn ? { accountRoleArn } : {}) });
const policyTarget = (accountRoleArn?: string): GrantTarget => ({ kind: 'aws_iam_policy', policy: logsPolicy, ...(accountRoleArn ? { accountRoleArn } : {}) });
const action = (name: string) => (r: IamRecordedRequest) => r.action === name;

beforeEach(async () => {
  iam = await startIamServer();
  iam.account().addUser('alice@example.com');
  iam.account().addGroup('ProdDB');
  provider = makeProvider();
});

afterEach(async () => {
  for (const p of providers.splice(0)) p.destroy();
  await iam.close();
});

describe('aws_iam_group', () => {
  it('adds the IAM user (the email by default) to the group', async () => {
    await provider.grant(spec(groupTarget()));
    expect(iam.account().members('ProdDB')).toEqual(['alice@example.com']);
    expect(iam.calls('AddUserToGroup')[0]?.params).toEqual({ GroupName: 'ProdDB', UserName: 'alice@example.com' });
  });

  it('uses the IAM user name from people: when given', async () => {
    iam.account().addUser('alice');
    await provider.grant(spec(groupTarget(), { person: { email: 'alice@example.com', principal: 'alice' } }));
    expect(iam.account().members('ProdDB')).toEqual(['alice']);
  });

  it('is idempotent: grant twice, revoke twice', async () => {
    await provider.grant(spec(groupTarget()));
    await provider.grant(spec(groupTarget()));
    expect(iam.account().members('ProdDB')).toEqual(['alice@example.com']);
    await provider.revoke(spec(groupTarget()));
    expect(iam.account().isMember('ProdDB', 'alice@example.com')).toBe(false);
    // The NoSuchEntity is confirmed by a listing, which comes back for the caller to record.
    await expect(provider.revoke(spec(groupTarget()))).resolves.toEqual({ listed: [] });
    expect(iam.calls('RemoveUserFromGroup').map((r) => r.errorCode)).toEqual([undefined, 'NoSuchEntity']);
  });

  it('fails for good when the IAM user does not exist', async () => {
    const err = await provider.grant(spec(groupTarget(), { person: { email: 'ghost@example.com' } })).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ transient: false, status: 404 });
    expect(err.message).toContain('ghost@example.com');
  });

  it('tells which people: override maps the person when IAM has no user of that name', async () => {
    const byEmail = await provider.grant(spec(groupTarget(), { person: { email: 'ghost@example.com', slackUserId: 'U0GHOST' } })).catch((e) => e);
    expect(byEmail.message).toBe(
      'IAM has no user named ghost@example.com (their email); if their IAM user has another name, add it to access.yml: people: { U0GHOST: { aws_iam_user: <their IAM user name> } }',
    );
    const named = await provider.grant(spec(groupTarget(), { person: { email: 'ghost@example.com', principal: 'ghosty', slackUserId: 'U0GHOST' } })).catch((e) => e);
    expect(named.message).toBe('IAM has no user named ghosty; correct aws_iam_user for U0GHOST under people: in access.yml');
  });

  it('lists members across GetGroup pages', async () => {
    iam.maxPageSize = 2;
    const names = ['u1@example.com', 'u2@example.com', 'u3@example.com', 'u4@example.com', 'svc-deploy'];
    for (const n of names) iam.account().addToGroup('ProdDB', n);
    const entries = await provider.listAccess('prod-db', groupTarget());
    expect(entries.map((e) => e.principal)).toEqual(names);
    expect(entries[0]).toEqual({ resource: 'prod-db', principal: 'u1@example.com', principalId: expect.stringMatching(/^AIDA/), email: 'u1@example.com' });
    expect(entries[4]).toEqual({ resource: 'prod-db', principal: 'svc-deploy', principalId: expect.stringMatching(/^AIDA/) });
    const pages = iam.calls('GetGroup');
    expect(pages).toHaveLength(3);
    expect(pages[1]!.params['Marker']).toBeTruthy();
  });
});

describe('aws_iam_policy', () => {
  it('puts breakglass-<resource> whose every statement ends at the expiry', async () => {
    const expiresAt = new Date('2031-05-06T07:08:09.123Z');
    await provider.grant(spec(policyTarget(), { expiresAt }));
    const doc = iam.account().userPolicy('alice@example.com', 'breakglass-prod-logs');
    expect(doc?.Statement).toHaveLength(2);
    for (const s of doc!.Statement) {
      expect((s['Condition'] as Record<string, Record<string, string>>)['DateLessThan']).toEqual({ 'aws:CurrentTime': '2031-05-06T07:08:09Z' });
    }
    expect(doc!.Statement[0]!['Condition']).toMatchObject({ Bool: { 'aws:SecureTransport': 'true' } });
    expect(doc!.Statement[0]).toMatchObject({ Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::prod-logs/*' });
  });

  it('replaces the policy on a second grant (extension) and removes it on revoke', async () => {
    await provider.grant(spec(policyTarget()));
    const later = new Date(Date.now() + 5 * 3_600_000);
    await provider.grant(spec(policyTarget(), { grantId: 'g2', expiresAt: later }));
    expect(iam.account().userPolicyNames('alice@example.com')).toEqual(['breakglass-prod-logs']);
    const entries = await provider.listAccess('prod-logs', policyTarget());
    expect(entries).toEqual([{ resource: 'prod-logs', principal: 'alice@example.com', principalId: expect.stringMatching(/^AIDA/), email: 'alice@example.com', grantId: 'g2' }]);
    await provider.revoke(spec(policyTarget()));
    expect(iam.account().userPolicyNames('alice@example.com')).toEqual([]);
    await expect(provider.revoke(spec(policyTarget()))).resolves.toEqual({ listed: [] });
  });

  it('lists holders across GetAccountAuthorizationDetails pages with their grant ids, without a call per user', async () => {
    iam.maxPageSize = 2;
    const a = iam.account();
    for (const n of ['b@example.com', 'c@example.com', 'd@example.com', 'e@example.com']) a.addUser(n);
    await provider.grant(spec(policyTarget()));
    await provider.grant(spec(policyTarget(), { grantId: 'grant-77', person: { email: 'd@example.com' } }));
    a.putUserPolicy('c@example.com', 'something-else', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'x:y', Resource: '*' }] });
    a.putUserPolicy('e@example.com', 'breakglass-prod-logs', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'x:y', Resource: '*' }] });

    const entries = await provider.listAccess('prod-logs', policyTarget());
    expect(entries).toEqual([
      { resource: 'prod-logs', principal: 'alice@example.com', principalId: expect.stringMatching(/^AIDA/), email: 'alice@example.com', grantId: '7f1c2b9e-0d4a-4e55-9a0b-1234567890ab' },
      { resource: 'prod-logs', principal: 'd@example.com', principalId: expect.stringMatching(/^AIDA/), email: 'd@example.com', grantId: 'grant-77' },
      { resource: 'prod-logs', principal: 'e@example.com', principalId: expect.stringMatching(/^AIDA/), email: 'e@example.com' }, // not written by breakglass: no grant id
    ]);
    const pages = iam.calls('GetAccountAuthorizationDetails');
    expect(pages).toHaveLength(3); // 5 users, 2 a page
    expect(pages[0]!.params).toMatchObject({ 'Filter.member.1': 'User' });
    expect(pages[1]!.params['Marker']).toBeTruthy();
    for (const perUser of ['ListUsers', 'ListUserPolicies', 'GetUserPolicy', 'ListGroupsForUser']) expect(iam.calls(perUser), perUser).toHaveLength(0);
  });

  it('reads the account once for a pass over several resources, and again after a change of its own', async () => {
    const a = iam.account();
    for (const n of ['b@example.com', 'c@example.com']) a.addUser(n);
    a.putUserPolicy('b@example.com', 'breakglass-prod-logs', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'x:y', Resource: '*' }] });
    a.putUserPolicy('c@example.com', 'breakglass-billing', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'x:y', Resource: '*' }] });
    expect((await provider.listAccess('prod-logs', policyTarget())).map((e) => e.principal)).toEqual(['b@example.com']);
    expect((await provider.listAccess('billing', policyTarget())).map((e) => e.principal)).toEqual(['c@example.com']);
    expect(iam.calls('GetAccountAuthorizationDetails')).toHaveLength(1);

    await provider.grant(spec(policyTarget()));
    expect((await provider.listAccess('prod-logs', policyTarget())).map((e) => e.principal)).toEqual(['alice@example.com', 'b@example.com']);
    expect(iam.calls('GetAccountAuthorizationDetails')).toHaveLength(2);
  });

  it('sees changes made elsewhere once its listing is older than listingTtlMs', async () => {
    const p = makeProvider({ listingTtlMs: 0 });
    expect(await p.listAccess('prod-logs', policyTarget())).toEqual([]);
    iam.account().putUserPolicy('alice@example.com', 'breakglass-prod-logs', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'x:y', Resource: '*' }] });
    expect((await p.listAccess('prod-logs', policyTarget())).map((e) => e.principal)).toEqual(['alice@example.com']);
  });

  it('refuses a document over 2,048 characters before calling AWS', async () => {
    const big: IamPolicyDocument = {
      Statement: Array.from({ length: 12 }, (_, i) => ({ Effect: 'Allow', Action: [`s3:GetObject`], Resource: `arn:aws:s3:::bucket-number-${i}-with-a-long-name/*` })),
    };
    const err = await provider.grant(spec({ kind: 'aws_iam_policy', policy: big })).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.transient).toBe(false);
    expect(err.message).toMatch(/2048 per user/);
    expect(iam.calls('PutUserPolicy')).toHaveLength(0);
  });

  it("explains IAM's LimitExceeded when the user's other inline policies use up the room", async () => {
    iam.account().putUserPolicy('alice@example.com', 'legacy', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'x'.repeat(1700)}` }],
    });
    const err = await provider.grant(spec(policyTarget())).catch((e) => e);
    expect(err).toMatchObject({ transient: false, status: 409 });
    expect(err.message).toMatch(/alice@example.com would exceed the 2048-character inline policy limit/);
    expect(iam.calls('PutUserPolicy')).toHaveLength(1);
  });

  it('refuses an expiry in the past', async () => {
    await expect(provider.grant(spec(policyTarget(), { expiresAt: new Date(Date.now() - 1000) }))).rejects.toMatchObject({ transient: false });
    expect(iam.calls('PutUserPolicy')).toHaveLength(0);
  });
});

describe('retries', () => {
  it('retries a 500 once and succeeds', async () => {
    iam.failNext(1, 500, action('AddUserToGroup'));
    await provider.grant(spec(groupTarget()));
    expect(iam.calls('AddUserToGroup').map((r) => r.status)).toEqual([500, 200]);
    expect(iam.account().isMember('ProdDB', 'alice@example.com')).toBe(true);
  });

  it('retries Throttling (HTTP 400) and ConcurrentModification', async () => {
    iam.failNext(1, { status: 400, code: 'Throttling', message: 'Rate exceeded' }, action('PutUserPolicy'));
    iam.failNext(1, { status: 409, code: 'ConcurrentModification', message: 'busy' }, action('PutUserPolicy'));
    await provider.grant(spec(policyTarget()));
    expect(iam.calls('PutUserPolicy').map((r) => r.status)).toEqual([400, 409, 200]);
  });

  it('surfaces a persistent 500 as ProviderError(transient=true) after the budget', async () => {
    iam.failWhen(action('RemoveUserFromGroup'), 500);
    const err = await provider.revoke(spec(groupTarget())).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ transient: true, status: 500 });
    expect(err.message).toMatch(/after 3 attempts/);
    expect(iam.calls('RemoveUserFromGroup')).toHaveLength(3);
  });

  it('surfaces a 403 as ProviderError(transient=false) without retrying', async () => {
    iam.failNext(1, 403, action('AddUserToGroup'));
    await expect(provider.grant(spec(groupTarget()))).rejects.toMatchObject({ transient: false, status: 403 });
    expect(iam.calls('AddUserToGroup')).toHaveLength(1);
  });

  it('retries a refused connection and then reports it as transient', async () => {
    const url = iam.url;
    await iam.close();
    const gone = makeProvider({ iamEndpoint: url, stsEndpoint: url });
    await expect(gone.grant(spec(groupTarget()))).rejects.toMatchObject({ transient: true, message: expect.stringMatching(/ECONNREFUSED/) });
    iam = await startIamServer(); // for afterEach
  });
});

describe('unknown outcomes and revokes not found', () => {
  it('a change made with its answer lost is an unknown outcome; an answer, even a 500, and a refused connection are not', async () => {
    iam.dropWhen(action('AddUserToGroup'), { apply: true });
    const lost = await provider.grant(spec(groupTarget())).catch((e) => e);
    expect(lost).toBeInstanceOf(ProviderError);
    expect(isOutcomeUnknown(lost)).toBe(true);
    expect(iam.calls('AddUserToGroup').map((r) => [r.status, r.errorCode])).toEqual(Array(fast.attempts).fill([undefined, 'ConnectionDropped']));
    expect(iam.account().isMember('ProdDB', 'alice@example.com')).toBe(true);

    iam.clearFailures();
    iam.failWhen(action('AddUserToGroup'), 500);
    expect(isOutcomeUnknown(await provider.grant(spec(groupTarget())).catch((e) => e))).toBe(false);
    iam.clearFailures();
    iam.failWhen(action('AddUserToGroup'), 403);
    expect(isOutcomeUnknown(await provider.grant(spec(groupTarget())).catch((e) => e))).toBe(false);
    const refused = makeProvider({ iamEndpoint: 'http://127.0.0.1:1' });
    expect(isOutcomeUnknown(await refused.grant(spec(groupTarget())).catch((e) => e))).toBe(false);
  });

  it('a revoke answered NoSuchEntity while the group still lists the user is not done', async () => {
    await provider.grant(spec(groupTarget()));
    iam.failWhen(action('RemoveUserFromGroup'), { status: 404, code: 'NoSuchEntity', message: 'The user with name alice@example.com cannot be found.' });
    const err = await provider.revoke(spec(groupTarget())).catch((e) => e);
    expect(err).toBeInstanceOf(RevokeIneffectiveError);
    expect(err).toMatchObject({ principal: 'alice@example.com', message: expect.stringMatching(/NoSuchEntity.*still lists alice@example.com/) });
    expect(iam.calls('GetGroup')).toHaveLength(1);
  });

  it("a user renamed while holding an inline policy: the revoke's NoSuchEntity is not taken as done; the listing finds the grant's policy under the new name, and it is removed there", async () => {
    await provider.grant(spec(policyTarget()));
    iam.account().renameUser('alice@example.com', 'alice.smith@example.com');
    await provider.revoke(spec(policyTarget()));
    expect(iam.account().userPolicyNames('alice.smith@example.com')).toEqual([]);
    expect(iam.calls('DeleteUserPolicy').map((r) => r.params['UserName'])).toEqual(['alice@example.com', 'alice.smith@example.com']);
  });

  it('a user renamed (UpdateUser) while holding a group grant is found by the UserId the grant returned, and removed under the new name', async () => {
    const applied = await provider.grant(spec(groupTarget()));
    const userId = iam.account().users.get('alice@example.com')!.UserId;
    expect(applied).toEqual({ principalId: userId });
    expect(userId).toMatch(/^AIDA/);
    const admin = new IAMClient({ region: 'us-east-1', endpoint: iam.url, credentials: iam.credentials, maxAttempts: 1 });
    await admin.send(new UpdateUserCommand({ UserName: 'alice@example.com', NewUserName: 'alice.smith' }));
    admin.destroy();
    expect(iam.account().isMember('ProdDB', 'alice.smith')).toBe(true);
    expect(await provider.listAccess('prod-logs', groupTarget())).toEqual([{ resource: 'prod-logs', principal: 'alice.smith', principalId: userId }]);

    await provider.revoke(spec(groupTarget(), { person: { email: 'alice@example.com', principalId: userId } }));
    expect(iam.account().members('ProdDB')).toEqual([]);
    expect(iam.calls('RemoveUserFromGroup').map((r) => r.params['UserName'])).toEqual(['alice@example.com', 'alice.smith']);
  });

  it('without the UserId (a grant from before it was kept) a renamed group member is not found by name: the revoke cannot tell', async () => {
    await provider.grant(spec(groupTarget()));
    iam.account().renameUser('alice@example.com', 'alice.smith');
    await provider.revoke(spec(groupTarget()));
    expect(iam.account().isMember('ProdDB', 'alice.smith')).toBe(true);
  });

  it('UpdateUser at the test server is checked against the IAM model and refuses a name taken (without case)', async () => {
    iam.account().addUser('Bob');
    const admin = new IAMClient({ region: 'us-east-1', endpoint: iam.url, credentials: iam.credentials, maxAttempts: 1 });
    await expect(admin.send(new UpdateUserCommand({ UserName: 'alice@example.com', NewUserName: 'bob' }))).rejects.toMatchObject({ name: 'EntityAlreadyExistsException' });
    await expect(admin.send(new UpdateUserCommand({ UserName: 'alice@example.com', NewUserName: 'has space' }))).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(admin.send(new UpdateUserCommand({ UserName: 'nobody', NewUserName: 'x' }))).rejects.toMatchObject({ name: 'NoSuchEntityException' });
    admin.destroy();
  });
});

describe('ending role sessions (session_role_arn)', () => {
  const SESSION_ROLE = 'arn:aws:iam::111111111111:role/prod-operator';
  const withRole = (endSessions = true): GrantTarget => ({ kind: 'aws_iam_group', groupName: 'ProdDB', sessionRoleArn: SESSION_ROLE, endSessions });
  const clients: Array<{ destroy(): void }> = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });

  /** A person's session of the role, named after their IAM user as the role's trust policy requires; its calls say whether it still works. */
  async function openSession(sessionName: string): Promise<() => Promise<string>> {
    const sts = new STSClient({ region: 'us-east-1', endpoint: iam.url, credentials: iam.credentials, maxAttempts: 1 });
    clients.push(sts);
    const { Credentials: c } = await sts.send(new AssumeRoleCommand({ RoleArn: SESSION_ROLE, RoleSessionName: sessionName }));
    const asSession = new IAMClient({
      region: 'us-east-1',
      endpoint: iam.url,
      maxAttempts: 1,
      credentials: { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken! },
    });
    clients.push(asSession);
    return () => asSession.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['User'] })).then(() => 'works', (e: Error) => e.name);
  }

  beforeEach(() => iam.addRole(SESSION_ROLE));

  it("denies the person's sessions of the role opened before the revoke, and nobody else's, and says so", async () => {
    iam.account().addUser('bob@example.com');
    await provider.grant(spec(withRole()));
    const alices = await openSession('alice@example.com');
    const bobs = await openSession('bob@example.com');
    expect(await alices()).toBe('works');

    const outcome = await provider.revoke(spec(withRole()));
    expect(iam.account().isMember('ProdDB', 'alice@example.com')).toBe(false);
    expect(outcome).toEqual({ sessionsEnded: { ended: null, effectiveAt: expect.any(Date), method: 'aws:TokenIssueTime deny on role prod-operator' } });
    expect(await alices()).toBe('AccessDenied');
    expect(await bobs()).toBe('works');

    const [name] = iam.account().rolePolicyNames('prod-operator');
    expect(name).toMatch(/^breakglass-ended-\d+-alice@example.com$/);
    expect(iam.account().rolePolicy('prod-operator', name!)!.Statement).toEqual([
      {
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:TokenIssueTime': expect.stringMatching(/Z$/) }, StringLike: { 'aws:userid': '*:alice@example.com' } },
      },
    ]);
    // A session opened after the revoke (a later grant's) works.
    const effective = (outcome as { sessionsEnded: { effectiveAt: Date } }).sessionsEnded.effectiveAt.getTime();
    await new Promise((r) => setTimeout(r, Math.max(0, effective - Date.now() + 20)));
    expect(await (await openSession('alice@example.com'))()).toBe('works');
  });

  it('leaves sessions alone with end_sessions: false, and without session_role_arn', async () => {
    await provider.grant(spec(withRole(false)));
    const alices = await openSession('alice@example.com');
    expect(await provider.revoke(spec(withRole(false)))).toBeUndefined();
    await provider.grant(spec(groupTarget()));
    expect(await provider.revoke(spec(groupTarget()))).toBeUndefined();
    expect(await alices()).toBe('works');
    expect(iam.calls('PutRolePolicy')).toHaveLength(0);
  });

  it('lifts its denies once no session they deny can still be valid (12 hours), not before', async () => {
    let offsetMs = 0;
    const p = makeProvider({ clock: { now: () => new Date(Date.now() + offsetMs) } });
    await p.revoke(spec(withRole()));
    offsetMs = 11 * 3_600_000;
    await p.revoke(spec(withRole(), { person: { email: 'bob@example.com' } }));
    expect(iam.account().rolePolicyNames('prod-operator')).toHaveLength(2);
    offsetMs = 12 * 3_600_000 + 5_000;
    await p.revoke(spec(withRole(), { person: { email: 'carol@example.com' } }));
    expect(iam.account().rolePolicyNames('prod-operator').map((n) => n.replace(/^breakglass-ended-\d+-/, ''))).toEqual(['bob@example.com', 'carol@example.com']);
  });

  it('reads session_role_arn and end_sessions from access.yml, on by default, and refuses end_sessions without a role on its line', () => {
    const yml = (grant: string) => `security_channel: C0SEC\nresources:\n  prod-ops:\n    grant: ${grant}\n    max_duration: 1h\n    approvers: { slack_users: [U0BOB] }\n`;
    expect(parseAccessConfig(yml(`{ aws_iam_group: ProdDB, session_role_arn: "${SESSION_ROLE}" }`)).resources['prod-ops']!.grant).toEqual(withRole());
    expect(parseAccessConfig(yml(`{ aws_iam_group: ProdDB, session_role_arn: "${SESSION_ROLE}", end_sessions: false }`)).resources['prod-ops']!.grant).toEqual(withRole(false));
    expect(parseAccessConfig(yml('{ aws_iam_group: ProdDB }')).resources['prod-ops']!.grant).toEqual(groupTarget());
    const problems = (() => {
      try {
        parseAccessConfig(yml('{ aws_iam_group: ProdDB, end_sessions: true }'), 'access.yml');
      } catch (error) {
        return (error as AccessConfigError).problems;
      }
      return [];
    })();
    expect(problems).toEqual([expect.objectContaining({ line: 4, path: 'resources.prod-ops.grant.end_sessions', message: expect.stringMatching(/end_sessions needs session_role_arn/) })]);
    expect(() => parseAccessConfig(yml(`{ aws_iam_group: ProdDB, session_role_arn: "${SESSION_ROLE}", account_role_arn: "${ROLE_B}" }`))).toThrow(
      /session_role_arn: session_role_arn must be a role of account 222222222222, where account_role_arn manages this access/,
    );
  });

  it('says in the policy document whether role sessions end at revoke, and how long they can outlive the grant when not', () => {
    expect(describeGrant(withRole())).toBe(
      'membership of AWS IAM group `ProdDB`; at revoke, the person’s sessions of role `arn:aws:iam::111111111111:role/prod-operator` issued before it are denied (an `aws:TokenIssueTime` deny on the role, AWS’s “revoke older sessions”)',
    );
    expect(describeGrant(withRole(false))).toMatch(/role sessions of `arn:aws:iam::111111111111:role\/prod-operator` assumed with this access are not ended and can outlive the grant by up to the role’s maximum session duration \(1 h by default, at most 12 h\)$/);
    expect(describeGrant(policyTarget())).toMatch(/so AWS itself ends the access; requests with the IAM user’s own keys stop at revoke, but role sessions assumed/);
  });

  it("asks for the role-policy actions on the session role only", () => {
    const doc = minimalIamPolicy([{ name: 'ops', target: withRole() }, { name: 'db', target: groupTarget() }]);
    expect(doc.Statement).toContainEqual({ Sid: 'BreakglassEndRoleSessions', Effect: 'Allow', Action: ['iam:DeleteRolePolicy', 'iam:ListRolePolicies', 'iam:PutRolePolicy'], Resource: [SESSION_ROLE] });
    expect(minimalIamPolicy([{ name: 'ops', target: withRole(false) }]).Statement.map((s) => s['Sid'])).not.toContain('BreakglassEndRoleSessions');
  });
});

describe('account role (STS AssumeRole)', () => {
  beforeEach(() => {
    iam.addRole(ROLE_B);
    iam.account('222222222222').addUser('alice@example.com');
    iam.account('222222222222').addGroup('ProdDB');
  });

  it('acts in the role account with the assumed credentials', async () => {
    await provider.grant(spec(groupTarget(ROLE_B)));
    expect(iam.account('222222222222').isMember('ProdDB', 'alice@example.com')).toBe(true);
    expect(iam.account().isMember('ProdDB', 'alice@example.com')).toBe(false);

    const [assume] = iam.calls('AssumeRole');
    expect(assume?.service).toBe('sts');
    expect(assume?.accessKeyId).toBe(iam.credentials.accessKeyId);
    expect(assume?.params['RoleArn']).toBe(ROLE_B);
    const [add] = iam.calls('AddUserToGroup');
    expect(add?.accessKeyId).toMatch(/^ASIA/);
    expect(add?.accessKeyId).not.toBe(iam.credentials.accessKeyId);
    expect(add?.sessionToken).toBeTruthy();
    expect(add?.account).toBe('222222222222');
  });

  it('caches the assumed credentials until shortly before they expire', async () => {
    await provider.grant(spec(groupTarget(ROLE_B)));
    await provider.grant(spec(policyTarget(ROLE_B)));
    await provider.listAccess('prod-logs', groupTarget(ROLE_B));
    expect(iam.calls('AssumeRole')).toHaveLength(1);
    const keys = new Set(iam.requests.filter((r) => r.service === 'iam').map((r) => r.accessKeyId));
    expect(keys.size).toBe(1);
  });

  // The SDK memoizes credentials on the real clock and asks the provider again only within 5
  // minutes of expiry; a short session is inside that window at once, which exercises the refresh.
  it('assumes the role again before the session ends, but not once per request', async () => {
    iam.addRole(ROLE_B, { sessionSeconds: 120 });
    let offsetMs = 0;
    const p = makeProvider({ clock: { now: () => new Date(Date.now() + offsetMs) } });
    await p.grant(spec(groupTarget(ROLE_B)));
    await p.revoke(spec(groupTarget(ROLE_B)));
    expect(iam.calls('AssumeRole')).toHaveLength(1);
    offsetMs = 61_000;
    await p.grant(spec(groupTarget(ROLE_B)));
    expect(iam.calls('AssumeRole')).toHaveLength(2);
  });

  it('fails for good when the role may not be assumed, without touching IAM', async () => {
    const other = 'arn:aws:iam::333333333333:role/not-trusted';
    const err = await provider.grant(spec(groupTarget(other))).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ transient: false, status: 403 });
    expect(err.message).toMatch(/not authorized to perform: sts:AssumeRole/);
    expect(iam.calls('AddUserToGroup')).toHaveLength(0);
    expect(iam.calls('AssumeRole')).toHaveLength(1);
  });
});

describe('checkIdentity', () => {
  it('returns who the credentials are', async () => {
    await expect(provider.checkIdentity()).resolves.toEqual({
      account: '111111111111',
      arn: 'arn:aws:iam::111111111111:user/breakglass-bot',
      userId: expect.stringMatching(/^AIDA/),
    });
  });

  it('says clearly when the secret is wrong', async () => {
    const bad = makeProvider({ credentials: { accessKeyId: iam.credentials.accessKeyId, secretAccessKey: 'wrong' } });
    const err = await bad.checkIdentity().catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.message).toMatch(/^AWS credentials not usable: The request signature we calculated does not match/);
    expect(err.transient).toBe(false);
  });

  it('says clearly when the key is unknown', async () => {
    const bad = makeProvider({ credentials: { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x' } });
    await expect(bad.checkIdentity()).rejects.toThrow(/^AWS credentials not usable: The security token included in the request is invalid/);
  });
});

describe('SDK defaults', () => {
  it('honours AWS_ENDPOINT_URL_IAM / _STS and the credential chain when nothing is passed', async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, {
        AWS_ENDPOINT_URL_IAM: iam.url,
        AWS_ENDPOINT_URL_STS: iam.url,
        AWS_ACCESS_KEY_ID: iam.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: iam.credentials.secretAccessKey,
      });
      delete process.env['AWS_SESSION_TOKEN'];
      delete process.env['AWS_PROFILE'];
      const p = new AwsIamProvider({ retry: fast });
      providers.push(p);
      await expect(p.checkIdentity()).resolves.toMatchObject({ account: '111111111111' });
      await p.grant(spec(groupTarget()));
      expect(iam.account().isMember('ProdDB', 'alice@example.com')).toBe(true);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('supports only the AWS target kinds', () => {
    expect(provider.supports(groupTarget())).toBe(true);
    expect(provider.supports(policyTarget())).toBe(true);
    expect(provider.supports({ kind: 'okta_group', groupId: 'g' })).toBe(false);
  });
});

describe('the IAM test server itself', () => {
  it('answers ValidationError when a required member is missing (botocore model)', async () => {
    const client = new IAMClient({ region: 'us-east-1', endpoint: iam.url, credentials: iam.credentials, maxAttempts: 1 });
    try {
      const err = await client.send(new AddUserToGroupCommand({ GroupName: 'ProdDB' } as never)).catch((e) => e);
      expect(err).toMatchObject({ name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
      expect(err.message).toMatch(/'userName' failed to satisfy constraint: Member must not be null/);
      const bad = await client.send(new AddUserToGroupCommand({ GroupName: 'Prod DB', UserName: 'a' })).catch((e) => e);
      expect(bad.message).toMatch(/regular expression pattern/);
    } finally {
      client.destroy();
    }
  });

  it('checks GetAccountAuthorizationDetails\'s Filter against the model\'s EntityType values', async () => {
    const { GetAccountAuthorizationDetailsCommand } = await import('@aws-sdk/client-iam');
    const client = new IAMClient({ region: 'us-east-1', endpoint: iam.url, credentials: iam.credentials, maxAttempts: 1 });
    try {
      const err = await client.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Users' as never] })).catch((e) => e);
      expect(err).toMatchObject({ name: 'ValidationError', message: expect.stringMatching(/Member must satisfy enum value set: \[User, Role, Group/) });
      const bad = await client.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['User'], MaxItems: 5000 })).catch((e) => e);
      expect(bad.message).toMatch(/must have value between 1 and 1000/);
      const ok = await client.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['User'] }));
      expect(ok.UserDetailList?.map((u) => [u.UserName, u.GroupList])).toEqual([['alice@example.com', []]]);
    } finally {
      client.destroy();
    }
  });

  it('validates against botocore\'s model, which requires these members of the operations breakglass calls', () => {
    const model = loadIamModel();
    const expected: Record<string, string[]> = {
      AddUserToGroup: ['GroupName', 'UserName'],
      RemoveUserFromGroup: ['GroupName', 'UserName'],
      GetGroup: ['GroupName'],
      PutUserPolicy: ['UserName', 'PolicyName', 'PolicyDocument'],
      DeleteUserPolicy: ['UserName', 'PolicyName'],
      GetUserPolicy: ['UserName', 'PolicyName'],
      ListUserPolicies: ['UserName'],
      GetAccountAuthorizationDetails: [],
      PutRolePolicy: ['RoleName', 'PolicyName', 'PolicyDocument'],
    };
    for (const [op, required] of Object.entries(expected)) {
      const shape = model.shapes[model.operations[op]!.input!.shape]!;
      expect((shape.required ?? []).slice().sort(), op).toEqual(required.slice().sort());
    }
  });
});

describe('ProviderRegistry', () => {
  it('routes each target kind to the provider that supports it', () => {
    const oktaProvider = new OktaProvider({ orgUrl: 'https://example.okta.com', token: 't' });
    const registry = new ProviderRegistry([oktaProvider, provider]);
    expect(registry.forTarget({ kind: 'okta_group', groupId: 'g' })).toBe(oktaProvider);
    expect(registry.forTarget(groupTarget())).toBe(provider);
    expect(registry.forTarget(policyTarget(ROLE_B))).toBe(provider);
  });

  it('names the missing configuration when no provider supports a target', () => {
    const registry = new ProviderRegistry([provider]);
    const err = (() => {
      try {
        registry.forTarget({ kind: 'okta_group', groupId: 'g' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(NoProviderError);
    expect(err).toMatchObject({ transient: false, message: expect.stringMatching(/okta_group.*OKTA_ORG_URL and OKTA_API_TOKEN/) });
    expect(registry.has({ kind: 'okta_group', groupId: 'g' })).toBe(false);
  });
});
