import { and, eq } from 'drizzle-orm';
import type { AccessConfig } from '../config/access-schema.ts';
import type { Db, Tx } from '../db/client.ts';
import { reviewCampaigns } from '../db/schema.ts';
import { reviewSchedule, scopeKey } from '../domain/review.ts';
import type { Clock } from '../ports.ts';
import { Refusal } from './deps.ts';

export interface StartReviewInput {
  trigger: 'schedule' | 'manual';
  /** `breakglass` for the schedule, `cli:<user>` from the CLI. */
  requestedBy: string;
  /** Resources to review; default access.yml `reviews.scope`, else every resource. */
  scope?: readonly string[] | undefined;
  /** Default: the schedule's period containing now (e.g. `2026-Q2`). */
  period?: string | undefined;
}

export interface StartedReview {
  campaignId: number;
  /** False when a campaign for this period and scope already existed: starting twice is a no-op. */
  created: boolean;
  period: string;
  scope: string[];
  state: string;
  requestedAt: Date;
}

/** The resources a campaign covers, checked against access.yml. */
export function reviewScope(config: AccessConfig, scope?: readonly string[]): string[] {
  const wanted = scope && scope.length > 0 ? scope : (config.reviews.scope ?? Object.keys(config.resources));
  const unknown = wanted.filter((name) => !(name in config.resources));
  if (unknown.length > 0) {
    throw new Refusal({ code: 'unknown_review_resources', unknown, known: Object.keys(config.resources) });
  }
  return [...new Set(wanted)].sort();
}

/**
 * Asks for an access-review campaign. Only the request is written here (state `requested`); the
 * bot's review worker builds the population, opens the campaign with `review.started` and sends
 * the cards, so the CLI needs no provider or Slack access. Idempotent per period and scope.
 */
export async function startReview(deps: { db: Db; clock: Clock; config: AccessConfig }, input: StartReviewInput): Promise<StartedReview> {
  const scope = reviewScope(deps.config, input.scope);
  const now = deps.clock.now();
  const period = input.period?.trim() || reviewSchedule(deps.config.reviews.schedule).currentPeriod(now);
  return deps.db.transaction((tx) => insertCampaign(tx, { ...input, scope, period, now }));
}

/** Inserts the campaign unless the period and scope already have one; returns whichever exists. */
export async function insertCampaign(
  tx: Tx,
  input: { trigger: 'schedule' | 'manual'; requestedBy: string; scope: string[]; period: string; now: Date },
): Promise<StartedReview> {
  const key = scopeKey(input.scope);
  const [inserted] = await tx
    .insert(reviewCampaigns)
    .values({ period: input.period, scope: input.scope, scopeKey: key, trigger: input.trigger, requestedBy: input.requestedBy, requestedAt: input.now, state: 'requested' })
    .onConflictDoNothing()
    .returning();
  const row = inserted ?? (await tx.select().from(reviewCampaigns).where(and(eq(reviewCampaigns.period, input.period), eq(reviewCampaigns.scopeKey, key))))[0];
  if (!row) throw new Error(`access review for ${input.period} could neither be inserted nor found`);
  return { campaignId: row.id, created: inserted !== undefined, period: row.period, scope: row.scope, state: row.state, requestedAt: row.requestedAt };
}
