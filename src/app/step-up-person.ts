import { peopleWithKeys } from '../db/people-repo.ts';
import { aliasKey } from '../domain/people.ts';
import type { DirectoryPerson } from '../ports.ts';
import type { AppDeps } from './deps.ts';

/** Okta's names for a person, most exact first: its own id, then the login, then emails. */
const ALIAS_ORDER = ['okta', 'okta_login', 'okta_email', 'email', 'slack_email'];

/**
 * The approver's Okta user, found from their Slack identity: the names breakglass has learnt for
 * the person (people and aliases), access.yml `people:` email, and their Slack profile email now.
 * Undefined when Okta knows none of them. A Slack hiccup only loses the profile email.
 */
export async function oktaUserOf(deps: Pick<AppDeps, 'db' | 'identities' | 'directory' | 'access'>, slackUserId: string): Promise<DirectoryPerson | undefined> {
  if (!deps.identities) return undefined;
  const [person] = await peopleWithKeys(deps.db, [aliasKey(slackUserId)]);
  const aliases = [...(person?.aliases ?? [])].sort((a, b) => rank(a.kind) - rank(b.kind)).filter((a) => rank(a.kind) < ALIAS_ORDER.length);
  const profileEmail = await deps.directory.user(slackUserId).then(
    (user) => user?.email,
    () => undefined,
  );
  const refs = [...aliases.map((a) => a.value), deps.access.config.people[slackUserId]?.email, profileEmail].filter((ref): ref is string => Boolean(ref));
  // Okta ids are case-sensitive: names are compared without case, but asked for as written.
  const unique = new Map<string, string>();
  for (const ref of refs) if (!unique.has(aliasKey(ref))) unique.set(aliasKey(ref), ref);
  for (const ref of unique.values()) {
    const user = await deps.identities.lookupUser(ref);
    if (user) return user;
  }
  return undefined;
}

function rank(kind: string): number {
  const index = ALIAS_ORDER.indexOf(kind);
  return index < 0 ? ALIAS_ORDER.length : index;
}
