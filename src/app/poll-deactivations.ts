import type { DeactivationFeed } from '../ports.ts';
import type { AppDeps } from './deps.ts';
import { detectOffboarding } from './offboard-person.ts';

/** How far back each poll looks: long enough to survive a week-long outage of the bot. */
const LOOKBACK_MS = 7 * 24 * 3_600_000;

/** Asks the identity provider for leavers and opens an offboarding for each new one. */
export async function pollDeactivations(deps: AppDeps, feed: DeactivationFeed): Promise<number> {
  const since = new Date(deps.clock.now().getTime() - LOOKBACK_MS);
  let opened = 0;
  for (const person of await feed.listDeactivatedSince(since)) {
    const started = await detectOffboarding(deps, { source: 'okta', email: person.email, login: person.login, deactivatedAt: person.deactivatedAt, status: person.status, detail: `Okta status ${person.status}` });
    if (started) opened++;
  }
  return opened;
}
