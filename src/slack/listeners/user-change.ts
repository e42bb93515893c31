import type { App } from '@slack/bolt';
import type { AppDeps } from '../../app/deps.ts';
import { detectOffboarding } from '../../app/offboard-person.ts';
import { learnPeople } from '../../app/learn-people.ts';
import { findPerson } from '../../reports/access/person-aliases.ts';
import { slackObservation } from '../../app/people-sightings.ts';
import type { SlackUser } from '../../ports.ts';

/** The event's user as the ChatDirectory port describes one. */
function slackUserOf(user: { id: string; name?: unknown; real_name?: unknown; profile?: { email?: unknown }; is_bot?: unknown }): SlackUser {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  return { id: user.id, name: text(user.real_name) ?? text(user.name) ?? user.id, email: text(user.profile?.email), deleted: false, isBot: user.is_bot === true };
}

/** A Slack account deactivated (`user_change` with `deleted`) starts offboarding at once. */
export function registerUserChangeListener(app: App, deps: AppDeps, forget: (userId: string) => void): void {
  app.event('user_change', async ({ event, body }) => {
    // Slack sends a user object with a string id; anything else is not a user we could offboard.
    if (typeof event.user?.id !== 'string') return;
    forget(event.user.id);
    // Only a real `deleted: true` offboards: a truthy "false" or {} must not end anyone's access.
    if (event.user.deleted !== true) {
      // A new email or name of someone breakglass knows is recorded; the old email still finds them.
      // Only for a Slack id already known: a profile edit anywhere in the workspace is nobody's evidence.
      if (event.user.deleted === false && (await findPerson(deps.db, event.user.id))) {
        await learnPeople(deps, 'slack_user_change', [slackObservation(slackUserOf(event.user))]);
      }
      return;
    }
    const profileEmail: unknown = event.user.profile?.email;
    const email = typeof profileEmail === 'string' && profileEmail !== '' ? profileEmail : undefined;
    if (!email) {
      deps.logger.warn({ user: event.user.id }, 'a deactivated Slack user has no visible email; offboarding covers their breakglass grants only');
    }
    const eventTime = (body as { event_time?: unknown }).event_time;
    const at = typeof eventTime === 'number' && eventTime > 0 ? new Date(eventTime * 1000) : undefined;
    await detectOffboarding(deps, {
      source: 'slack',
      email: email ?? `${event.user.id}@slack.invalid`,
      slackUserId: event.user.id,
      deactivatedAt: at && !Number.isNaN(at.getTime()) ? at : deps.clock.now(),
      detail: 'Slack account deactivated',
    });
  });
}
