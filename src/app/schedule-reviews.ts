import { eq } from 'drizzle-orm';
import { reviewSchedules } from '../db/schema.ts';
import { reviewSchedule } from '../domain/review.ts';
import type { AppDeps } from './deps.ts';
import { insertCampaign, reviewScope } from './start-review.ts';

/**
 * Starts the scheduled campaign when its occurrence has come. The first time a schedule is seen
 * it is armed for its next occurrence (never for start-up itself); the row is locked while it
 * fires, so several replicas start each occurrence once. An occurrence missed while no bot ran
 * fires when one is back. Returns the campaign id it asked for, if any.
 */
export async function runReviewSchedule(deps: Pick<AppDeps, 'db' | 'clock' | 'access' | 'logger'>): Promise<number | undefined> {
  const config = deps.access.config;
  const schedule = reviewSchedule(config.reviews.schedule);
  const now = deps.clock.now();
  // Every tick asks; only a missing or due schedule takes the row lock.
  const [armed] = await deps.db.select({ nextAt: reviewSchedules.nextAt }).from(reviewSchedules).where(eq(reviewSchedules.schedule, schedule.expression));
  if (armed && armed.nextAt > now) return undefined;
  const fired = await deps.db.transaction(async (tx) => {
    const [row] = await tx.select().from(reviewSchedules).where(eq(reviewSchedules.schedule, schedule.expression)).for('update');
    if (!row) {
      const next = schedule.next(now);
      if (next) await tx.insert(reviewSchedules).values({ schedule: schedule.expression, nextAt: next, armedAt: now }).onConflictDoNothing();
      return undefined;
    }
    if (row.nextAt > now) return undefined;
    const started = await insertCampaign(tx, { trigger: 'schedule', requestedBy: 'breakglass', scope: reviewScope(config), period: schedule.periodOf(row.nextAt), now });
    const next = schedule.next(now);
    // A schedule that never fires again stays parked far in the future rather than firing every tick.
    await tx
      .update(reviewSchedules)
      .set({ nextAt: next ?? new Date('9999-12-31T00:00:00Z'), lastFiredAt: now })
      .where(eq(reviewSchedules.schedule, schedule.expression));
    return { ...started, occurrence: row.nextAt, next };
  });
  if (!fired) return undefined;
  deps.logger.info({ campaignId: fired.campaignId, period: fired.period, created: fired.created, occurrence: fired.occurrence, next: fired.next }, 'scheduled access review due');
  return fired.campaignId;
}
