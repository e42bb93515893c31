import { audienceMembers } from '../domain/policy.ts';
import type { AppDeps } from './deps.ts';

/** Members of access.yml `security:` (users and user group) act for the security team. */
export async function isSecurity(deps: AppDeps, user: string): Promise<boolean> {
  const security = deps.access.config.security;
  if (!security) return false;
  const members = security.slack_usergroup ? await deps.directory.usergroupMembers(security.slack_usergroup) : [];
  return audienceMembers(security, () => members).has(user);
}
