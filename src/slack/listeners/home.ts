import type { App } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { AppDeps } from '../../app/deps.ts';
import { SLACK_USER_ID } from '../../domain/people.ts';
import { myAccess } from '../../app/read-models.ts';
import { homeView } from '../blocks/home.ts';
import { classifySlackFailure } from '../slack-failure.ts';

/** Publishes one person's App Home: their access, what waits on them, what they wait for. */
export function homePublisher(deps: AppDeps, client: WebClient): (user: string) => Promise<void> {
  return async (user) => {
    const view = await myAccess(deps, user, (request) => request.approvers.includes(user));
    await client.views.publish({ user_id: user, view: homeView(view, deps.clock.now()) });
  };
}

export function registerHomeListener(app: App, deps: AppDeps, publish: (user: string) => Promise<void>): void {
  app.event('app_home_opened', async ({ event }) => {
    // A user id Slack never issues would only come back as invalid_arguments, logged as the bot's error.
    if (event.tab !== 'home' || typeof event.user !== 'string' || !SLACK_USER_ID.test(event.user)) return;
    await publish(event.user).catch((error: unknown) => {
      // Slack refusing the view for this user (not found, deactivated) is about the event, not the bot.
      const failure = classifySlackFailure(error);
      if (failure.permanent) deps.logger.warn({ user: event.user, slack_error: failure.code }, 'Slack would not take an App Home for this user');
      else deps.logger.error({ err: error, user: event.user }, 'could not publish App Home');
    });
  });
}
