import { formatDuration } from '../domain/duration.ts';
import { mayRequest } from '../domain/policy.ts';
import type { AppDeps } from './deps.ts';
import { usergroupLookup } from './usergroups.ts';

export interface RequestableResource {
  name: string;
  description?: string | undefined;
  maxDuration: string;
  emergency: boolean;
  /** Approved at once for whoever PagerDuty has on call in its schedules (access.yml auto_approve). */
  onCall?: boolean;
}

/** What `/breakglass help` offers this person: exactly what a request from them would accept. */
export async function requestableBy(deps: Pick<AppDeps, 'access' | 'directory'>, user: string): Promise<RequestableResource[]> {
  const members = await usergroupLookup(deps.access.config, deps.directory);
  return Object.entries(deps.access.config.resources)
    .filter(([, r]) => mayRequest(r, user, members))
    .map(([name, r]) => ({ name, description: r.description, maxDuration: formatDuration(r.max_duration), emergency: r.emergency_self_grant, ...(r.auto_approve?.pagerduty ? { onCall: true } : {}) }));
}
