import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alerts } from '../../src/db/schema.ts';
import { loadReviewReport, reviewReportMarkdown } from '../../src/reports/review/review-report.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { campaignRow, lineOn, requestReview, reviewEvents, waitForCampaignState, waitForReviewCard } from '../support/reviews.ts';
import { textOf } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
security: { slack_users: [U0SEC1] }
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
  prod-gone:
    description: An Okta group someone deleted
    grant: { okta_group: 00gGONE }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
  prod-admin:
    description: AWS production administrators
    grant: { aws_iam_group: ProdAdmins }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
  prod-iam-gone:
    description: An IAM group someone deleted
    grant: { aws_iam_group: Deleted }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
reviews:
  schedule: quarterly
  due_in: 14d
  remind_every: 3d
`;

const SLACK_USERS = [
  { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
  { id: 'U0HAL', name: 'hal', email: 'hal@example.com' },
  { id: 'U0DAVE', name: 'dave', email: 'dave@example.com' },
  { id: 'U0IVY', name: 'ivy', email: 'ivy@example.com' },
  { id: 'U0GINA', name: 'gina', email: 'gina@example.com' },
  { id: 'U0HANK', name: 'hank', email: 'hank@example.com' },
  { id: 'U0SEC1', name: 'sec', email: 'sec@example.com' },
];

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`access reviews with bad records [${database}]`, () => {
    let h: Harness;
    const clock = new FakeClock('2026-05-04T09:00:00.000Z');
    const buildAlerts = async () => (await h.bot.database.db.select().from(alerts)).filter((a) => a.kind === 'review_build_failed');

    beforeAll(async () => {
      h = await startHarness({ database, accessYml: ACCESS, clock, slack: { users: SLACK_USERS } });
      const okta = h.okta;
      const bob = okta.addUser({ login: 'bob@example.com', firstName: 'Bob', lastName: 'Boss' });
      okta.addUser({ login: 'hal@example.com', firstName: 'Hal', lastName: 'Head' });
      okta.addUser({ login: 'dave@example.com', firstName: 'Dave', lastName: 'Doe', managerId: bob.id });
      // Ivy's manager is named by an email two Okta users share: guessing could pick the wrong reviewer.
      okta.addUser({ login: 'ops.one@example.com', email: 'ops@example.com', firstName: 'Ops', lastName: 'One' });
      okta.addUser({ login: 'ops.two@example.com', email: 'ops@example.com', firstName: 'Ops', lastName: 'Two' });
      okta.addUser({ login: 'ivy@example.com', firstName: 'Ivy', lastName: 'Sharedmanager', managerId: 'ops@example.com' });
      okta.addUser({ login: 'gina@example.com', firstName: 'Gina', lastName: 'Iam', managerId: bob.id });
      okta.addUser({ login: 'hank@example.com', firstName: 'Hank', lastName: 'Halsreport', managerId: 'hal@example.com' });
      okta.addGroup({ id: '00gPRODDB', name: 'prod-db', members: ['dave@example.com', 'ivy@example.com'] });
      h.iam.account().addGroup('ProdAdmins', { members: ['gina@example.com'] });
    });
    afterAll(async () => h?.stop());

    it('skips a resource whose group is gone with the reason, routes a person whose manager cannot be found to security, and reviews the rest', async () => {
      const started = await requestReview(h, ACCESS, clock, { period: '2026-Q2' });
      const bobCard = await waitForReviewCard(h, 'U0BOB', started.campaignId);
      expect(lineOn(bobCard, 'Dave Doe', 'prod-db').text).toContain('unmanaged');
      expect(lineOn(bobCard, 'Gina Iam', 'prod-admin').text).toContain('unmanaged');
      const security = await waitForReviewCard(h, 'C0SEC', started.campaignId);
      expect(lineOn(security, 'Ivy Sharedmanager', 'prod-db').text).toMatch(/could not find who reviews Ivy Sharedmanager: .*2 Okta users have email ops@example\.com \(ops\.one@example\.com, ops\.two@example\.com\)/);

      const [ev] = await reviewEvents(h, started.campaignId, 'review.started');
      expect(ev!.details).toMatchObject({ items: 3, reviewers: 1, security_items: 1 });
      expect(ev!.details['skipped_resources']).toEqual([
        { resource: 'prod-gone', reason: expect.stringMatching(/okta listGroupUsers 00gGONE failed: .*Not found/) },
        { resource: 'prod-iam-gone', reason: expect.stringMatching(/IAM GetGroup Deleted failed: .*cannot be found/) },
      ]);
      const notice = await h.slack.waitFor(() => h.slack.messagesTo('C0SEC').find((m) => /has started/.test(textOf(m))), 5_000, 'the start notice');
      expect(textOf(notice)).toMatch(/across 2 resource\(s\)/);
      expect(textOf(notice)).toMatch(/Not reviewed: `prod-gone` \(okta listGroupUsers 00gGONE failed: [^)]*Not found[^;]*; `prod-iam-gone` \(IAM GetGroup Deleted failed/);
      expect(await buildAlerts()).toEqual([]);

      const report = reviewReportMarkdown((await loadReviewReport(h.bot.database.db, { campaignId: started.campaignId, now: clock.now() }))!);
      expect(report).toMatch(/## Not reviewed\n\n\| Resource \| Reason \|\n\| --- \| --- \|\n\| prod-gone \| okta listGroupUsers 00gGONE failed: .*\|\n\| prod-iam-gone \| IAM GetGroup Deleted failed: .*\|/);
      expect(Object.keys((await campaignRow(h, started.campaignId))!.targets!).sort()).toEqual(['prod-admin', 'prod-db']);
    });

    it('routes the reports of a manager Slack will not look up to the security channel, with Slack\'s answer', async () => {
      h.okta.addMember('00gPRODDB', 'hank@example.com');
      // Bob is known from the first campaign; Hal is looked up now, and Slack refuses for good.
      h.slack.failNext('users.lookupByEmail', 1, { error: 'no_permission' });
      const started = await requestReview(h, ACCESS, clock, { period: '2026-05-slack', scope: ['prod-db'] });
      const security = await waitForReviewCard(h, 'C0SEC', started.campaignId);
      expect(lineOn(security, 'Hank Halsreport', 'prod-db').text).toMatch(/could not find who reviews Hank Halsreport: Slack users\.lookupByEmail failed: no_permission/);
      expect(lineOn(await waitForReviewCard(h, 'U0BOB', started.campaignId), 'Dave Doe', 'prod-db').text).toContain('in the last review too');
      expect(await buildAlerts()).toEqual([]);
    });

    it('retries the build when a provider fails in a way that may pass, alerting once, and builds it once the provider answers', async () => {
      const stop = h.okta.failWhen((r) => r.path === '/api/v1/groups/00gPRODDB/users', 503);
      let started;
      try {
        started = await requestReview(h, ACCESS, clock, { period: '2026-05-outage', scope: ['prod-db', 'prod-admin'] });
        const [alert] = await h.slack.waitFor(async () => {
          const found = await buildAlerts();
          return found.length > 0 ? found : undefined;
        }, 15_000, 'the build alert');
        expect(alert!.text).toMatch(new RegExp(`Access review #${started.campaignId} \\(2026-05-outage\\) could not start: okta listGroupUsers 00gPRODDB failed after 4 attempts.*breakglass keeps trying`));
        expect((await campaignRow(h, started.campaignId))!.state).toBe('requested');
      } finally {
        stop();
      }
      clock.advance(5 * 60_000);
      await waitForCampaignState(h, started.campaignId, 'open', 15_000);
      const [ev] = await reviewEvents(h, started.campaignId, 'review.started');
      expect(ev!.details['skipped_resources']).toEqual([]);
      expect(await buildAlerts()).toHaveLength(1);
    });

    it('does not open a campaign of which no resource could be listed', async () => {
      const started = await requestReview(h, ACCESS, clock, { period: '2026-05-nothing', scope: ['prod-gone'] });
      const alert = await h.slack.waitFor(async () => (await buildAlerts()).find((a) => a.text.includes(`#${started.campaignId} `)), 10_000, 'the build alert');
      expect(alert.text).toMatch(/could not start: no resource in scope could be listed \(prod-gone: okta listGroupUsers 00gGONE failed/);
      expect((await campaignRow(h, started.campaignId))!.state).toBe('requested');
      expect(await reviewEvents(h, started.campaignId, 'review.started')).toEqual([]);
    });
  });
}
