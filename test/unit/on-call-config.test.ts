import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AccessConfigError, parseAccessConfig } from '../../src/config/access.ts';
import { renderPolicy } from '../../src/reports/policy/policy-doc.ts';

const base = `security_channel: C0SEC
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

describe('access.yml auto_approve.pagerduty', () => {
  it('reads schedule ids and escalation levels, level 1 when none is given', () => {
    const config = parseAccessConfig(`${base}    auto_approve:\n      pagerduty:\n        schedule_ids: [PABC123, P9Z]\n        escalation_levels: [1, 2]\n`);
    expect(config.resources['prod-db']!.auto_approve).toEqual({ pagerduty: { schedule_ids: ['PABC123', 'P9Z'], escalation_levels: [1, 2] } });
    const defaulted = parseAccessConfig(`${base}    auto_approve: { pagerduty: { schedule_ids: [PABC123] } }\n`);
    expect(defaulted.resources['prod-db']!.auto_approve?.pagerduty.escalation_levels).toEqual([1]);
    expect(parseAccessConfig(base).resources['prod-db']!.auto_approve).toBeUndefined();
  });

  it('refuses a schedule id that is not PagerDuty’s shape, on its line', () => {
    const problems = problemsOf(`${base}    auto_approve:\n      pagerduty:\n        schedule_ids: [pabc123]\n`);
    expect(problems).toEqual([expect.objectContaining({ line: 9, path: 'resources.prod-db.auto_approve.pagerduty.schedule_ids.0', message: expect.stringMatching(/PagerDuty schedule id looks like PABC123/) })]);
  });

  it('refuses escalation levels that are not positive whole numbers, each on its line', () => {
    const problems = problemsOf(`${base}    auto_approve:\n      pagerduty:\n        schedule_ids: [PABC123]\n        escalation_levels:\n          - 0\n          - 1.5\n`);
    expect(problems).toEqual([
      expect.objectContaining({ line: 11, path: 'resources.prod-db.auto_approve.pagerduty.escalation_levels.0', message: expect.stringMatching(/whole number from 1/) }),
      expect.objectContaining({ line: 12, path: 'resources.prod-db.auto_approve.pagerduty.escalation_levels.1', message: expect.stringMatching(/whole number from 1/) }),
    ]);
  });

  it('refuses an empty schedule list, an unknown key, and auto_approve beside emergency_self_grant', () => {
    expect(problemsOf(`${base}    auto_approve: { pagerduty: { schedule_ids: [] } }\n`)).toEqual([expect.objectContaining({ line: 7, message: expect.stringMatching(/at least one PagerDuty schedule id/) })]);
    expect(problemsOf(`${base}    auto_approve: { pagerduty: { schedule_ids: [PABC123], escalation_level: 1 } }\n`)).toEqual([
      expect.objectContaining({ path: expect.stringContaining('auto_approve.pagerduty.escalation_level'), line: 7 }),
    ]);
    expect(problemsOf(`${base}    auto_approve: { opsgenie: { schedule_ids: [PABC123] } }\n`)).toContainEqual(
      expect.objectContaining({ line: 7, path: 'resources.prod-db.auto_approve.opsgenie', message: expect.stringMatching(/unknown key "opsgenie".*allowed: pagerduty/) }),
    );
    expect(problemsOf(`${base}    emergency_self_grant: true\n    auto_approve: { pagerduty: { schedule_ids: [PABC123] } }\n`)).toEqual([
      expect.objectContaining({ line: 8, path: 'resources.prod-db.auto_approve', message: expect.stringMatching(/no effect with emergency_self_grant/) }),
    ]);
  });

  it('is written into the policy document: the resource’s row and what on-call approval means', () => {
    const config = parseAccessConfig(`${base}    auto_approve: { pagerduty: { schedule_ids: [PABC123, PDEF456], escalation_levels: [1, 2] } }\n`);
    const doc = renderPolicy({ config, hash: 'f'.repeat(64), path: 'access.yml' });
    expect(doc).toContain('| On-call auto-approval | approved at once for whoever PagerDuty has on call in schedule PABC123, PDEF456 at escalation level 1, 2; reviewed by an approver afterwards (see section 3) |');
    expect(doc).toContain('### On-call auto-approval');
    expect(doc).toMatch(/`pagerduty_on_call` policy/);
    expect(doc).toMatch(/An outage never approves a request/);
    expect(renderPolicy({ config: parseAccessConfig(base), hash: 'f'.repeat(64), path: 'access.yml' })).not.toMatch(/on-call/i);
  });

  it('is shown, commented out, in access.example.yml, and reads as documented once restored', () => {
    const text = readFileSync(new URL('../../access.example.yml', import.meta.url), 'utf8').replace(/^#(\s{2}.*)$/gm, '$1');
    expect(parseAccessConfig(text).resources['prod-admin']!.auto_approve).toEqual({ pagerduty: { schedule_ids: ['PABC123', 'PDEF456'], escalation_levels: [1] } });
  });
});
