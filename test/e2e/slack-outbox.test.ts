/**
 * Slack notifications under Slack failures: an outage of any length delays them and loses none;
 * a message Slack refuses for good is given up visibly (an error log, a failed row), never marked
 * sent; and an alert the security channel refuses waits for the fix instead of vanishing.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { alerts, evidenceEvents, outbox } from '../../src/db/schema.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { click, grantOf, hasButton, request, waitForCard } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { textOf } from '../support/slack-server.ts';

const WAIT = 30_000;
vi.setConfig({ testTimeout: 180_000 });

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
  ops:
    grant: { okta_group: 00gOPS }
    max_duration: 1h
    approvers: { slack_users: [U0BOB] }
drift:
  every: PT1S
`;
const USERS = ['U0BOB', 'U0ALICE', 'U0CAROL', 'U0HANK'].map((id) => ({ id, name: id.slice(2).toLowerCase(), email: `${id.slice(2).toLowerCase()}@example.com` }));
const MINUTE = 60_000;
/** The old sender gave up (and marked the message sent) after this many attempts, about 2.5 h of outage. */
const OLD_ATTEMPT_BUDGET = 50;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`Slack outbox [${database}]`, () => {
    let h: Harness;
    const clock = new FakeClock();
    beforeAll(async () => {
      h = await startHarness({ database, accessYml: ACCESS, clock, tickMs: 25, slack: { users: USERS } });
      for (const u of USERS) h.okta.addUser({ login: u.email, email: u.email, firstName: u.name, lastName: 'Test' });
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
      h.okta.addGroup({ id: '00gOPS', name: 'ops' });
    });
    afterAll(async () => h?.stop());

    const db = () => h.bot.database.db;
    const unsent = () => db().select().from(outbox).where(and(isNull(outbox.sentAt), isNull(outbox.failedAt)));
    const rowsOf = (type: string) => db().select().from(outbox).where(sql`${outbox.message}->>'type' = ${type}`).orderBy(outbox.id);
    const logLines = () =>
      h
        .logs()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { level: number; msg: string; err?: unknown; outboxId?: number });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    /** Waits for `check` while time passes on the clock the outbox's backoff runs on. */
    const asTimePasses = <T>(check: () => T | undefined | Promise<T | undefined>, what: string, stepMs = MINUTE, timeoutMs = WAIT) =>
      h.slack.waitFor(async () => {
        const got = await check();
        if (got !== undefined) return got;
        clock.advance(stepMs);
        await sleep(50);
        return undefined;
      }, timeoutMs, what);

    it('an alert the security channel refuses (bot not invited) waits, logged as an error naming the fix, and arrives once fixed', async () => {
      h.slack.failNext('chat.postMessage', 3, { error: 'not_in_channel' });
      h.okta.addMember('00gOPS', 'carol@example.com');
      const [row] = await h.slack.waitFor(async () => {
        const rows = await rowsOf('security_alert');
        return rows[0]?.lastError === 'not_in_channel' ? rows : undefined;
      }, WAIT, 'the drift alert refused with not_in_channel');
      expect(row).toMatchObject({ sentAt: null, failedAt: null });
      const fix = logLines().find((l) => l.level === 50 && l.outboxId === row!.id);
      expect(fix?.msg).toMatch(/cannot post to the security channel C0SEC \(not_in_channel\): invite the bot to it/);
      // Someone invites the bot; the retries (each after its backoff) get through.
      const alert = await asTimePasses(() => h.slack.messagesTo('C0SEC').find((m) => /Drift: carol@example\.com has access to `ops`/.test(textOf(m))), 'the drift alert in the security channel');
      expect(hasButton(alert, ACTIONS.acknowledgeAlert)).toBe(true);
      const sent = await h.slack.waitFor(async () => (await db().select().from(outbox).where(eq(outbox.id, row!.id))).find((r) => r.sentAt !== null), WAIT, 'the alert marked sent');
      expect(sent.failedAt).toBeNull();
      expect(sent.attempts).toBeGreaterThan(1);
    });

    it('a message Slack refuses for good is not retried, and says so: an error log and a failed row, not a sent one', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'ops 30m INC-7 look at a queue');
      await waitForCard(h, 'U0BOB', requestId, undefined, WAIT);
      // The next card's DM meets Slack's permanent refusal.
      h.slack.failNext('conversations.open', 1, { error: 'user_not_found' });
      const { requestId: second } = await request(h, 'U0ALICE', 'prod-db 30m INC-8 another look');
      const failed = await h.slack.waitFor(async () => (await rowsOf('approval_cards')).find((r) => r.failedAt !== null), WAIT, 'the card marked failed');
      expect(failed).toMatchObject({ message: { type: 'approval_cards', requestId: second }, lastError: 'user_not_found', sentAt: null, attempts: 1 });
      expect(logLines().find((l) => l.level === 50 && l.outboxId === failed.id)).toMatchObject({ msg: expect.stringMatching(/Slack refused a message for good/), err: 'user_not_found' });
      clock.advance(30 * MINUTE);
      await sleep(500);
      const [later] = await db().select().from(outbox).where(eq(outbox.id, failed.id));
      expect(later).toMatchObject({ attempts: 1, sentAt: null });
      expect(h.slack.messagesTo('U0BOB').some((m) => textOf(m).includes(`Access request #${second}`))).toBe(false);
    });

    it(`Slack down for longer than ${OLD_ATTEMPT_BUDGET} attempts: every notification still arrives once Slack is back`, async () => {
      const { requestId } = await request(h, 'U0HANK', 'prod-db 4h INC-15 certificate expiry');
      const card = await waitForCard(h, 'U0BOB', requestId);
      h.slack.setOutage('unreachable');
      try {
        expect((await click(h, 'U0BOB', ACTIONS.approve, { message: card })).status).toBe(200);
        await h.slack.waitFor(async () => (await grantOf(h, requestId))?.state === 'active' || undefined, WAIT, 'grant active while Slack is down');
        // The notifications of the approval and the grant, tried once already.
        const queued = await h.slack.waitFor(async () => {
          const rows = await unsent();
          return rows.some((r) => r.message.type === 'notify_user') && rows.every((r) => r.attempts > 0) ? rows.map((r) => r.id) : undefined;
        }, WAIT, 'the notifications tried and failed');
        // Backoff is capped at 5 minutes: each 5 minutes on the clock makes every one of them due again.
        await asTimePasses(
          async () => {
            const rows = (await unsent()).filter((r) => queued.includes(r.id));
            return rows.length === queued.length && rows.every((m) => m.attempts > OLD_ATTEMPT_BUDGET + 5) ? true : undefined;
          },
          `every queued notification tried more than ${OLD_ATTEMPT_BUDGET + 5} times, still queued`,
          5 * MINUTE + 1_000,
          150_000,
        );
      } finally {
        h.slack.setOutage(null);
      }
      await asTimePasses(() => h.slack.messagesTo('U0HANK').find((m) => /is active until/.test(textOf(m))), 'Hank told his access is active');
      // The outage outlasted the grant: its end is told too.
      await asTimePasses(() => h.slack.messagesTo('U0HANK').find((m) => /has ended \(request #\d+\)/.test(textOf(m))), 'Hank told his access ended');
      await asTimePasses(async () => ((await unsent()).length === 0 ? true : undefined), 'outbox drained');
      expect((await db().select().from(outbox).where(sql`${outbox.failedAt} is not null`)).map((r) => r.lastError)).toEqual(['user_not_found']);
      expect(h.slack.violations).toEqual([]);
    });
    it('messages queued as finished Slack text before notifications were data still go out as they were; new ones hold facts, and alerts keep plain text for the evidence', async () => {
      const now = clock.now();
      const legacyDm = ':hourglass: Your request #999 for `prod-db` expired before enough approvers decided. You can ask again.';
      const legacyNotice = ':bell: Reminder: access review #9 (2026-Q1) is open and 1 of 2 line(s) are still undecided.';
      const legacyAlert = ":warning: Revoking <@U0CAROL>'s access to `ops` (request #998) failed: boom &amp; more. breakglass keeps retrying until it succeeds.";
      const [alert] = await db().insert(alerts).values({ kind: 'revoke_failed', text: legacyAlert, createdAt: now }).returning({ id: alerts.id });
      await db()
        .insert(outbox)
        .values([
          { message: { type: 'notify_user', user: 'U0CAROL', text: legacyDm }, createdAt: now, notBefore: now },
          { message: { type: 'security_text', text: legacyNotice }, createdAt: now, notBefore: now },
          { message: { type: 'security_alert', alertId: alert!.id }, createdAt: now, notBefore: now },
        ]);
      await asTimePasses(() => h.slack.messagesTo('U0CAROL').find((m) => m.text === legacyDm), 'the old DM sent as it was');
      await asTimePasses(() => h.slack.messagesTo('C0SEC').find((m) => m.text === legacyNotice), 'the old security notice sent as it was');
      const posted = await asTimePasses(() => h.slack.messagesTo('C0SEC').find((m) => textOf(m).includes(legacyAlert)), 'the old alert posted with its Slack text');
      expect(textOf(posted)).toContain('Acknowledge');

      // What this version queued holds the facts, not Slack text.
      const dms = (await rowsOf('notify_user')).map((r) => r.message).filter((m) => !('text' in m));
      expect(dms.length).toBeGreaterThan(0);
      expect(dms).toContainEqual(expect.objectContaining({ user: 'U0HANK', notification: expect.objectContaining({ kind: 'grant_active', resource: 'prod-db' }) }));
      // The drift alert: facts to word for Slack, plain text for the evidence (and the audit pack after it).
      const [drift] = await db().select().from(alerts).where(eq(alerts.kind, 'drift'));
      const plain = 'Drift: carol@example.com has access to ops that breakglass did not grant and no review kept. Remove it at the provider, or set drift: remove.';
      expect(drift).toMatchObject({ text: plain, notification: { kind: 'drift', principal: 'carol@example.com', resource: 'ops', removed: false, cause: { unmanaged: true } } });
      const raised = (await db().select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'alert.raised'))).find((e) => e.details.alert_id === drift!.id);
      expect(raised?.details.text).toBe(plain);
    });
  });
}
