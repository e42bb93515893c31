import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewItems } from '../../src/db/schema.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { hasButton } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { cardIdOf, clickReview, lineOn, requestReview, reviewEvents, waitForReviewCard } from '../support/reviews.ts';

const ACCESS = `security_channel: C0SEC
security: { slack_users: [U0SEC1, U0SEC2] }
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0SEC2] }
  prod-admin:
    description: AWS production administrators
    grant: { aws_iam_group: ProdAdmins }
    max_duration: 2h
    approvers: { slack_users: [U0SEC2] }
reviews:
  schedule: quarterly
  due_in: 14d
  remind_every: 3d
`;

const OWN = 'You cannot decide about your own access; another reviewer will.';

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`nobody reviews their own access, at click time [${database}]`, () => {
    let h: Harness;
    const clock = new FakeClock('2026-05-04T09:00:00.000Z');
    let campaignId: number;

    beforeAll(async () => {
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock,
        slack: {
          users: [
            { id: 'U0SEC1', name: 'sec1', email: 'sec1@example.com' },
            { id: 'U0SEC2', name: 'sec2', email: 'sec2@example.com' },
            { id: 'U0ERIN', name: 'erin', email: 'erin@example.com' },
          ],
        },
      });
      // Sec One signs in to Okta as `sec1`, and so is their IAM user named: nothing on that IAM
      // line says whose it is but the name, so it lands on the security channel's card.
      h.okta.addUser({ login: 'sec1', email: 'sec1@example.com', firstName: 'Sec', lastName: 'One' });
      h.okta.addUser({ login: 'erin@example.com', firstName: 'Erin', lastName: 'Nomanager' });
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db', members: ['sec1', 'erin@example.com'] });
      h.iam.account().addGroup('ProdAdmins', { members: ['sec1'] });
      campaignId = (await requestReview(h, ACCESS, clock, { period: '2026-Q2' })).campaignId;
    });
    afterAll(async () => h?.stop());

    it('refuses a security member\'s Keep or Revoke on their own lines, however the line names them, and changes nothing', async () => {
      const card = await waitForReviewCard(h, 'C0SEC', campaignId);
      const iamLine = lineOn(card, 'sec1', 'prod-admin');
      expect(iamLine.text).toContain('no email is known for sec1');
      const oktaLine = lineOn(card, 'Sec One', 'prod-db');
      expect(await (await clickReview(h, 'U0SEC1', card, ACTIONS.reviewKeep, iamLine.itemId)).reply()).toBe(OWN);
      expect(await (await clickReview(h, 'U0SEC1', card, ACTIONS.reviewRevoke, oktaLine.itemId)).reply()).toBe(OWN);
      expect(await reviewEvents(h, campaignId, 'review.decided')).toEqual([]);
      const rows = await h.bot.database.db.select().from(reviewItems).where(eq(reviewItems.campaignId, campaignId));
      expect(rows.map((r) => r.decision)).toEqual([null, null, null]);
      expect(h.okta.isMember('00gPRODDB', 'sec1')).toBe(true);
      expect(h.iam.account().isMember('ProdAdmins', 'sec1')).toBe(true);
    });

    it('"Keep all remaining" keeps the others\' lines and leaves the decider\'s own for another reviewer, who can then sign off', async () => {
      const card = await waitForReviewCard(h, 'C0SEC', campaignId);
      const keepAll = await clickReview(h, 'U0SEC1', card, ACTIONS.reviewKeepAll, cardIdOf(card));
      expect(await keepAll.reply()).toBe('Kept 1 line(s). 2 line(s) about your own access are left for another reviewer.');
      const decided = await reviewEvents(h, campaignId, 'review.decided');
      expect(decided.map((e) => [e.actor, e.subject, e.details['decision']])).toEqual([['U0SEC1', 'erin@example.com', 'keep']]);
      const again = await clickReview(h, 'U0SEC1', card, ACTIONS.reviewKeepAll, cardIdOf(card));
      expect(await again.reply()).toBe('The only lines left are about your own access; another reviewer will decide them.');

      const after = await waitForReviewCard(h, 'C0SEC', campaignId, (c) => lineOn(c, 'Erin Nomanager', 'prod-db').decided);
      await (await clickReview(h, 'U0SEC2', after, ACTIONS.reviewKeep, lineOn(after, 'sec1', 'prod-admin').itemId)).reply(500);
      await (await clickReview(h, 'U0SEC2', after, ACTIONS.reviewKeep, lineOn(after, 'Sec One', 'prod-db').itemId)).reply(500);
      const ready = await waitForReviewCard(h, 'C0SEC', campaignId, (c) => hasButton(c, ACTIONS.reviewSignOff));
      expect(await (await clickReview(h, 'U0SEC2', ready, ACTIONS.reviewSignOff, cardIdOf(ready))).reply()).toMatch(/Signed off: 3 line\(s\), 3 kept, 0 revoked/);
      const byOthers = (await reviewEvents(h, campaignId, 'review.decided')).filter((e) => e.actor === 'U0SEC2');
      expect(byOthers.map((e) => e.details['principal']).sort()).toEqual(['sec1', 'sec1']);
    });
  });
}
