import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { and, asc, eq, isNull, lte, sql } from 'drizzle-orm';
import { approvalCardView, emergencyReviewView, securityAlertView } from '../app/read-models.ts';
import type { AppDeps } from '../app/deps.ts';
import { accessRequests, alerts, outbox, slackMessages, type OutboxMessage } from '../db/schema.ts';
import { approvalCard } from './blocks/approval-card.ts';
import { emergencyReviewCard } from './blocks/emergency-review-card.ts';
import { securityAlert } from './blocks/security-alert.ts';
import { deliverReviewCard, uploadReviewReport } from './review-delivery.ts';
import { mapLimit } from '../app/limit.ts';

/** A claimed message is this process's for this long; after a crash another replica sends it. */
const LEASE_MS = 60_000;
const MAX_BACKOFF_MS = 5 * 60_000;
/** Slack errors no retry will fix: the message is dropped after logging (its evidence is already in the ledger). */
const PERMANENT = new Set(['channel_not_found', 'user_not_found', 'user_disabled', 'invalid_blocks', 'not_in_channel', 'is_archived', 'cannot_dm_bot', 'invalid_arguments', 'msg_too_long']);
const MAX_ATTEMPTS = 50;
const REVIEW_CARD_CONCURRENCY = 4;

type Deps = Pick<AppDeps, 'db' | 'clock' | 'access' | 'logger'>;

/**
 * Sends what the use cases queued. Rendering happens here, from the database, so a card always
 * shows the state at send time; a message is marked sent only after Slack accepted it.
 */
export class OutboxSender {
  constructor(
    private readonly deps: Deps,
    private readonly client: WebClient,
  ) {}

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
    const isDue = and(isNull(outbox.sentAt), lte(outbox.notBefore, now));
    if ((await this.deps.db.select({ id: outbox.id }).from(outbox).where(isDue).limit(1)).length === 0) return [];
    return this.deps.db.transaction(async (tx) => {
      const due = await tx
        .select({ id: outbox.id })
        .from(outbox)
        .where(isDue)
        .orderBy(asc(outbox.id))
        .limit(20)
        .for('update', { skipLocked: true });
      if (due.length === 0) return [];
      const ids = due.map((d) => d.id);
      return tx
        .update(outbox)
        .set({ notBefore: new Date(now.getTime() + LEASE_MS), attempts: sql`${outbox.attempts} + 1` })
        .where(sql`${outbox.id} in ${ids}`)
        .returning()
        .then((rows) => rows.sort((a, b) => a.id - b.id));
    });
  }

  private async failed(row: typeof outbox.$inferSelect, error: unknown): Promise<void> {
    const code = (error as { data?: { error?: string } }).data?.error;
    const message = code ?? (error instanceof Error ? error.message : String(error));
    const giveUp = (code !== undefined && PERMANENT.has(code)) || row.attempts >= MAX_ATTEMPTS;
    const now = this.deps.clock.now();
    // Slack's 429 says how long to wait (Retry-After); otherwise exponential backoff with jitter.
    const retryAfterMs = (error as { code?: string; retryAfter?: number }).code === 'slack_webapi_rate_limited_error' ? ((error as { retryAfter?: number }).retryAfter ?? 1) * 1_000 : undefined;
    const backoff = Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.min(row.attempts, 12));
    this.deps.logger[giveUp ? 'error' : 'warn']({ outboxId: row.id, type: row.message.type, attempts: row.attempts, err: message }, giveUp ? 'Slack message dropped' : 'Slack message failed; will retry');
    await this.deps.db
      .update(outbox)
      .set({ lastError: message, ...(giveUp ? { sentAt: now } : { notBefore: new Date(now.getTime() + (retryAfterMs ?? backoff / 2 + Math.random() * (backoff / 2))) }) })
      .where(eq(outbox.id, row.id));
  }

  private async deliver(message: OutboxMessage): Promise<void> {
    switch (message.type) {
      case 'notify_user':
        await this.dm(message.user, { text: message.text });
        return;
      case 'approval_cards':
      case 'refresh_cards':
        return this.cards(message.requestId, message.type === 'approval_cards');
      case 'emergency_review_cards':
        return this.emergencyCards(message.requestId, true);
      case 'security_alert':
        return this.alert(message.alertId);
      case 'refresh_home':
        return;
      case 'review_card':
        return deliverReviewCard(this.deps, this.client, message.cardId);
      case 'review_report':
        return uploadReviewReport(this.deps, this.client, message.campaignId);
      case 'security_text':
        await this.client.chat.postMessage({ channel: this.deps.access.config.security_channel, text: message.text });
        return;
    }
  }

  /** Posts the approval card to each approver once, then keeps every copy up to date in place. */
  private async cards(requestId: number, postMissing: boolean): Promise<void> {
    const view = await approvalCardView(this.deps, requestId);
    if (!view) return;
    const [request] = await this.deps.db.select({ approvers: accessRequests.approvers, kind: accessRequests.kind }).from(accessRequests).where(eq(accessRequests.id, requestId));
    const rendered = approvalCard(view);
    const existing = await this.deps.db.select().from(slackMessages).where(and(eq(slackMessages.requestId, requestId), eq(slackMessages.purpose, 'approval')));
    for (const card of existing) await this.client.chat.update({ channel: card.channel, ts: card.ts, text: rendered.text, blocks: rendered.blocks });
    if (postMissing) {
      const done = new Set(existing.map((card) => card.recipient));
      for (const approver of request?.approvers ?? []) {
        if (!done.has(approver)) await this.postAndRemember(requestId, 'approval', approver, rendered);
      }
    }
    if (request?.kind === 'emergency') await this.emergencyCards(requestId, false);
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
