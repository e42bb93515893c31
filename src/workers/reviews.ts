import { eq } from 'drizzle-orm';
import { buildRequestedCampaigns } from '../app/build-campaign.ts';
import { closeFinishedCampaigns } from '../app/close-reviews.ts';
import { Refusal, type AppDeps } from '../app/deps.ts';
import { remindReviews } from '../app/remind-reviews.ts';
import { revokeReviewItems } from '../app/revoke-review-items.ts';
import { runReviewSchedule } from '../app/schedule-reviews.ts';
import { startReview } from '../app/start-review.ts';
import { answerReviewStartRequests, type ReviewStartAnswer, type ReviewStartRequest } from '../bot-mailbox.ts';
import { reviewCampaigns } from '../db/schema.ts';

/**
 * One pass of the access-review worker: answer `review start` requests the CLI left in the
 * embedded database's folder (`mailbox`, on PGlite only), start a scheduled campaign whose time
 * has come, build campaigns the schedule or the CLI asked for, finish review revocations (retries
 * included), send reminders and escalations, and close finished campaigns. Everything is re-read
 * from the database, so any replica may run it and a restart forgets nothing.
 */
export function reviewTicker(deps: AppDeps, options: { mailbox?: string | undefined } = {}): () => Promise<void> {
  const { mailbox } = options;
  return async () => {
    if (mailbox) await answerReviewStartRequests(mailbox, (request) => startForCli(deps, request), deps.logger);
    await runReviewSchedule(deps);
    while ((await buildRequestedCampaigns(deps)) > 0);
    while ((await revokeReviewItems(deps)) > 0);
    if (!(await anyOpenCampaign(deps))) return;
    await remindReviews(deps);
    await closeFinishedCampaigns(deps);
  };
}

/** The CLI's `review start`, as it would run it itself on PostgreSQL. */
async function startForCli(deps: AppDeps, request: ReviewStartRequest): Promise<ReviewStartAnswer> {
  try {
    return { started: await startReview({ db: deps.db, clock: deps.clock, config: deps.access.config }, { trigger: 'manual', ...request }) };
  } catch (error) {
    if (error instanceof Refusal) return { refused: error.message };
    throw error;
  }
}

async function anyOpenCampaign(deps: AppDeps): Promise<boolean> {
  return (await deps.db.select({ id: reviewCampaigns.id }).from(reviewCampaigns).where(eq(reviewCampaigns.state, 'open')).limit(1)).length > 0;
}
