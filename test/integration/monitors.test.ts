/**
 * Suspicious-pattern monitors (access.yml `monitors`): each reads the ledger after the fact and
 * raises one security alert, with its evidence, for the event that completes a pattern — and
 * none for the ordinary case next to it. Two replicas reading at once raise each alert once.
 */
import { eq } from 'drizzle-orm';
import { afterEach, expect, it } from 'vitest';
import { exportLog } from '../../src/app/export-log.ts';
import { watchSuspiciousPatterns } from '../../src/app/monitors/watch-patterns.ts';
import type { AppDeps } from '../../src/app/deps.ts';
import { parseAccessConfig } from '../../src/config/access.ts';
import { alerts, evidenceEvents, monitorCursor, outbox, reviewCampaigns, reviewCards } from '../../src/db/schema.ts';
import type { EvidenceEvent } from '../../src/domain/events.ts';
import { plainText } from '../../src/domain/message.ts';
import { notificationWords, type Notification } from '../../src/domain/notifications.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { wipeLedger } from '../support/tamper.ts';

const START = '2026-03-02T09:00:00.000Z'; // a Monday
const MINUTE = 60_000;
const DAY = 86_400_000;

function accessWith(monitors: string) {
  const text = `security_channel: C0SEC
security: { slack_users: [U0SEC] }
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB, U0CAROL] }
    emergency_self_grant: true
${monitors}`;
  return { config: parseAccessConfig(text), hash: 'test', text, path: 'access.yml' };
}

describeEachDatabase('suspicious-pattern monitors', (ctx) => {
  const clock = new FakeClock(START);
  const ledger = new Ledger(clock);
  let access = accessWith('');
  const deps = () => ({ db: ctx.database.db, ledger, clock, access, wake: { grants() {}, outbox() {} } }) as unknown as AppDeps;
  let requestId = 100;

  afterEach(async () => {
    await wipeLedger(ctx.database.db);
    await ctx.database.db.delete(alerts);
    await ctx.database.db.delete(outbox);
    await ctx.database.db.update(monitorCursor).set({ seq: 0 });
    clock.set(START);
    access = accessWith('');
  });

  const append = (event: EvidenceEvent & { actor: string; subject?: string; resource?: string; requestId?: number }) =>
    ctx.database.db.transaction((tx) => ledger.append(tx, event as Parameters<Ledger['append']>[1]));

  async function grantApplied(person: string, emergency: boolean) {
    const id = ++requestId;
    const startsAt = clock.now().toISOString();
    await append({ kind: 'grant.applied', actor: 'breakglass', subject: person, resource: 'prod-db', requestId: id, details: { grant_id: id, provider: 'okta', target: { kind: 'okta_group', groupId: '00gPRODDB' }, starts_at: startsAt, ends_at: startsAt, provider_expiry: startsAt, emergency } });
  }
  const approved = (approver: string, requester: string) =>
    append({ kind: 'request.approved', actor: approver, subject: requester, resource: 'prod-db', requestId: ++requestId, details: { approvals: 1, approvals_required: 1, final: true, config_hash: 'test' } });
  const denied = (approver: string, requester: string) =>
    append({ kind: 'request.denied', actor: approver, subject: requester, resource: 'prod-db', requestId: ++requestId, details: { reason: 'not now', config_hash: 'test' } });

  /** What the security channel was told: each alert's kind and its plain words. */
  async function raised(): Promise<Array<{ kind: string; words: string }>> {
    while ((await watchSuspiciousPatterns(deps())) > 0);
    const rows = await ctx.database.db.select().from(alerts).orderBy(alerts.id);
    return rows.map((row) => ({ kind: row.kind, words: plainText(notificationWords(row.notification as Notification)) }));
  }

  it('alerts once when one person self-grants emergency access a third time within a week', async () => {
    await grantApplied('U0ALICE', true);
    clock.advance(DAY);
    await grantApplied('U0ALICE', true);
    await grantApplied('U0DAVE', true);
    await grantApplied('U0ALICE', false);
    expect(await raised()).toEqual([]);
    clock.advance(DAY);
    await grantApplied('U0ALICE', true);
    clock.advance(DAY);
    await grantApplied('U0ALICE', true);
    const alertsRaised = await raised();
    expect(alertsRaised).toHaveLength(1);
    expect(alertsRaised[0]!.kind).toBe('repeated_emergency');
    expect(alertsRaised[0]!.words).toContain('@U0ALICE self-granted emergency access 3 times within 7d');
    // The evidence: an alert.raised event about Alice, which readiness lists until acknowledged.
    const [event] = await ctx.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'alert.raised'));
    expect(event).toMatchObject({ subject: 'U0ALICE', resource: 'prod-db', details: { alert_kind: 'repeated_emergency' } });
  });

  it('does not count emergency grants that fell out of the window', async () => {
    await grantApplied('U0ALICE', true);
    clock.advance(8 * DAY);
    await grantApplied('U0ALICE', true);
    clock.advance(DAY);
    await grantApplied('U0ALICE', true);
    expect(await raised()).toEqual([]);
  });

  it('alerts on a grant outside the configured working hours, read in their time zone', async () => {
    access = accessWith(`monitors:
  working_hours: { time_zone: Europe/Berlin, days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00" }
`);
    clock.set('2026-03-02T09:00:00.000Z'); // Monday 10:00 in Berlin
    await grantApplied('U0ALICE', false);
    clock.set('2026-03-02T17:30:00.000Z'); // Monday 18:30 in Berlin
    await grantApplied('U0ALICE', false);
    clock.set('2026-03-07T10:00:00.000Z'); // Saturday
    await grantApplied('U0DAVE', false);
    const found = await raised();
    expect(found.map((a) => a.kind)).toEqual(['grant_outside_hours', 'grant_outside_hours']);
    expect(found[0]!.words).toContain('@U0ALICE was granted prod-db');
    expect(found[0]!.words).toContain('outside working hours (Europe/Berlin)');
    expect(found[1]!.words).toContain('@U0DAVE');
  });

  it('leaves working hours alone until they are configured', async () => {
    clock.set('2026-03-07T23:00:00.000Z');
    await grantApplied('U0ALICE', false);
    expect(await raised()).toEqual([]);
  });

  it('alerts when a request one approver denied is approved by another', async () => {
    await denied('U0BOB', 'U0ALICE');
    clock.advance(10 * MINUTE);
    await approved('U0BOB', 'U0ALICE'); // the same approver changing their mind is not the pattern
    expect(await raised()).toEqual([]);
    clock.advance(10 * MINUTE);
    await approved('U0CAROL', 'U0ALICE');
    const found = await raised();
    expect(found.map((a) => a.kind)).toEqual(['reasked_after_denial']);
    expect(found[0]!.words).toMatch(/@U0CAROL approved @U0ALICE's request for prod-db \(request #\d+\) after @U0BOB denied the same access \(request #\d+\)/);
  });

  it('does not connect a denial older than the window', async () => {
    await denied('U0BOB', 'U0ALICE');
    clock.advance(2 * DAY);
    await approved('U0CAROL', 'U0ALICE');
    expect(await raised()).toEqual([]);
  });

  it('alerts once when one approver approves one requester more often than allowed', async () => {
    access = accessWith(`monitors:
  repeated_approver: { max: 3, within: 30d }
`);
    for (let i = 0; i < 3; i++) {
      await approved('U0BOB', 'U0ALICE');
      await approved('U0CAROL', 'U0DAVE');
      clock.advance(DAY);
    }
    expect(await raised()).toEqual([]);
    await approved('U0BOB', 'U0ALICE');
    await approved('U0BOB', 'U0ALICE');
    const found = await raised();
    expect(found.map((a) => a.kind)).toEqual(['repeated_approver']);
    expect(found[0]!.words).toContain("@U0BOB has approved @U0ALICE's requests 4 times within 30d");
  });

  it("alerts on a review card kept whole faster than its lines can be read, from the card's Slack timestamp", async () => {
    const cardId = await reviewCard('U0MGR', new Date(clock.now().getTime()));
    clock.advance(20_000);
    await signedOff(cardId, 'U0MGR', { lines: 20, kept: 20, revoked: 0 });
    const slowCard = await reviewCard('U0MGR2', clock.now());
    clock.advance(5 * MINUTE);
    await signedOff(slowCard, 'U0MGR2', { lines: 20, kept: 20, revoked: 0 });
    const revokedCard = await reviewCard('U0MGR3', clock.now());
    clock.advance(10_000);
    await signedOff(revokedCard, 'U0MGR3', { lines: 20, kept: 19, revoked: 1 });
    const found = await raised();
    expect(found.map((a) => a.kind)).toEqual(['hasty_sign_off']);
    expect(found[0]!.words).toContain('@U0MGR kept all 20 line(s)');
    expect(found[0]!.words).toContain('signed off 20 s after getting the card');
  });

  it('records every /breakglass log export and alerts on a large one', async () => {
    access = accessWith(`monitors:
  large_log_export: { max_events: 4 }
`);
    for (let i = 0; i < 3; i++) await denied('U0BOB', `U0P${i}`);
    const small = await exportLog(deps(), { user: 'U0SEC', days: 1 });
    expect(small.count).toBe(3);
    expect(await raised()).toEqual([]);
    const large = await exportLog(deps(), { user: 'U0SEC', days: 1 });
    expect(large.count).toBe(4); // the three denials and the first export's own record
    const found = await raised();
    expect(found.map((a) => a.kind)).toEqual(['large_log_export']);
    expect(found[0]!.words).toContain('@U0SEC exported 4 evidence event(s)');
    const exports = await ctx.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'log.exported'));
    expect(exports.map((e) => [e.actor, e.details.events])).toEqual([['U0SEC', 3], ['U0SEC', 4]]);
  });

  it('is off per monitor with `false`', async () => {
    access = accessWith(`monitors:
  emergency_self_grants: false
`);
    for (let i = 0; i < 4; i++) await grantApplied('U0ALICE', true);
    expect(await raised()).toEqual([]);
  });

  it('raises each alert once when replicas read the ledger at the same time', async () => {
    for (let i = 0; i < 3; i++) await grantApplied('U0ALICE', true);
    await Promise.all([watchSuspiciousPatterns(deps()), watchSuspiciousPatterns(deps()), watchSuspiciousPatterns(deps())]);
    expect((await raised()).map((a) => a.kind)).toEqual(['repeated_emergency']);
  });

  async function reviewCard(recipient: string, postedAt: Date): Promise<number> {
    const db = ctx.database.db;
    const [campaign] = await db
      .insert(reviewCampaigns)
      .values({ period: `2026-Q1-${recipient}`, scope: ['prod-db'], scopeKey: 'prod-db', trigger: 'manual', requestedBy: 'U0SEC', requestedAt: postedAt, state: 'open' })
      .returning({ id: reviewCampaigns.id });
    const [card] = await db
      .insert(reviewCards)
      .values({ campaignId: campaign!.id, audience: 'manager', recipient, channel: 'D0MGR', ts: (postedAt.getTime() / 1000).toFixed(6) })
      .returning({ id: reviewCards.id });
    return card!.id;
  }

  async function signedOff(cardId: number, reviewer: string, counts: { lines: number; kept: number; revoked: number }) {
    const [card] = await ctx.database.db.select().from(reviewCards).where(eq(reviewCards.id, cardId));
    await append({ kind: 'review.signed_off', actor: reviewer, details: { campaign_id: card!.campaignId, period: '2026-Q1', card_id: cardId, reviewer, audience: 'manager', by_assigned_reviewer: true, ...counts, due_at: null, overdue: false } });
  }
});

it('refuses working hours it cannot read, naming the setting', () => {
  expect(() => accessWith(`monitors:
  working_hours: { time_zone: Mars/Olympus, from: "08:00", to: "18:00" }
`)).toThrow(/time_zone.*not a time zone/s);
  expect(() => accessWith(`monitors:
  working_hours: { time_zone: UTC, from: "18:00", to: "8:00" }
`)).toThrow(/not a time of day/);
});
