import { and, asc, gte, inArray, isNotNull, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { reviewCampaigns } from '../../db/schema.ts';
import type { Cell } from '../csv-safe.ts';
import { loadReviewReport } from '../review/review-report.ts';
import { REVIEW_REPORT_COLUMNS, reviewLineRow } from '../review/review-report-render.ts';

/**
 * The review population for the audit pack: every line of every campaign open at some time in
 * the period, as its reviewer saw it, with the decision, the sign-off and the revoke. The lines
 * are the campaign's stored population, so each row also says whether the campaign's lines still
 * hash to the population `review.started` recorded in the chain.
 */
export const REVIEW_LINES_COLUMNS = [...REVIEW_REPORT_COLUMNS, 'population_matches_ledger'] as const;

export async function reviewLineRows(db: Db, period: { from: Date; to: Date }, now: Date): Promise<Array<Record<string, Cell>>> {
  const campaigns = await db
    .select({ id: reviewCampaigns.id })
    .from(reviewCampaigns)
    .where(
      and(
        inArray(reviewCampaigns.state, ['open', 'closed']),
        isNotNull(reviewCampaigns.openedAt),
        lt(reviewCampaigns.openedAt, period.to),
        or(isNull(reviewCampaigns.closedAt), gte(reviewCampaigns.closedAt, period.from)),
      ),
    )
    .orderBy(asc(reviewCampaigns.id));
  const rows: Array<Record<string, Cell>> = [];
  for (const { id } of campaigns) {
    const report = (await loadReviewReport(db, { campaignId: id, now }))!;
    const matches = report.population.matches ? 'yes' : 'no';
    for (const line of report.lines) rows.push({ ...reviewLineRow(report.campaign, line), population_matches_ledger: matches });
  }
  return rows;
}
