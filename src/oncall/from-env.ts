import type { AccessConfig } from '../config/access-schema.ts';
import type { Env } from '../config/env.ts';
import type { OnCallDirectory } from '../ports.ts';
import { ProviderSetupError } from '../providers/module.ts';
import { PagerDutyOnCall } from './pagerduty.ts';

/** The resources whose auto_approve asks PagerDuty, for the start's and a reload's checks. */
export function resourcesAskingPagerDuty(config: AccessConfig | undefined): string[] {
  return Object.entries(config?.resources ?? {})
    .filter(([, r]) => r.auto_approve?.pagerduty)
    .map(([name]) => name);
}

/** Why this environment cannot serve the policy's on-call auto-approval: none, or one line. */
export function onCallProblems(env: Pick<Env, 'PAGERDUTY_API_TOKEN'>, config: AccessConfig | undefined): string[] {
  const needing = resourcesAskingPagerDuty(config);
  if (needing.length === 0 || env.PAGERDUTY_API_TOKEN) return [];
  return [
    `PAGERDUTY_API_TOKEN is not set, but access.yml resource(s) ${needing.map((n) => `"${n}"`).join(', ')} use auto_approve.pagerduty. ` +
    'Set PAGERDUTY_API_TOKEN to a PagerDuty REST API key (Integrations → API Access Keys; read-only is enough), or remove auto_approve.',
  ];
}

/**
 * PagerDuty, when a token is given. A policy that needs it without one stops the start: silently
 * sending every on-call request to the approvers would look like an outage of the feature.
 */
export function onCallFromEnv(env: Pick<Env, 'PAGERDUTY_API_TOKEN' | 'PAGERDUTY_API_URL'>, config: AccessConfig | undefined): OnCallDirectory | undefined {
  const [problem] = onCallProblems(env, config);
  if (problem) throw new ProviderSetupError(problem);
  if (!env.PAGERDUTY_API_TOKEN) return undefined;
  return new PagerDutyOnCall({ token: env.PAGERDUTY_API_TOKEN, baseUrl: env.PAGERDUTY_API_URL });
}
