/**
 * Steps the access-review tests share: finding a review card in Slack, finding a line on it,
 * clicking its buttons through signed payloads, and reading the review evidence.
 */
import { and, eq, sql } from 'drizzle-orm';
import { startReview, type StartedReview } from '../../src/app/start-review.ts';
import { parseAccessConfig } from '../../src/config/access.ts';
import { evidenceEvents, reviewCampaigns, reviewItems } from '../../src/db/schema.ts';
import type { Clock } from '../../src/ports.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import type { Harness } from './harness.ts';
import { blockAction, post } from './slack-requests.ts';
import { textOf, type StoredMessage } from './slack-server.ts';

let counter = 0;

/** Asks for a campaign as the CLI does, in this process (spawning the CLI takes seconds; one test does). */
export function requestReview(h: Harness, accessYml: string, clock: Clock, input: { period: string; scope?: string[] }): Promise<StartedReview> {
  return startReview({ db: h.bot.database.db, clock, config: parseAccessConfig(accessYml) }, { trigger: 'manual', requestedBy: 'cli:test', ...input });
}

/** The review card of a campaign in a DM (user id) or channel, as it is now. */
export function reviewCardIn(h: Harness, recipient: string, campaignId: number): StoredMessage | undefined {
  return h.slack.messagesTo(recipient).find((m) => (m.text ?? '').startsWith(`Access review #${campaignId} (`));
}

export function waitForReviewCard(h: Harness, recipient: string, campaignId: number, matching?: RegExp | ((m: StoredMessage) => boolean), timeoutMs = 10_000): Promise<StoredMessage> {
  return h.slack.waitFor(
    () => {
      const card = reviewCardIn(h, recipient, campaignId);
      if (!card) return undefined;
      if (matching instanceof RegExp) return matching.test(textOf(card)) ? card : undefined;
      return !matching || matching(card) ? card : undefined;
    },
    timeoutMs,
    `${recipient}'s card for access review #${campaignId}${matching ? ` matching ${String(matching)}` : ''}`,
  );
}

/** The line (item id) on a card whose text contains `person` and `resource`. */
export function lineOn(card: StoredMessage, person: string, resource: string): { itemId: number; text: string; decided: boolean } {
  const blocks = (card.blocks ?? []) as Array<Record<string, unknown>>;
  for (let i = 0; i < blocks.length; i++) {
    const text = String((blocks[i]!.text as { text?: string } | undefined)?.text ?? '');
    if (blocks[i]!.type !== 'section' || !text.startsWith(`*${person}*`) || !text.split('\n')[0]!.includes(`\`${resource}\``)) continue;
    const next = blocks[i + 1];
    const id = typeof next?.block_id === 'string' ? /^review_line_(\d+)$/.exec(next.block_id)?.[1] : undefined;
    if (id) return { itemId: Number(id), text, decided: false };
    return { itemId: -1, text, decided: true };
  }
  throw new Error(`no line for ${person} on ${resource} on the card:\n${textOf(card)}`);
}

/** The card id the card's own controls carry. */
export function cardIdOf(card: { blocks?: readonly unknown[] }): number {
  const controls = (card.blocks as Array<Record<string, unknown>>).find((b) => b.block_id === 'review_controls');
  const value = (controls?.elements as Array<{ value?: string }> | undefined)?.[0]?.value;
  if (!value) throw new Error('no review controls on the card');
  return Number(value);
}

export interface Click {
  status: number;
  reply(timeoutMs?: number): Promise<string | undefined>;
}

/** A click on a review card button, as Slack posts it, with a response_url the test can read. */
export async function clickReview(h: Harness, userId: string, card: StoredMessage, actionId: string, value: number, baseUrl = h.baseUrl): Promise<Click> {
  const name = `review-click-${++counter}`;
  const blockId = actionId === ACTIONS.reviewKeep || actionId === ACTIONS.reviewRevoke ? `review_line_${value}` : 'review_controls';
  const res = await post(baseUrl, blockAction({ userId, actionId, message: card, value: String(value), blockId, responseUrl: h.slack.responseUrl(name, { channel: card.channel, ts: card.ts }) }));
  return {
    status: res.status,
    reply: async (timeoutMs = 2_000) => {
      const got = await h.slack.waitFor(() => h.slack.responses(name)[0], timeoutMs).catch(() => undefined);
      return got ? String(got.body.text ?? '') : undefined;
    },
  };
}

export async function reviewEvents(h: Harness, campaignId: number, kind?: string) {
  const rows = await h.bot.database.db
    .select()
    .from(evidenceEvents)
    .where(and(sql`${evidenceEvents.details}->>'campaign_id' = ${String(campaignId)}`, kind ? eq(evidenceEvents.kind, kind) : undefined))
    .orderBy(evidenceEvents.seq);
  return rows;
}

export async function campaignRow(h: Harness, campaignId: number) {
  const [row] = await h.bot.database.db.select().from(reviewCampaigns).where(eq(reviewCampaigns.id, campaignId));
  return row;
}

export async function itemsOf(h: Harness, campaignId: number) {
  return h.bot.database.db.select().from(reviewItems).where(eq(reviewItems.campaignId, campaignId)).orderBy(reviewItems.id);
}

export async function waitForCampaignState(h: Harness, campaignId: number, state: string, timeoutMs = 10_000) {
  return h.slack.waitFor(async () => {
    const row = await campaignRow(h, campaignId);
    return row?.state === state ? row : undefined;
  }, timeoutMs, `access review #${campaignId} ${state}`);
}
