import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AccessConfigError, parseAccessConfig } from '../../src/config/access.ts';
import { readEnv } from '../../src/config/env.ts';
import { renderPolicy } from '../../src/reports/policy/policy-doc.ts';
import { createLogger } from '../../src/logger.ts';
import { providersFromEnv, ProviderSetupError, stepUpWithoutVerifier } from '../../src/providers/from-env.ts';

const access = (approval: string) => `security_channel: C0SEC
resources:
  figma:
    grant: { manual: { system: Figma admin, owners: { slack_users: [U0OWNER] } } }
    max_duration: 4h
    approvers: { slack_users: [U0DBA1] }
${approval}  wiki:
    grant: { manual: { system: Wiki admin, owners: { slack_users: [U0OWNER] } } }
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

describe('access.yml approval: { step_up }', () => {
  it('takes okta_verify per resource; a resource without it has none', () => {
    const config = parseAccessConfig(access('    approval: { step_up: okta_verify }\n'));
    expect(config.resources['figma']!.approval).toEqual({ step_up: 'okta_verify' });
    expect(config.resources['wiki']!.approval).toBeUndefined();
  });

  it('refuses another step-up on its line, saying what it takes', () => {
    const problems = problemsOf(access('    approval: { step_up: sms }\n'));
    expect(problems).toEqual([expect.objectContaining({ line: 7, path: 'resources.figma.approval.step_up', message: expect.stringContaining('step_up takes okta_verify') })]);
  });

  it('refuses an unknown key under approval on its line, with the key it probably meant', () => {
    const problems = problemsOf(access('    approval:\n      step_upp: okta_verify\n'));
    expect(problems).toEqual([expect.objectContaining({ line: 8, path: 'resources.figma.approval.step_upp', message: expect.stringContaining('did you mean "step_up"') })]);
  });

  it('is stated in the policy document: which resources need step-up, and how each approval is verified', () => {
    const doc = renderPolicy({ config: parseAccessConfig(access('    approval: { step_up: okta_verify }\n')), hash: 'h', path: 'access.yml' });
    const figma = doc.slice(doc.indexOf('### `figma`'), doc.indexOf('### `wiki`'));
    const wiki = doc.slice(doc.indexOf('### `wiki`'), doc.indexOf('## 3.'));
    expect(figma).toContain('| Approver verification | step-up: an approval counts only once the approver accepts an Okta Verify push');
    expect(wiki).not.toContain('Approver verification');
    expect(doc).toContain('- Approvals of `figma` require step-up: the approver accepts an Okta Verify push before the approval counts');
    const plain = renderPolicy({ config: parseAccessConfig(access('')), hash: 'h', path: 'access.yml' });
    expect(plain).not.toMatch(/step-up|Okta Verify/);
  });

  it('stops the start when a resource requires step-up but Okta is not configured, naming the resource and the fix', async () => {
    const env = readEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' });
    const config = parseAccessConfig(access('    approval: { step_up: okta_verify }\n'));
    const error = await providersFromEnv(env, config, createLogger('debug', new PassThrough()), async () => {}).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(ProviderSetupError);
    expect(error?.message).toBe(
      'access.yml requires an Okta Verify push from the approvers of figma (approval: { step_up: okta_verify }) but Okta is not configured: set OKTA_ORG_URL and OKTA_API_TOKEN, or remove step_up.',
    );
    // A reload that adds step-up to a bot started without Okta is refused the same way.
    expect(stepUpWithoutVerifier(config, undefined)).toEqual([expect.stringMatching(/^resources\.figma\.approval\.step_up: .*Okta is not configured/)]);
  });
});
