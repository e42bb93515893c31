import { describe, expect, it } from 'vitest';
import { AccessConfigError, parseAccessConfig } from '../../src/config/access.ts';
import { renderPolicy } from '../../src/reports/policy/policy-doc.ts';

const withApprovers = (approvers: string, extra = '') => `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00g1 }
    max_duration: 4h
    approvers: ${approvers}
${extra}`;

function problemsOf(text: string) {
  try {
    parseAccessConfig(text, 'access.yml');
  } catch (error) {
    expect(error).toBeInstanceOf(AccessConfigError);
    return (error as AccessConfigError).problems;
  }
  throw new Error('expected the config to be refused');
}

describe('access.yml approvers.channel', () => {
  it('accepts a channel alone, or beside users and a user group', () => {
    expect(parseAccessConfig(withApprovers('{ channel: C0DBA }')).resources['prod-db']!.approvers).toEqual({ channel: 'C0DBA' });
    expect(parseAccessConfig(withApprovers('{ slack_users: [U0BOB], slack_usergroup: S0DBA, channel: G0PRIVATE }')).resources['prod-db']!.approvers).toEqual({
      slack_users: ['U0BOB'],
      slack_usergroup: 'S0DBA',
      channel: 'G0PRIVATE',
    });
  });

  it('refuses what is no channel id, on its line, saying what one looks like', () => {
    for (const bad of ['D0DIRECT', '#dba', 'c0dba', 'U0BOB']) {
      const problems = problemsOf(withApprovers(`{ slack_users: [U0BOB], channel: "${bad}" }`));
      expect(problems).toEqual([expect.objectContaining({ path: 'resources.prod-db.approvers.channel', line: 6, message: expect.stringMatching(/C012ABCDEF/) })]);
    }
    const block = withApprovers('\n      slack_users: [U0BOB]\n      channel: dba-approvals');
    expect(problemsOf(block)).toEqual([expect.objectContaining({ path: 'resources.prod-db.approvers.channel', line: 8 })]);
  });

  it('still needs someone to approve, and counts listed users against approvals_required unless the channel alone approves', () => {
    expect(problemsOf(withApprovers('{}'))).toContainEqual(expect.objectContaining({ line: 6, message: expect.stringMatching(/slack_users, slack_usergroup or channel/) }));
    expect(parseAccessConfig(withApprovers('{ channel: C0DBA }', '    approvals_required: 3\n')).resources['prod-db']!.approvals_required).toBe(3);
    expect(problemsOf(withApprovers('{ slack_users: [U0BOB], channel: C0DBA }', '    approvals_required: 2\n'))).toEqual([
      expect.objectContaining({ path: 'resources.prod-db.approvals_required', line: 7 }),
    ]);
  });
});


describe('the policy document', () => {
  it('says where a resource is approved, and who approves when the channel alone names them', () => {
    const text = `${withApprovers('{ slack_users: [U0BOB], channel: C0DBA }')}  staging-db:
    grant: { okta_group: 00g2 }
    max_duration: 1h
    approvers: { channel: G0STAGE }
`;
    const doc = renderPolicy({ config: parseAccessConfig(text), hash: 'a'.repeat(64), path: 'access.yml' });
    expect(doc).toMatch(/\| Approvers \| Slack user `U0BOB` \|\n\| Approvals \| in channel `#C0DBA`: one card there/);
    expect(doc).toMatch(/\| Approvers \| members of Slack channel `G0STAGE` \|\n\| Approvals \| in channel `#G0STAGE`/);
    // A resource approved by DM says nothing of channels.
    expect(renderPolicy({ config: parseAccessConfig(withApprovers('{ slack_users: [U0BOB] }')), hash: 'a'.repeat(64), path: 'access.yml' })).not.toMatch(/\| Approvals \|/);
  });
});
