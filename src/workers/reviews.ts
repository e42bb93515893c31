import { eq } from 'drizzle-orm';
import { buildRequestedCampaigns } from '../app/build-campaign.ts';
import { closeFinishedCampaigns } from '../app/close-reviews.ts';
import type { AppDeps } from '../app/deps.ts';
import { remindReviews } from '../app/remind-reviews.ts';
import { revokeReviewItems } from '../app/revoke-review-items.ts';
import { runReviewSchedule } from '../app/schedule-reviews.ts';
import { reviewCampaigns } from '../db/schema.ts';

/**
 * One pass of the access-review worker: start a scheduled campaign whose time has come, build
 * campaigns the schedule or the CLI asked for, finish review revocations (retries included), send
 * reminders and escalations, and close finished campaigns. Everything is re-read from the
 * database, so any replica may run it and a restart forgets nothing.
 */
export function reviewTicker(deps: AppDeps): () => Promise<void> {
  return async () => {
    await runReviewSchedule(deps);
    while ((await buildRequestedCampaigns(deps)) > 0);
    while ((await revokeReviewItems(deps)) > 0);
    if (!(await anyOpenCampaign(deps))) return;
    await remindReviews(deps);
    await closeFinishedCampaigns(deps);
  };
}

async function anyOpenCampaign(deps: AppDeps): Promise<boolean> {
  return (await deps.db.select({ id: reviewCampaigns.id }).from(reviewCampaigns).where(eq(reviewCampaigns.state, 'open')).limit(1)).length > 0;
}
