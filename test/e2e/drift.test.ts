import { afterEach, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { clockAtNow, ledger, requestAndApprove, slash } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { clickReview, lineOn, requestReview, reviewEvents, waitForReviewCard } from '../support/reviews.ts';
import { textOf } from '../support/slack-server.ts';

/** Without an action the check is as good as off for a test: its first pass is an hour away. */
const access = (action?: 'report' | 'remove') => `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
drift:
  every: ${action ? 'PT1S' : 'PT1H'}
  action: ${action ?? 'report'}
`;

const USERS = [
  { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
  { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
  { id: 'U0CAROL', name: 'carol', email: 'carol@example.com' },
  { id: 'U0DAVE', name: 'dave', email: 'dave@example.com' },
  { id: 'U0ERIN', name: 'erin', email: 'erin@example.com' },
];

async function setUp(database: 'pglite' | 'postgres', action: 'report' | 'remove' | undefined, clock = clockAtNow()): Promise<Harness> {
  const h = await startHarness({ database, accessYml: access(action), slack: { users: USERS }, clock });
  const bob = h.okta.addUser({ login: 'bob@example.com', email: 'bob@example.com', firstName: 'bob', lastName: 'X' });
  for (const user of USERS.filter((u) => u.id !== 'U0BOB')) h.okta.addUser({ login: user.email, email: user.email, firstName: user.name, lastName: 'X', managerId: bob.id });
  h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
  return h;
}

const driftEvents = async (h: Harness) => (await ledger(h)).filter((e) => e.kind === 'drift.detected');
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Dave and Erin hold standing access to prod-db (granted outside breakglass). With drift checks
 * off, an access review keeps Dave's and revokes Erin's; then access.yml turns the check on with
 * `action`, and `whileStopped` changes the provider before the bot is back.
 */
async function reviewThenCheckDrift(database: 'pglite' | 'postgres', action: 'report' | 'remove', whileStopped: (h: Harness, clock: FakeClock) => void): Promise<{ h: Harness; campaignId: number }> {
  const clock = clockAtNow();
  const h = await setUp(database, undefined, clock);
  h.okta.addMember('00gPRODDB', 'dave@example.com');
  h.okta.addMember('00gPRODDB', 'erin@example.com');
  const { campaignId } = await requestReview(h, access(), clock, { period: 'drift-test' });
  const card = await waitForReviewCard(h, 'U0BOB', campaignId);
  await clickReview(h, 'U0BOB', card, ACTIONS.reviewKeep, lineOn(card, 'dave X', 'prod-db').itemId);
  const kept = await waitForReviewCard(h, 'U0BOB', campaignId, (c) => lineOn(c, 'dave X', 'prod-db').decided);
  await clickReview(h, 'U0BOB', kept, ACTIONS.reviewRevoke, lineOn(kept, 'erin X', 'prod-db').itemId);
  await h.slack.waitFor(async () => (await reviewEvents(h, campaignId, 'grant.revoked')).find((e) => e.details.principal === 'erin@example.com'), 10_000, "erin's review revoke");
  expect(h.okta.isMember('00gPRODDB', 'erin@example.com')).toBe(false);
  await h.restart(() => whileStopped(h, clock), { accessYml: access(action) });
  return { h, campaignId };
}

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`drift [${database}]`, () => {
    let h: Harness | undefined;
    afterEach(async () => {
      await h?.stop();
      h = undefined;
    });

    it('reports access added by hand at the provider, once, and leaves granted access alone', async () => {
      const harness = (h = await setUp(database, 'report'));
      await requestAndApprove(harness, 'U0ALICE', 'prod-db 2h INC-1 lag', ['U0BOB']);
      harness.okta.addMember('00gPRODDB', 'carol@example.com');
      const [found] = await harness.slack.waitFor(async () => ((await driftEvents(harness)).length > 0 ? driftEvents(harness) : undefined), 8_000, 'drift recorded');
      expect(found).toMatchObject({ subject: 'carol@example.com', resource: 'prod-db', details: { drift: 'unmanaged', action: 'report', removed: false } });
      await harness.slack.waitFor(() => harness.slack.messagesTo('C0SEC').find((m) => /Drift: carol@example\.com has access to `prod-db` that breakglass did not grant/.test(m.text ?? '')));
      await pause(2_500);
      expect(await driftEvents(harness)).toHaveLength(1);
      expect(harness.okta.isMember('00gPRODDB', 'carol@example.com')).toBe(true);
      expect(harness.okta.isMember('00gPRODDB', 'alice@example.com')).toBe(true);
      expect(await verifyLedger(harness.bot.database.db)).toMatchObject({ ok: true });
    });

    it('with drift: remove, revokes a revoke that did not take and access nobody granted', async () => {
      const clock = clockAtNow();
      const harness = (h = await setUp(database, 'remove', clock));
      await requestAndApprove(harness, 'U0ALICE', 'prod-db 2h INC-1 lag', ['U0BOB']);
      await (await slash(harness, 'U0ALICE', 'end 1')).reply();
      await harness.slack.waitFor(async () => (await ledger(harness)).find((e) => e.kind === 'grant.revoked'));
      // The provider answered the revoke but the membership came back (a sync job, a console click).
      harness.okta.addMember('00gPRODDB', 'alice@example.com');
      harness.okta.addMember('00gPRODDB', 'carol@example.com');
      clock.advance(2 * 60_000);
      await harness.slack.waitFor(async () => ((await driftEvents(harness)).length >= 2 ? true : undefined), 10_000, 'two drifts recorded');
      const drifts = await driftEvents(harness);
      expect(drifts.map((d) => [d.subject, d.details.drift, d.details.removed]).sort()).toEqual([
        ['alice@example.com', 'revoke_ineffective', true],
        ['carol@example.com', 'unmanaged', true],
      ]);
      expect(harness.okta.isMember('00gPRODDB', 'alice@example.com')).toBe(false);
      expect(harness.okta.isMember('00gPRODDB', 'carol@example.com')).toBe(false);
    });

    it('does not report access a review kept; reports a review revoke that did not take, and access nobody granted', async () => {
      const { h: harness, campaignId } = await reviewThenCheckDrift(database, 'report', (stopped, clock) => {
        // Erin's membership came back after the review removed it; Carol was added by hand.
        stopped.okta.addMember('00gPRODDB', 'erin@example.com');
        stopped.okta.addMember('00gPRODDB', 'carol@example.com');
        clock.advance(2 * 60_000);
      });
      h = harness;
      await harness.slack.waitFor(async () => ((await driftEvents(harness)).length >= 2 ? true : undefined), 10_000, 'two drifts recorded');
      await pause(2_500);
      const drifts = await driftEvents(harness);
      expect(drifts.map((d) => [d.subject, d.details.drift, d.details.removed]).sort()).toEqual([
        ['carol@example.com', 'unmanaged', false],
        ['erin@example.com', 'revoke_ineffective', false],
      ]);
      expect(drifts.find((d) => d.subject === 'erin@example.com')!.details).toMatchObject({ campaign_id: campaignId, review_item_id: expect.any(Number) });
      await harness.slack.waitFor(() => harness.slack.messagesTo('C0SEC').find((m) => textOf(m).includes(`Drift: erin@example.com still has access to \`prod-db\` although access review #${campaignId} revoked it`)), 5_000, "erin's drift alert");
      expect(['dave', 'erin', 'carol'].map((p) => harness.okta.isMember('00gPRODDB', `${p}@example.com`))).toEqual([true, true, true]);
    });

    it('with drift: remove, leaves access a review kept and removes access nobody granted, telling security', async () => {
      const { h: harness } = await reviewThenCheckDrift(database, 'remove', (stopped) => stopped.okta.addMember('00gPRODDB', 'carol@example.com'));
      h = harness;
      await harness.slack.waitFor(
        () =>
          harness.slack
            .messagesTo('C0SEC')
            .find((m) => textOf(m).includes('Drift: carol@example.com has access to `prod-db` that breakglass did not grant and no review kept. breakglass removed it (drift: remove).')),
        10_000,
        "carol's drift alert",
      );
      expect(harness.okta.isMember('00gPRODDB', 'carol@example.com')).toBe(false);
      await pause(2_500);
      expect((await driftEvents(harness)).map((d) => [d.subject, d.details.drift, d.details.removed])).toEqual([['carol@example.com', 'unmanaged', true]]);
      expect(harness.okta.isMember('00gPRODDB', 'dave@example.com')).toBe(true);
      expect(await verifyLedger(harness.bot.database.db)).toMatchObject({ ok: true });
    });
  });
}
