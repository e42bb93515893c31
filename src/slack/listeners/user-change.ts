import type { App } from '@slack/bolt';
import type { AppDeps } from '../../app/deps.ts';
import { detectOffboarding } from '../../app/offboard-person.ts';

/** A Slack account deactivated (`user_change` with `deleted`) starts offboarding at once. */
export function registerUserChangeListener(app: App, deps: AppDeps, forget: (userId: string) => void): void {
  app.event('user_change', async ({ event, body }) => {
    // Slack sends a user object with a string id; anything else is not a user we could offboard.
    if (typeof event.user?.id !== 'string') return;
    forget(event.user.id);
    // Only a real `deleted: true` offboards: a truthy "false" or {} must not end anyone's access.
    if (event.user.deleted !== true) return;
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
