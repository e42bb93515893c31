import { describe, expect, it } from 'vitest';
import { plainText } from '../../src/domain/message.ts';
import { notificationWords, type Notification } from '../../src/domain/notifications.ts';
import { Refusal, refusalWords } from '../../src/domain/refusals.ts';
import { notificationMrkdwn, refusalMrkdwn } from '../../src/slack/render.ts';

const endsAt = '2026-03-02T12:00:00.000Z';
const unix = Date.parse(endsAt) / 1000;
const plain = (n: Notification) => plainText(notificationWords(n));

describe('notifications: Slack words them in mrkdwn, files and terminals get plain text', () => {
  it('Slack: code marks, a date token every reader sees in their own zone, and the emoji', () => {
    expect(notificationMrkdwn({ kind: 'grant_active', requestId: 7, resource: 'prod-db', endsAt })).toBe(
      `:unlock: Your access to \`prod-db\` is active until <!date^${unix}^{date_short_pretty} {time}|2026-03-02T12:00:00Z> (request #7). \`/breakglass end 7\` ends it early.`,
    );
  });

  it("someone's text is escaped for Slack, so it cannot ping the channel or disguise a link; our own marks are not", () => {
    const denied: Notification = { kind: 'request_denied', requestId: 3, resource: 'prod-db', approver: 'U0BOB', reason: '<!channel> see <http://evil|docs> & more' };
    expect(notificationMrkdwn(denied)).toBe(':no_entry: <@U0BOB> denied your request #3 for `prod-db`: &lt;!channel&gt; see &lt;http://evil|docs&gt; &amp; more');
    expect(plain(denied)).toBe('@U0BOB denied your request #3 for prod-db: <!channel> see <http://evil|docs> & more');
  });

  it('a security alert reads as human text in the evidence: no emoji, mentions, code marks or date tokens', () => {
    const overdue: Notification = { kind: 'review_overdue', campaignId: 4, period: '2026-Q1', reviewer: 'U0ALICE', dueAt: endsAt, undecided: 2, lines: 5, escalatedTo: 'U0BOB' };
    expect(plain(overdue)).toBe(
      "Access review #4 (2026-Q1) is overdue: @U0ALICE's review was due 2026-03-02T12:00:00Z and is not signed off (2 of 5 line(s) undecided). Their manager @U0BOB has been told.",
    );
    expect(notificationMrkdwn(overdue)).toBe(
      `:rotating_light: Access review #4 (2026-Q1) is overdue: <@U0ALICE>'s review was due <!date^${unix}^{date_short_pretty} {time}|2026-03-02T12:00:00Z> and is not signed off (2 of 5 line(s) undecided). Their manager <@U0BOB> has been told.`,
    );
    const unmanaged: Notification = { kind: 'offboarding_unmanaged', email: 'dan@example.com', resources: ['prod-db', 'ops'] };
    expect(plain(unmanaged)).toBe('dan@example.com left, but still has access breakglass did not grant: prod-db, ops. Remove it at the provider; the offboarding stays open until a listing shows it gone.');
    expect(notificationMrkdwn(unmanaged)).toBe(':warning: dan@example.com left, but still has access breakglass did not grant: `prod-db`, `ops`. Remove it at the provider; the offboarding stays open until a listing shows it gone.');
  });

  it('a checkpoint notice keeps its line in a code block in Slack and on a line of its own in plain text', () => {
    const notice: Notification = { kind: 'ledger_checkpoint', count: 1234, head: 'ab'.repeat(32), at: endsAt, fingerprint: 'SHA256:xyz', line: 'breakglass-checkpoint v1 count=1234' };
    expect(notificationMrkdwn(notice)).toContain('\n```\nbreakglass-checkpoint v1 count=1234\n```\nKeep this message');
    expect(notificationMrkdwn(notice)).toMatch(/^:lock: \*Ledger checkpoint\*: 1,234 event\(s\), head `abababababababab…`/);
    expect(plain(notice)).toContain('\nbreakglass-checkpoint v1 count=1234\nKeep this message');
  });
});

describe('refusals: a code and its facts; Slack and the terminal word them', () => {
  it('Slack gets mrkdwn; the Error message (CLI, logs) the same words without marks', () => {
    const refusal = new Refusal({ code: 'unknown_review_resources', unknown: ['prod-x', 'prod-y'], known: ['prod-db', 'ops'] });
    expect(refusalMrkdwn(refusal.reason)).toBe('No resource `prod-x`, `prod-y` in access.yml; known resources: prod-db, ops.');
    expect(refusal.message).toBe('No resource prod-x, prod-y in access.yml; known resources: prod-db, ops.');
  });

  it('mentions, bold and durations', () => {
    expect(refusalMrkdwn({ code: 'review_line_decided', by: 'U0BOB', decision: 'keep', person: 'Carol <x>', resource: 'ops' })).toBe(
      '<@U0BOB> already chose *keep* for Carol &lt;x&gt; on `ops`; nothing changed.',
    );
    expect(plainText(refusalWords({ code: 'too_long', resource: 'ops', durationMs: 2 * 3_600_000, maxMs: 3_600_000 }))).toBe(
      '2h is longer than ops allows (max_duration 1h). Ask for 1h or less; you can extend later.',
    );
  });
});
