import type { AccessEntry, DirectoryPerson, SlackUser } from '../ports.ts';
import type { PersonObservation } from '../domain/people.ts';
import type { AppDeps } from './deps.ts';
import type { Deactivation } from './offboard-person.ts';
import { learnPeople } from './learn-people.ts';

/**
 * What each place breakglass meets people tells about them, as observations for learnPeople:
 * the Slack directory, the identity directory (Okta), a provider's listing, a leaver.
 */

export function slackObservation(user: SlackUser, extra: { emails?: Array<string | undefined>; principals?: Array<string | undefined> } = {}): PersonObservation {
  return {
    system: 'slack',
    aliases: [
      { kind: 'slack', value: user.id },
      { kind: 'slack_email', value: user.email },
      ...(extra.emails ?? []).map((value) => ({ kind: 'email' as const, value })),
      ...(extra.principals ?? []).map((value) => ({ kind: 'principal' as const, value })),
    ],
    name: user.name !== user.id ? user.name : undefined,
    status: user.deleted ? 'deactivated' : 'active',
  };
}

/** An Okta user; `managerAttribute` is access.yml `reviews.manager_attribute`. */
export function directoryObservation(person: DirectoryPerson, managerAttribute: string): PersonObservation {
  const first = typeof person.profile['firstName'] === 'string' ? person.profile['firstName'] : '';
  const last = typeof person.profile['lastName'] === 'string' ? person.profile['lastName'] : '';
  const manager = person.profile[managerAttribute];
  return {
    system: 'okta',
    aliases: [
      { kind: 'okta', value: person.id },
      { kind: 'okta_login', value: person.login },
      { kind: 'okta_email', value: person.email },
    ],
    name: `${first} ${last}`.trim() || undefined,
    manager: typeof manager === 'string' ? manager : undefined,
    status: person.status,
  };
}

/** A line of a provider's listing: the principal, tied to the directory record when it came with one. */
export function listingObservations(entries: readonly AccessEntry[], managerAttribute: string): PersonObservation[] {
  return entries.flatMap((entry) => [
    ...(entry.person ? [directoryObservation(entry.person, managerAttribute)] : []),
    {
      system: 'provider' as const,
      aliases: [
        ...(entry.person ? [{ kind: 'okta' as const, value: entry.person.id }] : []),
        { kind: 'email' as const, value: entry.email },
        { kind: 'principal' as const, value: entry.principal },
      ],
    },
  ]);
}

/**
 * The Slack user as the directory has them now, with the other names breakglass will use for
 * them (access.yml `people:` email, the principals their grants map to). A directory that cannot
 * be asked just means nothing is learnt this time.
 */
export async function learnSlackUser(deps: AppDeps, seenIn: string, slackUserId: string, extra: { emails?: Array<string | undefined>; principals?: Array<string | undefined> } = {}): Promise<void> {
  let user: SlackUser | undefined;
  try {
    user = await deps.directory.user(slackUserId);
  } catch {
    return;
  }
  if (user) await learnPeople(deps, seenIn, [slackObservation(user, extra)]);
}

/** A leaver as their directory reported them (`slackUserId`: theirs, when known). */
export function leaverObservation(leaver: Deactivation, slackUserId: string | undefined): PersonObservation {
  if (leaver.source === 'slack') {
    return { system: 'slack', aliases: [{ kind: 'slack', value: slackUserId }, { kind: 'slack_email', value: leaver.email }], status: 'deactivated', deactivatedAt: leaver.deactivatedAt };
  }
  const login = leaver.login ?? leaver.email;
  return {
    system: 'okta',
    aliases: [
      { kind: 'okta_login', value: login },
      // The feed gives the login where Okta has no email: not a second name.
      { kind: 'okta_email', value: leaver.email.toLowerCase() !== login.toLowerCase() ? leaver.email : undefined },
      { kind: 'slack', value: slackUserId },
    ],
    status: leaver.status ?? 'DEPROVISIONED',
    deactivatedAt: leaver.deactivatedAt,
  };
}
