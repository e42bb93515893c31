import type { Db } from '../db/client.ts';
import { overlappingGrants } from '../db/grants-repo.ts';
import type { grants } from '../db/schema.ts';
import type { GrantSpec } from '../ports.ts';
import { Refusal, type AppDeps } from './deps.ts';

/** How the providers will know a Slack user: by email, unless access.yml `people:` says otherwise. */
export async function personFor(deps: AppDeps, slackUserId: string): Promise<{ email: string }> {
  const override = deps.access.config.people[slackUserId];
  const user = await deps.directory.user(slackUserId);
  if (user?.deleted) throw new Refusal({ code: 'slack_account_deactivated' });
  const email = override?.email ?? user?.email;
  if (!email) {
    throw new Refusal({ code: 'no_email' });
  }
  return { email };
}

/** The grant targets access.yml configures. */
export const targetsOf = (deps: AppDeps): GrantSpec['target'][] => Object.values(deps.access.config.resources).map((r) => r.grant);

export function grantSpec(grant: {
  id: number;
  resource: string;
  target: GrantSpec['target'];
  person: string;
  email: string;
  principal: string | null;
  principalId?: string | null;
  endsAt: Date;
}): GrantSpec {
  return {
    grantId: String(grant.id),
    resource: grant.resource,
    target: grant.target,
    person: { email: grant.email, slackUserId: grant.person, ...(grant.principal ? { principal: grant.principal } : {}), ...(grant.principalId ? { principalId: grant.principalId } : {}) },
    expiresAt: grant.endsAt,
  };
}

/**
 * What to grant at the provider for access until `endsAt`: never ending sooner there than the
 * person's other live grants on the resource, since overlapping grants keep access until the last
 * of them ends. `others` are those grants.
 */
export async function grantSpecUntil(db: Db, grant: typeof grants.$inferSelect, endsAt: Date) {
  const others = await overlappingGrants(db, grant.person, grant.resource, grant.id);
  const providerExpiry = new Date(Math.max(endsAt.getTime(), ...others.map((o) => o.endsAt.getTime())));
  return { spec: grantSpec({ ...grant, endsAt: providerExpiry }), others };
}
