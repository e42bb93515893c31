import type { WebClient } from '@slack/web-api';
import { and, eq, isNull, like, or, sql } from 'drizzle-orm';
import type { AppDeps } from '../app/deps.ts';
import { reviewCardView } from '../app/review-read-models.ts';
import { reviewCards } from '../db/schema.ts';
import { loadReviewReport, reviewReportMarkdown } from '../reports/review/review-report.ts';
import { reviewCard } from './blocks/review-card.ts';

type Deps = Pick<AppDeps, 'db' | 'clock' | 'access' | 'logger'>;

/** A post in progress marks the card `posting:<epoch ms>`; after this long it is taken as abandoned. */
const POSTING_LEASE_MS = 60_000;

/** Thrown so the outbox retries shortly: another replica is posting this card right now. */
export class CardBeingPosted extends Error {
  constructor(cardId: number) {
    super(`review card ${cardId} is being posted by another worker; its update follows`);
    this.name = 'CardBeingPosted';
  }
}

/**
 * Posts a review card the first time (a DM to the manager, or into the security channel) and
 * updates that one message in place after. The first post is claimed on the row, so two replicas
 * handling the post and an early update never post it twice.
 */
export async function deliverReviewCard(deps: Deps, client: WebClient, cardId: number): Promise<void> {
  const [card] = await deps.db.select({ channel: reviewCards.channel, ts: reviewCards.ts }).from(reviewCards).where(eq(reviewCards.id, cardId));
  if (!card) return;
  if (card.channel && card.ts && !card.ts.startsWith('posting:')) {
    const view = await reviewCardView(deps.db, cardId);
    if (!view) return;
    const rendered = reviewCard(view, deps.clock.now());
    await client.chat.update({ channel: card.channel, ts: card.ts, text: rendered.text, blocks: rendered.blocks });
    return;
  }
  const now = deps.clock.now();
  const stale = `posting:${now.getTime() - POSTING_LEASE_MS}`;
  const [claimed] = await deps.db
    .update(reviewCards)
    .set({ ts: `posting:${now.getTime()}` })
    .where(and(eq(reviewCards.id, cardId), or(isNull(reviewCards.ts), and(like(reviewCards.ts, 'posting:%'), sql`${reviewCards.ts} < ${stale}`))))
    .returning({ id: reviewCards.id });
  if (!claimed) throw new CardBeingPosted(cardId);
  try {
    // Rendered after the claim, so it shows every decision committed before it.
    const view = await reviewCardView(deps.db, cardId);
    if (!view) return;
    const rendered = reviewCard(view, deps.clock.now());
    // A user id as the channel posts into the app's DM with them (no conversations.open, whose
    // rate limit would hold a thousand-manager campaign up for minutes); Slack answers with the
    // DM's channel id, which chat.update needs later.
    const posted = await client.chat.postMessage({ channel: view.recipient, text: rendered.text, blocks: rendered.blocks });
    if (!posted.channel || !posted.ts) throw new Error(`Slack did not say where review card ${cardId} was posted`);
    await deps.db.update(reviewCards).set({ channel: posted.channel, ts: posted.ts }).where(eq(reviewCards.id, cardId));
  } catch (error) {
    await deps.db.update(reviewCards).set({ ts: null }).where(and(eq(reviewCards.id, cardId), like(reviewCards.ts, 'posting:%')));
    throw error;
  }
}

/** A closed campaign's report (Markdown) as a file in the security channel. */
export async function uploadReviewReport(deps: Deps, client: WebClient, campaignId: number): Promise<void> {
  const report = await loadReviewReport(deps.db, { campaignId, now: deps.clock.now() });
  if (!report) return;
  const c = report.campaign;
  const t = report.totals;
  await client.filesUploadV2({
    channel_id: deps.access.config.security_channel,
    file: Buffer.from(reviewReportMarkdown(report)),
    filename: `access-review-${c.id}-${c.period.replace(/[^A-Za-z0-9-]+/g, '_')}.md`,
    title: `Access review #${c.id} (${c.period}) report`,
    initial_comment:
      `Report of access review #${c.id} (${c.period}): ${t.lines} line(s), ${t.kept} kept, ${t.revoked} revoked (${t.revokedVerified} verified), ` +
      `${t.signOffs} of ${t.cards} sign-off(s), ${t.overdueCards} overdue. The same report: \`npx breakglass review report --campaign ${c.id}\` (add \`--format csv\` for every line).`,
  });
}
