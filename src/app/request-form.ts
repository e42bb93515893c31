import { checkRequest, mayRequest } from '../domain/policy.ts';
import type { RefusalReason } from '../domain/refusals.ts';
import { and, eq, gt, inArray } from 'drizzle-orm';
import { grants, RUNNING_GRANT_STATES } from '../db/schema.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { usergroupLookup } from './usergroups.ts';

/** What the request form offers one person: only the resources they may request. */
export interface RequestFormView {
  resources: Array<{ name: string; description?: string | undefined; maxDurationMs: number }>;
}

export async function requestFormView(deps: AppDeps, user: string): Promise<RequestFormView> {
  const members = await usergroupLookup(deps.access.config, deps.directory);
  const resources = Object.entries(deps.access.config.resources)
    .filter(([, resource]) => mayRequest(resource, user, members))
    .map(([name, resource]) => ({ name, description: resource.description, maxDurationMs: resource.max_duration }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { resources };
}

/**
 * The policy's answer before the form closes, so a refusal shows on the form's field; requestAccess
 * asks the policy again when it records the request.
 */
export async function checkFormAsk(deps: AppDeps, ask: { user: string; resource: string; durationMs: number }): Promise<RefusalReason | undefined> {
  const members = await usergroupLookup(deps.access.config, deps.directory);
  const check = checkRequest(deps.access.config, ask, members);
  return check.ok ? undefined : check.refusal;
}

/** What the extension form needs: the holder's running access under this request, or a refusal. */
export async function extensionFormView(deps: AppDeps, user: string, requestId: number): Promise<{ requestId: number; resource: string; maxDurationMs: number }> {
  const now = deps.clock.now();
  const [grant] = await deps.db
    .select()
    .from(grants)
    .where(and(eq(grants.requestId, requestId), eq(grants.person, user), inArray(grants.state, RUNNING_GRANT_STATES), gt(grants.endsAt, now)));
  const resource = grant ? deps.access.config.resources[grant.resource] : undefined;
  if (!grant || !resource) throw new Refusal({ code: 'no_active_access', access: { requestId } });
  return { requestId, resource: grant.resource, maxDurationMs: resource.max_duration };
}
