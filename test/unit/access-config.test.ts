import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AccessConfigError, parseAccessConfig } from '../../src/config/access.ts';

const valid = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00g1 }
    max_duration: 4h
    approvers: { slack_users: [U0DBA1] }
`;

function problemsOf(text: string) {
  try {
    parseAccessConfig(text, 'access.yml');
  } catch (error) {
    expect(error).toBeInstanceOf(AccessConfigError);
    return (error as AccessConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('access.yml', () => {
  it('accepts the shipped example as it is: only the resource granted by hand, which needs no provider credentials', () => {
    const config = parseAccessConfig(readFileSync(new URL('../../access.example.yml', import.meta.url), 'utf8'));
    expect(Object.keys(config.resources)).toEqual(['figma-admin']);
    expect(config.resources['figma-admin']!.grant).toEqual({ kind: 'manual', system: 'Figma admin', owners: { slackUsers: ['U0DESIGNLEAD'], slackUsergroup: 'S0DESIGNOPS' } });
  });

  it('accepts the shipped example with its commented-out resources restored, which covers every option', () => {
    const text = readFileSync(new URL('../../access.example.yml', import.meta.url), 'utf8').replace(/^#(\s{2}.*)$/gm, '$1');
    const config = parseAccessConfig(text);
    expect(Object.keys(config.resources)).toEqual(['figma-admin', 'prod-db', 'prod-admin', 'prod-logs', 'prod-sso-admin']);
    expect(config.reviews.scope).toEqual(['prod-db', 'prod-admin']);
    expect(config.resources['prod-logs']!.grant).toMatchObject({ kind: 'aws_iam_policy', accountRoleArn: expect.stringContaining(':role/') });
    expect(config.resources['prod-admin']!.approvals_required).toBe(2);
  });

  it('fills the defaults', () => {
    const config = parseAccessConfig(valid);
    const db = config.resources['prod-db']!;
    expect(db).toMatchObject({ max_duration: 4 * 3_600_000, approvals_required: 1, emergency_self_grant: false, request_ttl: 3_600_000 });
    expect(db.grant).toEqual({ kind: 'okta_group', groupId: '00g1' });
    expect(config.reviews.manager_attribute).toBe('managerId');
    expect(config.offboarding.sla).toBe(24 * 3_600_000);
  });

  it('reads remind_before: 10m unless said otherwise, per resource or for all; a wrong one is named', () => {
    expect(parseAccessConfig(valid).remind_before).toBe(10 * 60_000);
    expect(parseAccessConfig(`remind_before: 5m\n${valid}    remind_before: 30m\n`)).toMatchObject({ remind_before: 5 * 60_000, resources: { 'prod-db': { remind_before: 30 * 60_000 } } });
    expect(problemsOf(`${valid}    remind_before: soon\n`)).toEqual([expect.objectContaining({ path: 'resources.prod-db.remind_before', line: 7, message: expect.stringMatching(/"soon" is not a duration/) })]);
  });

  it('names an unknown key with its line and the key it probably meant', () => {
    const problems = problemsOf(valid.replace('    max_duration: 4h', '    max_duraton: 4h'));
    expect(problems).toContainEqual(
      expect.objectContaining({ line: 5, path: 'resources.prod-db.max_duraton', message: expect.stringContaining('did you mean "max_duration"') }),
    );
  });

  it('explains a bad duration on its line', () => {
    const [problem] = problemsOf(valid.replace('max_duration: 4h', 'max_duration: 4 hours'));
    expect(problem).toMatchObject({ line: 5, path: 'resources.prod-db.max_duration' });
    expect(problem!.message).toMatch(/"4 hours" is not a duration; write it like 30m, 2h/);
  });

  it('demands approvers, pointing at the resource', () => {
    const problems = problemsOf(valid.replace('    approvers: { slack_users: [U0DBA1] }\n', ''));
    expect(problems).toEqual([expect.objectContaining({ line: 3, path: 'resources.prod-db.approvers', message: expect.stringMatching(/missing; approvers is required/) })]);
  });

  it('refuses approvals_required beyond the listed approvers', () => {
    const [problem] = problemsOf(valid.replace('approvers: { slack_users: [U0DBA1] }', 'approvers: { slack_users: [U0DBA1] }\n    approvals_required: 2'));
    expect(problem).toMatchObject({ path: 'resources.prod-db.approvals_required', line: 7 });
    expect(problem!.message).toMatch(/2 approvals are required but only 1/);
  });

  it('refuses a review scope naming an unknown resource, on the line of that entry', () => {
    const [problem] = problemsOf(`${valid}reviews:\n  scope:\n    - prod-db\n    - prod-dbb\n`);
    expect(problem).toMatchObject({ line: 10, path: 'reviews.scope.1' });
    expect(problem!.message).toMatch(/"prod-dbb", which is not a resource; known resources: prod-db/);
  });

  it('refuses a review scope naming what every object inherits (constructor, toString, __proto__)', () => {
    const problems = problemsOf(`${valid}reviews:\n  scope: [constructor, toString, __proto__]\n`);
    expect(problems.map((p) => p.path)).toEqual(['reviews.scope.0', 'reviews.scope.1', 'reviews.scope.2']);
  });

  it('refuses a resource named __proto__ instead of dropping it, on its line', () => {
    const [problem] = problemsOf(`${valid}  __proto__:\n    grant: { okta_group: 00g2 }\n    max_duration: 1h\n    approvers: { slack_users: [U0DBA1] }\n`);
    expect(problem).toMatchObject({ path: 'resources.__proto__', line: 7 });
    expect(problem!.message).toMatch(/cannot be used as a name/);
  });

  it('looks resources up by what access.yml defines, never by what objects inherit', () => {
    const config = parseAccessConfig(`${valid}  constructor:\n    grant: { okta_group: 00g2 }\n    max_duration: 1h\n    approvers: { slack_users: [U0DBA1] }\n`);
    expect(Object.keys(config.resources)).toEqual(['prod-db', 'constructor']);
    expect(config.resources['toString']).toBeUndefined();
    expect('hasOwnProperty' in config.resources).toBe(false);
    expect(config.people['constructor']).toBeUndefined();
  });

  it('reports YAML syntax errors with their line', () => {
    const [problem] = problemsOf(`${valid}  bad: [unclosed\n`);
    expect(problem!.message).toMatch(/^YAML syntax/);
    expect(problem!.line).toBeGreaterThanOrEqual(7);
  });

  it('asks for exactly one way to grant', () => {
    const [problem] = problemsOf(valid.replace('grant: { okta_group: 00g1 }', 'grant: { okta_group: 00g1, aws_iam_group: Admins }'));
    expect(problem).toMatchObject({ path: 'resources.prod-db.grant', line: 4 });
    expect(problem!.message).toMatch(/give only one of okta_group, aws_iam_group/);
  });

  it('formats every problem as file:line:column with the path', () => {
    try {
      parseAccessConfig(valid.replace('C0SEC', 'security'), 'conf/access.yml');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/conf\/access\.yml:1:\d+ security_channel: a Slack channel id looks like C012ABCDEF/);
    }
  });
});
