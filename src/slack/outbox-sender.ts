import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { and, eq, isNull, lte, sql } from 'drizzle-orm';
import { approvalCardView, emergencyReviewView, securityAlertView } from '../app/read-models.ts';
import type { AppDeps } from '../app/deps.ts';
import { accessRequests, alerts, humanTasks, outbox, reviewCards, slackMessages, type OutboxMessage } from '../db/schema.ts';
import { approvalCard } from './blocks/approval-card.ts';
import { humanTaskCard } from './blocks/human-task-card.ts';
import { humanTaskView, rememberTaskCard } from '../app/human-tasks.ts';
import { emergencyReviewCard } from './blocks/emergency-review-card.ts';
import { securityAlert } from './blocks/security-alert.ts';
import { deliverReviewCard, uploadReviewReport } from './review-delivery.ts';
import { mapLimit } from '../app/limit.ts';
import { notificationMessage, notificationMrkdwn } from './render.ts';
import { classifySlackFailure } from './slack-failure.ts';
import { backoffMs } from '../domain/backoff.ts';
import { claimDue } from '../db/claim-due.ts';
import { ChannelCard, isChannelCard } from './channel-card.ts';

/** A claimed message is this process's for this long; after a crash another replica sends it. */
const LEASE_MS = 60_000;
/** However long Slack is away, a message is tried again at least this often. */
const MAX_BACKOFF_MS = 5 * 60_000;
const REVIEW_CARD_CONCURRENCY = 4;

type Deps = Pick<AppDeps, 'db' | 'clock' | 'access' | 'logger' | 'ledger'>;

/**
 * Sends what the use cases queued. Rendering happens here, from the database, so a card always
 * shows the state at send time; a message is marked sent only after Slack accepted it. While
 * Slack fails in a way that passes (unreachable, 429, 5xx) a message is retried for as long as it
 * takes; one Slack refuses for good is marked failed and logged as an error, never as sent.
 */
export class OutboxSender {
  private readonly channelCard: ChannelCard;

  constructor(
    private readonly deps: Deps,
    private readonly client: WebClient,
  ) {
    this.channelCard = new ChannelCard(deps, client);
  }

  /** Sends one batch; returns how many messages it handled. */
  async sendDue(): Promise<number> {
    const batch = await this.claim();
    const send = async (row: (typeof batch)[number]) => {
      try {
        await this.deliver(row.message);
        await this.deps.db.update(outbox).set({ sentAt: this.deps.clock.now(), lastError: null }).where(eq(outbox.id, row.id));
      } catch (error) {
        await this.failed(row, error);
      }
    };
    // Access-review cards go to different people and need no order among themselves, so a
    // campaign's cards go out a few at a time (each card's own messages still one after another);
    // everything else keeps the outbox's order.
    const cards = new Map<number, Array<(typeof batch)[number]>>();
    for (const row of batch) {
      if (row.message.type === 'review_card') cards.set(row.message.cardId, [...(cards.get(row.message.cardId) ?? []), row]);
      else await send(row);
    }
    await mapLimit([...cards.values()], REVIEW_CARD_CONCURRENCY, async (rows) => {
      for (const row of rows) await send(row);
    });
    return batch.length;
  }

  private async claim() {
    const now = this.deps.clock.now();
    const isDue = and(isNull(outbox.sentAt), isNull(outbox.failedAt), lte(outbox.notBefore, now));
    return claimDue(this.deps.db, {
      table: outbox,
      id: outbox.id,
      isDue,
      limit: 20,
      claim: (tx, ids) =>
        tx
          .update(outbox)
          .set({ notBefore: new Date(now.getTime() + LEASE_MS), attempts: sql`${outbox.attempts} + 1` })
          .where(sql`${outbox.id} in ${ids}`)
          .returning()
          .then((rows) => rows.sort((a, b) => a.id - b.id)),
    });
  }

  private async failed(row: typeof outbox.$inferSelect, error: unknown): Promise<void> {
    const failure = classifySlackFailure(error);
    const now = this.deps.clock.now();
    const about = { outboxId: row.id, type: row.message.type, attempts: row.attempts };
    // The security channel is breakglass's own: a refusal there is a setup problem an operator
    // fixes, after which the alert must still arrive, so it waits instead of being given up.
    const waitsForFix = failure.permanent && failure.channelProblem && (await this.forSecurityChannel(row.message));
    if (failure.permanent && !waitsForFix) {
      this.deps.logger.error({ ...about, err: failure.code, message: row.message }, 'Slack refused a message for good; it is not sent (outbox.failed_at, last_error)');
      await this.deps.db.update(outbox).set({ failedAt: now, lastError: failure.code }).where(eq(outbox.id, row.id));
      return;
    }
    const reason = failure.permanent ? failure.code : failure.reason;
    const channel = this.deps.access.config.security_channel;
    if (waitsForFix) {
      this.deps.logger.error(
        { ...about, err: reason, channel },
        `breakglass cannot post to the security channel ${channel} (${reason}): invite the bot to it (/invite @breakglass in that channel) or correct security_channel in access.yml; the message is kept and retried`,
      );
    } else {
      this.deps.logger.warn({ ...about, err: reason }, 'Slack message failed; will retry');
    }
    // Slack's Retry-After (429, at times 503) says how long to wait; otherwise capped exponential backoff with jitter.
    const waitMs = (failure.permanent ? undefined : failure.retryAfterMs) ?? backoffMs(row.attempts, { baseMs: 1_000, maxMs: MAX_BACKOFF_MS, jitter: 'upper-half' });
    await this.deps.db
      .update(outbox)
      .set({ lastError: reason, notBefore: new Date(now.getTime() + waitMs) })
      .where(eq(outbox.id, row.id));
  }

  private async forSecurityChannel(message: OutboxMessage): Promise<boolean> {
    if (message.type === 'security_alert' || message.type === 'notify_security' || message.type === 'security_text' || message.type === 'review_report') return true;
    if (message.type !== 'review_card') return false;
    const [card] = await this.deps.db.select({ audience: reviewCards.audience }).from(reviewCards).where(eq(reviewCards.id, message.cardId));
    return card?.audience === 'security';
  }

  private async deliver(message: OutboxMessage): Promise<void> {
    switch (message.type) {
      case 'notify_user':
        await this.dm(message.user, 'notification' in message ? notificationMessage(message.notification) : { text: message.text });
        return;
      case 'notify_security':
        await this.client.chat.postMessage({ channel: this.deps.access.config.security_channel, text: notificationMrkdwn(message.notification) });
        return;
      case 'approval_cards':
        return this.cards(message.requestId, { channel: message.channel });
      case 'refresh_cards':
        return this.cards(message.requestId, false);
      case 'emergency_review_cards':
        return this.emergencyCards(message.requestId, true);
      case 'security_alert':
        return this.alert(message.alertId);
      case 'review_card':
        return deliverReviewCard(this.deps, this.client, message.cardId);
      case 'review_report':
        return uploadReviewReport(this.deps, this.client, message.campaignId);
      case 'human_task_card':
        return this.humanTaskCard(message.taskId, message.owner);
      case 'security_text':
        await this.client.chat.postMessage({ channel: this.deps.access.config.security_channel, text: message.text });
        return;
    }
  }

  /**
   * Posts the approval card once (to the approval channel, or else to each approver), then keeps
   * every copy up to date in place; a channel card's thread gets a reply for each step.
   */
  private async cards(requestId: number, post: { channel?: string | undefined } | false): Promise<void> {
    const view = await approvalCardView(this.deps, requestId);
    if (!view) return;
    const [request] = await this.deps.db.select({ approvers: accessRequests.approvers, kind: accessRequests.kind }).from(accessRequests).where(eq(accessRequests.id, requestId));
    const rendered = approvalCard(view);
    const existing = await this.deps.db.select().from(slackMessages).where(and(eq(slackMessages.requestId, requestId), eq(slackMessages.purpose, 'approval')));
    for (const card of existing) await this.client.chat.update({ channel: card.channel, ts: card.ts, text: rendered.text, blocks: rendered.blocks });
    const inChannel = post && post.channel ? await this.channelCard.place(requestId, post.channel, rendered, existing) : false;
    if (post && !inChannel) {
      const done = new Set(existing.map((card) => card.recipient));
      for (const approver of request?.approvers ?? []) {
        if (!done.has(approver)) await this.postAndRemember(requestId, 'approval', approver, rendered);
      }
    }
    const channelCard = existing.find(isChannelCard);
    if (channelCard) await this.channelCard.thread(requestId, channelCard);
    if (request?.kind === 'emergency' || request?.kind === 'on_call') await this.emergencyCards(requestId, false);
  }

  private async emergencyCards(requestId: number, postMissing: boolean): Promise<void> {
    const view = await emergencyReviewView(this.deps, requestId);
    if (!view) return;
    const rendered = emergencyReviewCard(view);
    const existing = await this.deps.db.select().from(slackMessages).where(and(eq(slackMessages.requestId, requestId), eq(slackMessages.purpose, 'emergency_review')));
    for (const card of existing) await this.client.chat.update({ channel: card.channel, ts: card.ts, text: rendered.text, blocks: rendered.blocks });
    if (!postMissing) return;
    const [request] = await this.deps.db.select({ approvers: accessRequests.approvers }).from(accessRequests).where(eq(accessRequests.id, requestId));
    const done = new Set(existing.map((card) => card.recipient));
    for (const approver of request?.approvers ?? []) {
      if (!done.has(approver)) await this.postAndRemember(requestId, 'emergency_review', approver, rendered);
    }
  }

  /** Posts an owner's task card once, then updates it in place (done, or nothing left to do). */
  private async humanTaskCard(taskId: number, owner: string): Promise<void> {
    const view = await humanTaskView(this.deps, taskId);
    if (!view) return;
    const rendered = humanTaskCard(view);
    const [task] = await this.deps.db.select({ cards: humanTasks.cards }).from(humanTasks).where(eq(humanTasks.id, taskId));
    const posted = task?.cards[owner];
    if (posted) {
      await this.client.chat.update({ channel: posted.channel, ts: posted.ts, text: rendered.text, blocks: rendered.blocks });
      return;
    }
    const card = await this.dm(owner, rendered);
    if (card.channel && card.ts) await rememberTaskCard(this.deps, taskId, owner, { channel: card.channel, ts: card.ts });
  }

  private async alert(alertId: number): Promise<void> {
    const view = await securityAlertView(this.deps.db, alertId);
    if (!view) return;
    const rendered = securityAlert(view);
    if (view.channel && view.ts) {
      await this.client.chat.update({ channel: view.channel, ts: view.ts, text: rendered.text, blocks: rendered.blocks });
      return;
    }
    const posted = await this.client.chat.postMessage({ channel: this.deps.access.config.security_channel, text: rendered.text, blocks: rendered.blocks });
    await this.deps.db.update(alerts).set({ channel: posted.channel ?? null, ts: posted.ts ?? null }).where(eq(alerts.id, alertId));
  }

  private async postAndRemember(requestId: number, purpose: 'approval' | 'emergency_review', user: string, rendered: { text: string; blocks: KnownBlock[] }): Promise<void> {
    const posted = await this.dm(user, rendered);
    if (!posted.channel || !posted.ts) return;
    await this.deps.db.insert(slackMessages).values({ requestId, purpose, recipient: user, channel: posted.channel, ts: posted.ts }).onConflictDoNothing();
  }

  private async dm(user: string, content: { text: string; blocks?: KnownBlock[] }): Promise<{ channel?: string | undefined; ts?: string | undefined }> {
    const opened = await this.client.conversations.open({ users: user });
    const channel = opened.channel?.id;
    if (!channel) throw new Error(`could not open a direct message with ${user}`);
    const posted = await this.client.chat.postMessage({ channel, text: content.text, ...(content.blocks ? { blocks: content.blocks } : {}) });
    return { channel: posted.channel, ts: posted.ts };
  }
}
