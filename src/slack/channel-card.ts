import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { and, eq } from 'drizzle-orm';
import { raiseAlert } from '../app/alerts.ts';
import { approvalThreadSteps } from '../app/approval-thread.ts';
import type { AppDeps } from '../app/deps.ts';
import { accessRequests, alerts, slackMessages } from '../db/schema.ts';
import { notificationMrkdwn } from './render.ts';
import { classifySlackFailure } from './slack-failure.ts';

type Deps = Pick<AppDeps, 'db' | 'clock' | 'ledger'>;
type PostedCard = typeof slackMessages.$inferSelect;

/** A card row is a channel's when its recipient is the channel itself, not an approver. */
export const isChannelCard = (card: PostedCard): boolean => card.recipient === card.channel;

/**
 * The one approval card of a request whose resource names an approval channel, and the replies
 * in its thread. The card goes to the channel once; should the channel refuse it (the bot is not
 * in it, it is gone or archived), the request falls back to the approvers' DMs, and security is
 * told: a card nobody sees would leave the request to expire unseen.
 */
export class ChannelCard {
  constructor(
    private readonly deps: Deps,
    private readonly client: WebClient,
  ) {}

  /** Whether the card is in the channel (now or before); false when the approvers' DMs must have it instead. */
  async place(requestId: number, channel: string, rendered: { text: string; blocks: KnownBlock[] }, existing: PostedCard[]): Promise<boolean> {
    if (existing.some(isChannelCard)) return true;
    // Cards in DMs already: the channel refused this request's card before.
    if (existing.length > 0) return false;
    let posted: { channel?: string | undefined; ts?: string | undefined };
    try {
      posted = await this.client.chat.postMessage({ channel, text: rendered.text, blocks: rendered.blocks });
    } catch (error) {
      const failure = classifySlackFailure(error);
      if (!failure.permanent || !failure.channelProblem) throw error;
      await this.refused(requestId, channel, failure.code);
      return false;
    }
    if (!posted.ts) return true;
    const ts = posted.ts;
    await this.deps.db.transaction(async (tx) => {
      const inserted = await tx.insert(slackMessages).values({ requestId, purpose: 'approval', recipient: channel, channel: posted.channel ?? channel, ts }).onConflictDoNothing().returning();
      if (inserted.length === 0) return;
      const [request] = await tx.select({ requester: accessRequests.requester, resource: accessRequests.resource }).from(accessRequests).where(eq(accessRequests.id, requestId));
      await this.deps.ledger.append(tx, { kind: 'approval.card_posted', actor: 'breakglass', subject: request?.requester, resource: request?.resource, requestId, details: { channel: posted.channel ?? channel, ts } });
    });
    return true;
  }

  /** The refusal recorded and security alerted, once per request however often the outbox retries. */
  private async refused(requestId: number, channel: string, error: string): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      await this.deps.ledger.lockHead(tx);
      const [told] = await tx.select({ id: alerts.id }).from(alerts).where(and(eq(alerts.kind, 'approval_channel_failed'), eq(alerts.requestId, requestId))).limit(1);
      if (told) return;
      const [request] = await tx.select().from(accessRequests).where(eq(accessRequests.id, requestId));
      if (!request) return;
      const { requester: subject, resource, approvers } = request;
      await this.deps.ledger.append(tx, { kind: 'approval.channel_failed', actor: 'breakglass', subject, resource, requestId, details: { channel, error, dm_approvers: approvers } });
      await raiseAlert(tx, this.deps, { kind: 'approval_channel_failed', requestId, subject, resource, notification: { kind: 'approval_channel_failed', requestId, channel, resource, error, approvers } });
    });
  }

  /** Replies in the card's thread for each step of the request not replied yet, oldest first. */
  async thread(requestId: number, card: PostedCard): Promise<void> {
    const replied = await this.deps.db
      .select({ recipient: slackMessages.recipient })
      .from(slackMessages)
      .where(and(eq(slackMessages.requestId, requestId), eq(slackMessages.purpose, 'approval_thread')));
    const done = new Set(replied.map((r) => r.recipient));
    for (const { seq, step } of await approvalThreadSteps(this.deps.db, requestId)) {
      const key = `seq:${seq}`;
      if (done.has(key)) continue;
      const posted = await this.client.chat.postMessage({ channel: card.channel, thread_ts: card.ts, text: notificationMrkdwn({ kind: 'approval_thread', requestId, step }) });
      await this.deps.db
        .insert(slackMessages)
        .values({ requestId, purpose: 'approval_thread', recipient: key, channel: card.channel, ts: posted.ts ?? '' })
        .onConflictDoNothing();
    }
  }
}
