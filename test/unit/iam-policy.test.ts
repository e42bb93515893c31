import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AccessConfigError, parseAccessConfig } from '../../src/config/access.ts';
import type { GrantTarget, IamPolicyDocument } from '../../src/ports.ts';
import { identityCenterStatements } from '../../src/providers/aws-sso/iam-policy.ts';
import {
  grantPolicyDocument,
  grantPolicyName,
  iamTimestamp,
  minimalIamPolicy,
  policyProblems,
  policySize,
  readGrantPolicy,
} from '../../src/providers/aws-iam/iam-policy.ts';

const s3Read: IamPolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::prod-logs/*' },
    { Sid: 'Configured', Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::prod-logs' },
  ],
};
const expiresAt = new Date('2026-03-04T05:06:07.890Z');

describe('grantPolicyDocument', () => {
  it('ends every statement at the expiry with DateLessThan aws:CurrentTime', () => {
    const doc = grantPolicyDocument({ grantId: 'g1', policy: s3Read, expiresAt });
    expect(doc.Statement).toHaveLength(2);
    for (const s of doc.Statement) {
      expect(s['Condition']).toEqual({ DateLessThan: { 'aws:CurrentTime': '2026-03-04T05:06:07Z' } });
    }
    expect(doc.Version).toBe('2012-10-17');
    expect(doc.Statement[0]).toMatchObject({ Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::prod-logs/*' });
  });

  it('keeps the conditions a statement already has', () => {
    const policy: IamPolicyDocument = {
      Statement: [
        {
          Effect: 'Allow',
          Action: 'rds-db:connect',
          Resource: '*',
          Condition: { StringEquals: { 'aws:RequestedRegion': 'eu-west-1' }, DateLessThan: { 'aws:EpochTime': '1900000000' } },
        },
      ],
    };
    const [s] = grantPolicyDocument({ grantId: 'g1', policy, expiresAt }).Statement;
    expect(s!['Condition']).toEqual({
      StringEquals: { 'aws:RequestedRegion': 'eu-west-1' },
      DateLessThan: { 'aws:EpochTime': '1900000000', 'aws:CurrentTime': '2026-03-04T05:06:07Z' },
    });
  });

  it('keeps an earlier deadline the statement already had, and replaces a later one', () => {
    const withDeadline = (d: string): IamPolicyDocument => ({
      Statement: [{ Effect: 'Allow', Action: 'a:b', Resource: '*', Condition: { DateLessThan: { 'AWS:CurrentTime': d } } }],
    });
    const earlier = grantPolicyDocument({ grantId: 'g', policy: withDeadline('2026-01-01T00:00:00Z'), expiresAt }).Statement[0]!;
    expect(earlier['Condition']).toEqual({ DateLessThan: { 'aws:CurrentTime': '2026-01-01T00:00:00Z' } });
    const later = grantPolicyDocument({ grantId: 'g', policy: withDeadline('2030-01-01T00:00:00Z'), expiresAt }).Statement[0]!;
    expect(later['Condition']).toEqual({ DateLessThan: { 'aws:CurrentTime': '2026-03-04T05:06:07Z' } });
  });

  it('gives unique alphanumeric Sids, replacing configured ones, and leaves the input alone', () => {
    const before = JSON.stringify(s3Read);
    const doc = grantPolicyDocument({ grantId: '7f1c2b9e-0d4a-4e55-9a0b-1234567890ab', policy: s3Read, expiresAt });
    const sids = doc.Statement.map((s) => s['Sid'] as string);
    expect(new Set(sids).size).toBe(sids.length);
    for (const sid of sids) expect(sid).toMatch(/^bg[0-9A-Za-z]+$/);
    expect(sids).not.toContain('Configured');
    expect(JSON.stringify(s3Read)).toBe(before);
  });

  it('refuses a policy without statements', () => {
    expect(() => grantPolicyDocument({ grantId: 'g', policy: { Statement: [] }, expiresAt })).toThrow(/no Statement/);
  });
});

describe('readGrantPolicy', () => {
  it.each(['7f1c2b9e-0d4a-4e55-9a0b-1234567890ab', '12345', 'abcXYZ', 'grant_42', 'req:9/é'])('round-trips grant id %s', (grantId) => {
    const doc = grantPolicyDocument({ grantId, policy: s3Read, expiresAt });
    expect(readGrantPolicy(JSON.stringify(doc))).toEqual({ grantId, expiresAt: new Date('2026-03-04T05:06:07Z') });
  });

  it('round-trips any grant id', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (grantId) => {
        const doc = grantPolicyDocument({ grantId, policy: s3Read, expiresAt });
        return readGrantPolicy(doc).grantId === grantId;
      }),
    );
  });

  it('finds nothing in a policy breakglass did not write', () => {
    expect(readGrantPolicy(JSON.stringify(s3Read))).toEqual({});
    expect(readGrantPolicy('not json')).toEqual({});
  });
});

describe('grantPolicyName and policySize', () => {
  it('names the policy after the resource, in characters IAM accepts', () => {
    expect(grantPolicyName('prod-db')).toBe('breakglass-prod-db');
    expect(grantPolicyName('prod db/replica')).toBe('breakglass-prod-db-replica');
    expect(grantPolicyName('x'.repeat(300))).toHaveLength(128);
  });

  it('measures without whitespace, as IAM does', () => {
    expect(policySize('{ "a" : [ 1, 2 ] }')).toBe('{"a":[1,2]}'.length);
  });

  it('formats IAM timestamps to the second', () => {
    expect(iamTimestamp(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05Z');
  });
});

describe('minimalIamPolicy', () => {
  const group = (groupName: string, accountRoleArn?: string): GrantTarget => ({ kind: 'aws_iam_group', groupName, ...(accountRoleArn ? { accountRoleArn } : {}) });
  const inline = (accountRoleArn?: string): GrantTarget => ({ kind: 'aws_iam_policy', policy: s3Read, ...(accountRoleArn ? { accountRoleArn } : {}) });
  const roleB = 'arn:aws:iam::222222222222:role/breakglass-manager';

  it('grants group membership actions on the configured groups only', () => {
    const doc = minimalIamPolicy([
      { name: 'prod-db', target: group('ProdDB') },
      { name: 'prod-db-2', target: group('ProdDB') },
      { name: 'billing', target: group('Billing') },
      { name: 'okta', target: { kind: 'okta_group', groupId: '00g1' } },
    ]);
    expect(doc).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'BreakglassGroupMembership',
          Effect: 'Allow',
          Action: ['iam:AddUserToGroup', 'iam:GetGroup', 'iam:RemoveUserFromGroup'],
          Resource: ['arn:aws:iam::*:group/Billing', 'arn:aws:iam::*:group/ProdDB'],
        },
        { Sid: 'BreakglassReadUserIds', Effect: 'Allow', Action: 'iam:GetUser', Resource: 'arn:aws:iam::*:user/*' },
      ],
    });
  });

  it('grants inline-policy actions on users and GetAccountAuthorizationDetails (the listing) for aws_iam_policy resources', () => {
    const doc = minimalIamPolicy([{ name: 'logs', target: inline() }]);
    const actions = doc.Statement.flatMap((s) => s['Action'] as string[] | string);
    expect(actions.sort()).toEqual(['iam:DeleteUserPolicy', 'iam:GetAccountAuthorizationDetails', 'iam:GetUser', 'iam:PutUserPolicy']);
    const userStmt = doc.Statement.find((s) => s['Sid'] === 'BreakglassInlineUserPolicies');
    expect(userStmt?.['Resource']).toBe('arn:aws:iam::*:user/*');
  });

  it('needs only sts:AssumeRole for resources behind an account role, and nothing for Okta', () => {
    const resources = [
      { name: 'a', target: group('Admins', roleB) },
      { name: 'b', target: inline(roleB) },
    ];
    expect(minimalIamPolicy(resources).Statement).toEqual([
      { Sid: 'BreakglassAssumeAccountRoles', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: [roleB] },
    ]);
    expect(minimalIamPolicy([{ name: 'o', target: { kind: 'okta_group', groupId: '00g' } }]).Statement).toEqual([]);
  });

  it('describes what an account role needs, in its own account', () => {
    const doc = minimalIamPolicy(
      [
        { name: 'a', target: group('Admins', roleB) },
        { name: 'b', target: inline(roleB) },
        { name: 'c', target: group('Elsewhere') },
      ],
      { forRoleArn: roleB },
    );
    const resources = doc.Statement.flatMap((s) => s['Resource'] as string[] | string);
    expect(resources).toContain('arn:aws:iam::222222222222:group/Admins');
    expect(resources).toContain('arn:aws:iam::222222222222:user/*');
    expect(resources.join(' ')).not.toMatch(/Elsewhere|sts:|role\//);
    expect(doc.Statement.map((s) => s['Action']).flat()).not.toContain('sts:AssumeRole');
  });

  it('never asks for wildcard actions', () => {
    const doc = minimalIamPolicy([
      { name: 'a', target: group('G') },
      { name: 'b', target: inline() },
      { name: 'c', target: inline(roleB) },
    ]);
    for (const a of doc.Statement.flatMap((s) => s['Action'] as string[] | string)) expect(a).not.toContain('*');
  });
});

describe('policies IAM would refuse are refused when access.yml loads', () => {
  const accessYml = (policyYaml: string) => `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00g1 }
    max_duration: 4h
    approvers: { slack_users: [U0DBA1] }
  prod-logs:
    grant:
      aws_iam_policy:
${policyYaml}
    max_duration: 1h
    approvers: { slack_users: [U0DBA1] }
`;
  const problemsOf = (policyYaml: string) => {
    try {
      parseAccessConfig(accessYml(policyYaml), 'access.yml');
    } catch (error) {
      expect(error).toBeInstanceOf(AccessConfigError);
      return (error as AccessConfigError).problems;
    }
    throw new Error('expected access.yml to be refused');
  };

  it('accepts a policy IAM accepts', () => {
    const config = parseAccessConfig(
      accessYml(`        Statement:
          - { Effect: Allow, Action: [s3:GetObject, "s3:List*"], Resource: "arn:aws:s3:::prod-logs/*" }
          - { Effect: Deny, NotAction: "*", NotResource: "arn:aws:s3:::prod-logs" }`),
    );
    expect(config.resources['prod-logs']!.grant).toMatchObject({ kind: 'aws_iam_policy' });
  });

  it('refuses a statement without Resource, naming the resource and the line of the statement', () => {
    const problems = problemsOf(`        Statement:
          - Effect: Allow
            Action: s3:GetObject
            Resource: "*"
          - Effect: Allow
            Action: s3:ListBucket`);
    expect(problems).toEqual([
      expect.objectContaining({ path: 'resources.prod-logs.grant.aws_iam_policy.Statement.1', line: 14, message: expect.stringMatching(/needs Resource \(or NotResource\)/) }),
    ]);
  });

  it('refuses an action without its service prefix, on the line of that action', () => {
    const problems = problemsOf(`        Statement:
          - Effect: Allow
            Action:
              - s3:GetObject
              - GetObject
            Resource: "*"`);
    expect(problems).toEqual([
      expect.objectContaining({ path: 'resources.prod-logs.grant.aws_iam_policy.Statement.0.Action.1', line: 14, message: expect.stringMatching(/"GetObject" is not an IAM action: write it with its service prefix, like s3:GetObject/) }),
    ]);
  });

  it('refuses an unknown Effect', () => {
    const problems = problemsOf(`        Statement:
          - { Effect: Permit, Action: s3:GetObject, Resource: "*" }`);
    expect(problems).toEqual([expect.objectContaining({ path: 'resources.prod-logs.grant.aws_iam_policy.Statement.0.Effect', line: 11, message: expect.stringMatching(/Effect must be Allow or Deny, not "Permit"/) })]);
  });

  it('refuses a policy that fits alone but not with the Sids and expiry conditions a grant adds', () => {
    // 9 statements of ~200 characters: under 2,048 as written, over it once each gains its Sid and DateLessThan.
    const statement = (i: number) => ({ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::bucket-${i}-${'x'.repeat(130)}/*` });
    const statements = Array.from({ length: 9 }, (_, i) => statement(i));
    expect(policySize(JSON.stringify({ Statement: statements }))).toBeLessThan(2048);
    const problems = problemsOf(`        Statement:\n${statements.map((s) => `          - ${JSON.stringify(s)}`).join('\n')}`);
    expect(problems).toEqual([
      expect.objectContaining({ path: 'resources.prod-logs.grant.aws_iam_policy', line: 9, message: expect.stringMatching(/this policy is \d{4} characters \(whitespace not counted\); IAM allows 2048 per user/) }),
    ]);
  });

  it('sizes the document a grant really writes', () => {
    const fits = { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'y'.repeat(1800)}` }] };
    const grown = policySize(JSON.stringify(grantPolicyDocument({ grantId: '7f1c2b9e-0d4a-4e55-9a0b-1234567890ab', policy: fits, expiresAt })));
    expect(grown).toBeLessThanOrEqual(2048);
    expect(policyProblems(fits)).toEqual([]);
    const over = { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${'y'.repeat(2048 - grown + 1800 + 1)}` }] };
    expect(policyProblems(over)).toEqual([expect.objectContaining({ path: [] })]);
  });
});

describe('the IAM Identity Center policy in the README', () => {
  it('is what `iam-policy` prints for one permission set in one account', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const at = readme.indexOf('"Sid": "BreakglassFindInstance"');
    const block = readme.slice(readme.lastIndexOf('```json', at) + '```json'.length, readme.indexOf('```', at));
    const target: GrantTarget = { kind: 'aws_sso_assignment', permissionSetArn: 'arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef', accountId: '123456789012', endSessions: true };
    expect(JSON.parse(block)).toEqual({ Version: '2012-10-17', Statement: identityCenterStatements([{ target }]) });
  });
});
