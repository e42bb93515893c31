import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBot } from '../../src/bot.ts';
import { reviewCampaigns, reviewSchedules } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { clickReview, lineOn, requestReview, reviewEvents, waitForReviewCard } from '../support/reviews.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0CAROL] }
reviews:
  schedule: quarterly
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!postgresAvailable)('access reviews on two replicas [postgres]', () => {
  let h: Harness;
  let replica: RunningBot;
  // A minute before the third quarter's first working day.
  const clock = new FakeClock('2026-07-01T08:59:00.000Z');
  /** chat.postMessage calls that posted this campaign's card to the user (their DM): each card is posted once, then updated. */
  const cardsTo = (user: string, campaignId: number) =>
    h.slack.calls('chat.postMessage').filter((c) => String(c.params.text ?? '').startsWith(`Access review #${campaignId} (`) && c.params.channel === user);

  beforeAll(async () => {
    h = await startHarness({
      database: 'postgres',
      accessYml: ACCESS,
      clock,
      slack: {
        users: [
          { id: 'U0CAROL', name: 'carol', email: 'carol@example.com' },
          { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
        ],
      },
    });
    replica = await h.replica();
    const carol = h.okta.addUser({ login: 'carol@example.com', firstName: 'Carol', lastName: 'Chief' });
    const bob = h.okta.addUser({ login: 'bob@example.com', firstName: 'Bob', lastName: 'Boss', managerId: carol.id });
    h.okta.addUser({ login: 'alice@example.com', firstName: 'Alice', lastName: 'Able', managerId: bob.id });
    h.okta.addUser({ login: 'dave@example.com', firstName: 'Dave', lastName: 'Doe', managerId: bob.id });
    h.okta.addGroup({ id: '00gPRODDB', members: ['alice@example.com', 'dave@example.com', 'bob@example.com'] });
  });
  afterAll(async () => h?.stop());

  it('starts a scheduled campaign at the schedule\'s next occurrence, not at start-up, and once across replicas', async () => {
    await sleep(600);
    expect(await h.bot.database.db.select().from(reviewCampaigns)).toEqual([]);
    expect(await h.bot.database.db.select().from(reviewSchedules)).toMatchObject([{ schedule: 'quarterly', nextAt: new Date('2026-07-01T09:00:00.000Z') }]);

    clock.set('2026-07-01T09:00:01.000Z');
    const card = await waitForReviewCard(h, 'U0BOB', 1);
    await waitForReviewCard(h, 'U0CAROL', 1);
    await sleep(600);
    const campaigns = await h.bot.database.db.select().from(reviewCampaigns);
    expect(campaigns).toMatchObject([{ id: 1, period: '2026-Q3', trigger: 'schedule', requestedBy: 'breakglass', state: 'open' }]);
    expect(await reviewEvents(h, 1, 'review.started')).toHaveLength(1);
    expect(cardsTo('U0BOB', 1)).toHaveLength(1);
    expect(cardsTo('U0CAROL', 1)).toHaveLength(1);
    expect(lineOn(card, 'Alice Able', 'prod-db').decided).toBe(false);
    expect(await h.bot.database.db.select().from(reviewSchedules)).toMatchObject([{ nextAt: new Date('2026-10-01T09:00:00.000Z'), lastFiredAt: new Date('2026-07-01T09:00:01.000Z') }]);
  });

  it('decides a line once when a Keep and a Revoke reach different replicas at the same time', async () => {
    const card = await waitForReviewCard(h, 'U0BOB', 1);
    const alice = lineOn(card, 'Alice Able', 'prod-db');
    const clicks = await Promise.all([
      clickReview(h, 'U0BOB', card, ACTIONS.reviewKeep, alice.itemId),
      clickReview(h, 'U0BOB', card, ACTIONS.reviewRevoke, alice.itemId, `http://127.0.0.1:${replica.port}`),
    ]);
    const replies = await Promise.all(clicks.map((c) => c.reply(1_500)));
    const decided = (await reviewEvents(h, 1, 'review.decided')).filter((e) => e.details['item_id'] === alice.itemId);
    expect(decided).toHaveLength(1);
    expect(replies.filter((r) => r && /already chose/.test(r))).toHaveLength(1);
    if (decided[0]!.details['decision'] === 'revoke') {
      await h.slack.waitFor(() => !h.okta.isMember('00gPRODDB', 'alice@example.com') || undefined, 5_000, 'alice removed');
      await h.slack.waitFor(async () => (await reviewEvents(h, 1, 'grant.revoked')).length === 1 || undefined, 5_000, 'one grant.revoked');
    }
    await sleep(300);
    expect(await reviewEvents(h, 1, 'grant.revoked')).toHaveLength(decided[0]!.details['decision'] === 'revoke' ? 1 : 0);
  });

  it('builds a campaign asked for twice at once exactly once, whichever replica picks it up', async () => {
    const [a, b] = await Promise.all([requestReview(h, ACCESS, clock, { period: '2026-07-adhoc' }), requestReview(h, ACCESS, clock, { period: '2026-07-adhoc' })]);
    expect(a.campaignId).toBe(b.campaignId);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    await waitForReviewCard(h, 'U0BOB', a.campaignId);
    await waitForReviewCard(h, 'U0CAROL', a.campaignId);
    await sleep(600);
    expect(await reviewEvents(h, a.campaignId, 'review.started')).toHaveLength(1);
    expect(cardsTo('U0BOB', a.campaignId)).toHaveLength(1);
    expect(cardsTo('U0CAROL', a.campaignId)).toHaveLength(1);
    expect(h.slack.violations).toEqual([]);
    expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
  });
});
