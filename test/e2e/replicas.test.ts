/**
 * Three bot instances on one PostgreSQL, driven at once: nothing is done twice. The instances run
 * in this process (each its own Bolt app, HTTP port, postgres.js pool and workers) rather than as
 * child processes, because they must share one fake clock: expiry, reminders and checkpoints are
 * hours and days apart, and what keeps replicas from doubling work lives in the database (row
 * locks, FOR UPDATE SKIP LOCKED, leases), which separate pools exercise exactly as separate
 * processes do. The kill -9 tests (crash-safety.test.ts) cover what only a real process shows.
 */
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { approveRequest } from '../../src/app/decide-request.ts';
import { TAKEOVER_CONFIRM_MS } from '../../src/db/lease-holder.ts';
import { evidenceEvents, grants } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { otherProcessDeps } from '../support/process-deps.ts';
import { ledger, request, waitForCard } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { requestReview, reviewEvents, waitForReviewCard } from '../support/reviews.ts';
import { blockAction, post } from '../support/slack-requests.ts';
import { textOf } from '../support/slack-server.ts';

/** Generous: waits end as soon as the condition holds, and a loaded CI machine can be slow. */
const WAIT = 30_000;
vi.setConfig({ testTimeout: 60_000 });

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
reviews:
  schedule: quarterly
  due_in: 14d
  remind_every: 1d
`;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const REQUESTERS = ['U0ALICE', 'U0P1', 'U0P2', 'U0P3', 'U0P4', 'U0P5'];
/** Asks after the review, so the review's cards stay as they are. */
const LATE = 'U0P6';
const MANAGERS = ['U0MGR1', 'U0MGR2'];
const REPORTS = { U0MGR1: ['dave', 'erin'], U0MGR2: ['fay', 'gus'] } as const;
const email = (id: string) => `${id.replace(/^U0/, '').toLowerCase()}@example.com`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!postgresAvailable)('three replicas on one database [postgres]', () => {
  let h: Harness;
  let urls: string[];
  let databaseUrl: string;
  // A Monday in August: the quarterly schedule's next occurrence is in October, far from this test.
  const clock = new FakeClock('2026-08-03T10:00:00.000Z');

  beforeAll(async () => {
    h = await startHarness({
      database: 'postgres',
      accessYml: ACCESS,
      clock,
      tickMs: 50,
      routeDatabase: (url) => (databaseUrl = url),
      slack: { users: ['U0BOB', ...REQUESTERS, LATE, ...MANAGERS].map((id) => ({ id, name: id.slice(2).toLowerCase(), email: email(id) })) },
    });
    const replicas = [await h.replica(), await h.replica()];
    urls = [h.baseUrl, ...replicas.map((r) => `http://127.0.0.1:${r.port}`)];
    for (const id of ['U0BOB', ...REQUESTERS, LATE]) h.okta.addUser({ login: email(id), email: email(id) });
    for (const manager of MANAGERS) {
      const boss = h.okta.addUser({ login: email(manager), email: email(manager), firstName: manager, lastName: 'Manager' });
      for (const name of REPORTS[manager as keyof typeof REPORTS]) h.okta.addUser({ login: `${name}@example.com`, firstName: name, lastName: 'Report', managerId: boss.id });
    }
    h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
  });
  afterAll(async () => h?.stop());

  const db = () => h.bot.database.db;
  const membershipCalls = (method: 'PUT' | 'DELETE', user: string) =>
    h.okta.requests.filter((r) => r.method === method && r.path === `/api/v1/groups/00gPRODDB/users/${h.okta.user(email(user))!.id}`);
  const dmsTo = (user: string, pattern: RegExp) => h.slack.messagesTo(user).filter((m) => pattern.test(textOf(m)));
  const checkpointPosts = () => h.slack.messagesTo('C0SEC').filter((m) => textOf(m).includes('Ledger checkpoint'));
  const eventsOfKind = async (kind: string) => (await ledger(h)).filter((e) => e.kind === kind);

  it('the same Approve click delivered to all three at once grants once: one provider call, one grant.applied, one DM', async () => {
    const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-70 replication lag');
    const card = await waitForCard(h, 'U0BOB', requestId);
    // Bob's click delivered once to each replica (a double click, a proxy retrying with fresh
    // signatures): each delivery is its own signed request, so the guard against replays lets all three in.
    const clicks = urls.map(() => blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: card, responseUrl: h.slack.responseUrl('same-click') }));
    const answers = await Promise.all(urls.map((url, i) => post(url, clicks[i]!)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);

    await h.slack.waitFor(() => dmsTo('U0ALICE', /is active until/)[0], WAIT, 'Alice told access is active');
    // The two replicas that lost the race say so; the winner says nothing (the card updates).
    const replies = await h.slack.waitFor(() => (h.slack.responses('same-click').length >= 2 ? h.slack.responses('same-click') : undefined), WAIT, 'two replies');
    expect(replies.map((r) => String(r.body.text))).toEqual([`Request #${requestId} was already approved; nothing changed.`, `Request #${requestId} was already approved; nothing changed.`]);
    await sleep(500);
    expect(membershipCalls('PUT', 'U0ALICE')).toHaveLength(1);
    const events = (await ledger(h)).filter((e) => e.requestId === String(requestId));
    expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied']);
    expect(dmsTo('U0ALICE', /is active until/)).toHaveLength(1);
    expect(h.slack.responses('same-click')).toHaveLength(2);

    // The very same signed bytes sent again to every replica: a replay, ignored by all of them.
    const again = await Promise.all(urls.map((url) => post(url, clicks[0]!)));
    expect(again.map((a) => a.status)).toEqual([200, 200, 200]);
    await sleep(500);
    expect(h.slack.responses('same-click')).toHaveLength(2);
    expect(membershipCalls('PUT', 'U0ALICE')).toHaveLength(1);
  });

  it('grants that expire together are each revoked once across the replicas, with one grant.revoked and one DM each', async () => {
    const others = REQUESTERS.slice(1);
    const ids = await Promise.all(others.map(async (user) => (await request(h, user, 'prod-db 1h INC-71 load test')).requestId));
    const cards = await Promise.all(ids.map((id) => waitForCard(h, 'U0BOB', id)));
    await Promise.all(cards.map((card, i) => post(urls[i % 3]!, blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: card, responseUrl: h.slack.responseUrl(`expiry-${i}`) }))));
    await h.slack.waitFor(async () => ((await db().select().from(grants).where(eq(grants.state, 'active'))).length === REQUESTERS.length ? true : undefined), WAIT, 'all grants active');

    clock.advance(HOUR + 1_000);
    await h.slack.waitFor(async () => ((await db().select().from(grants)).every((g) => g.state === 'revoked') ? true : undefined), WAIT, 'all revoked');
    for (const user of REQUESTERS) await h.slack.waitFor(() => dmsTo(user, /has ended/)[0], WAIT, `${user} told access ended`);
    await sleep(500);
    expect(h.okta.memberLogins('00gPRODDB')).toEqual([]);
    for (const user of REQUESTERS) {
      expect(membershipCalls('DELETE', user)).toHaveLength(1);
      expect(dmsTo(user, /has ended/)).toHaveLength(1);
    }
    const revoked = await eventsOfKind('grant.revoked');
    expect(revoked.map((e) => e.subject).sort()).toEqual([...REQUESTERS].sort());
    for (const e of revoked) expect(e.details).toMatchObject({ reason: 'expired', provider_call: 'revoked', attempts: 1 });
    // The clock crossed the first checkpoint interval (an hour after the first event): one checkpoint, posted once.
    await h.slack.waitFor(() => checkpointPosts()[0], WAIT, 'the checkpoint in the security channel');
    expect(await eventsOfKind('ledger.checkpoint')).toHaveLength(1);
    expect(checkpointPosts()).toHaveLength(1);
  });

  it('an access review across them: one card per manager, one reminder per card after remind_every, one checkpoint and one post', async () => {
    for (const name of Object.values(REPORTS).flat()) h.okta.addMember('00gPRODDB', `${name}@example.com`);
    const started = await requestReview(h, ACCESS, clock, { period: '2026-08-replicas' });
    for (const manager of MANAGERS) await waitForReviewCard(h, manager, started.campaignId, undefined, WAIT);
    const cardPosts = (manager: string) =>
      h.slack.calls('chat.postMessage').filter((c) => String(c.params.text ?? '').startsWith(`Access review #${started.campaignId} (`) && c.params.channel === manager);
    const reminders = (manager: string) => dmsTo(manager, new RegExp(`^:bell: Reminder: access review #${started.campaignId} `));

    clock.advance(DAY + 60_000);
    for (const manager of MANAGERS) await h.slack.waitFor(() => reminders(manager)[0], WAIT, `${manager} reminded`);
    await h.slack.waitFor(() => (checkpointPosts().length >= 2 ? true : undefined), WAIT, 'the second checkpoint posted');
    await sleep(1_000);
    expect(await reviewEvents(h, started.campaignId, 'review.started')).toHaveLength(1);
    const reminded = await reviewEvents(h, started.campaignId, 'review.reminded');
    expect(reminded.map((e) => e.details['reviewer']).sort()).toEqual([...MANAGERS].sort());
    for (const manager of MANAGERS) {
      expect(cardPosts(manager)).toHaveLength(1);
      expect(reminders(manager)).toHaveLength(1);
    }
    expect(await eventsOfKind('ledger.checkpoint')).toHaveLength(2);
    expect(checkpointPosts()).toHaveLength(2);
  });

  it("a replica that starts never takes a live replica's grant lease; once that replica is gone, the next one to start takes it over at once", async () => {
    const { requestId } = await request(h, LATE, 'prod-db 1h INC-72 index rebuild');
    await waitForCard(h, 'U0BOB', requestId);
    // Another replica, alive (its session holds its lease-holder lock), approves and is still
    // waiting for Okta: its provider never answers.
    const session = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    const key = 424_242_424;
    await session`select pg_advisory_lock(${String(key)}::bigint)`;
    void approveRequest({ ...otherProcessDeps(h, { accessYml: ACCESS, clock, provider: {} }), leaseHolder: key }, { requestId, approver: 'U0BOB' });
    const grant = () => db().select().from(grants).where(eq(grants.requestId, requestId)).then((rows) => rows[0]);
    await h.slack.waitFor(async () => ((await grant())?.state === 'granting' ? true : undefined), WAIT, 'the grant leased to the other replica');

    await h.replica();
    await sleep(TAKEOVER_CONFIRM_MS + 1_500);
    expect(await grant()).toMatchObject({ state: 'granting', leaseHolder: key });
    expect(membershipCalls('PUT', LATE)).toEqual([]);

    // kill -9 of that replica: its session ends. The clock stands still, so only a takeover frees the lease.
    await session.end({ timeout: 1 });
    await h.replica();
    await h.slack.waitFor(async () => ((await grant())?.state === 'active' ? true : undefined), WAIT, 'the grant taken over and applied');
    await sleep(500);
    expect(membershipCalls('PUT', LATE)).toHaveLength(1);
    expect((await ledger(h)).filter((e) => e.requestId === String(requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied']);
  });

  it('leaves one intact chain', async () => {
    const events = await db().select().from(evidenceEvents).orderBy(evidenceEvents.seq);
    expect(events.filter((e) => e.kind === 'grant.applied')).toHaveLength(REQUESTERS.length + 1);
    expect(await verifyLedger(db())).toMatchObject({ ok: true });
    expect(h.slack.violations).toEqual([]);
  });
});
