import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grants } from '../../src/db/schema.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { postgresAvailable } from '../support/databases.ts';
import { clockAtNow, requestAndApprove } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { clickReview, itemsOf, lineOn, requestReview, reviewEvents, waitForReviewCard } from '../support/reviews.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-s3:
    description: Read the production bucket
    grant:
      aws_iam_policy:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Action: ['s3:GetObject']
            Resource: 'arn:aws:s3:::prod-bucket/*'
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
  prod-admin:
    description: AWS production administrators
    grant: { aws_iam_group: ProdAdmins }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
people:
  U0ALICE: { aws_iam_user: alice }
reviews:
  schedule: quarterly
  due_in: 14d
  remind_every: 3d
`;

const POLICY = 'breakglass-prod-s3';

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`access reviews of AWS IAM resources [${database}]`, () => {
    let h: Harness;
    // The IAM provider checks an inline policy's expiry against real time.
    const clock = clockAtNow();
    let campaignId: number;
    const iam = () => h.iam.account();

    beforeAll(async () => {
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock,
        slack: {
          users: ['alice', 'bob', 'carol', 'dave', 'gina'].map((name) => ({ id: `U0${name.toUpperCase()}`, name, email: `${name}@example.com` })),
        },
      });
      const bob = h.okta.addUser({ login: 'bob@example.com', firstName: 'Bob', lastName: 'Boss' });
      for (const [first, last] of [['Alice', 'Able'], ['Carol', 'Cloud'], ['Dave', 'Doe'], ['Gina', 'Group']]) {
        h.okta.addUser({ login: `${first!.toLowerCase()}@example.com`, firstName: first, lastName: last, managerId: bob.id });
      }
      iam().addUser('alice');
      iam().addUser('carol@example.com');
      iam().addGroup('ProdAdmins', { members: ['gina@example.com'] });
      // Granted by hand under breakglass's policy name, so it carries no grant id.
      iam().addUser('dave@example.com');
      iam().putUserPolicy('dave@example.com', POLICY, { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] });
      await requestAndApprove(h, 'U0ALICE', 'prod-s3 4h INC-7 read an export', ['U0BOB']);
      await requestAndApprove(h, 'U0CAROL', 'prod-admin 2h INC-8 rotate the keys', ['U0BOB']);
      // IAM keeps a user's inline policies when the user is renamed; only the grant id on the policy still says whose it is.
      const alice = iam().users.get('alice')!;
      iam().users.delete('alice');
      alice.UserName = 'alice.admin';
      iam().users.set('alice.admin', alice);
      campaignId = (await requestReview(h, ACCESS, clock, { period: '2026-Q4' })).campaignId;
    });
    afterAll(async () => h?.stop());

    it('lists inline-policy holders and group members, and knows a breakglass inline policy by the grant id it carries', async () => {
      const card = await waitForReviewCard(h, 'U0BOB', campaignId);
      expect(lineOn(card, 'Alice Able', 'prod-s3').text).toMatch(/<@U0ALICE> \(alice@example\.com\) · `prod-s3`\nbreakglass request #1 · since /);
      expect(lineOn(card, 'Dave Doe', 'prod-s3').text).toContain('*unmanaged*: not granted through breakglass');
      expect(lineOn(card, 'Carol Cloud', 'prod-admin').text).toContain('breakglass request #2');
      expect(lineOn(card, 'Gina Group', 'prod-admin').text).toContain('*unmanaged*');
      const items = await itemsOf(h, campaignId);
      expect(items.map((i) => [i.resource, i.principal, i.grantId, i.route])).toEqual(
        expect.arrayContaining([
          ['prod-s3', 'alice.admin', 1, 'manager'],
          ['prod-s3', 'dave@example.com', null, 'manager'],
          ['prod-admin', 'carol@example.com', 2, 'manager'],
          ['prod-admin', 'gina@example.com', null, 'manager'],
        ]),
      );
      expect(items).toHaveLength(4);
    });

    it('revokes an inline policy and a group membership from the card, verified at IAM, and ends the grant behind it', async () => {
      const card = await waitForReviewCard(h, 'U0BOB', campaignId);
      for (const [person, resource] of [['Alice Able', 'prod-s3'], ['Dave Doe', 'prod-s3'], ['Gina Group', 'prod-admin']] as const) {
        const click = await clickReview(h, 'U0BOB', card, ACTIONS.reviewRevoke, lineOn(card, person, resource).itemId);
        expect(click.status).toBe(200);
        expect(await click.reply(1_000)).toBeUndefined();
      }
      await h.slack.waitFor(async () => ((await reviewEvents(h, campaignId, 'grant.revoked')).length === 3 ? true : undefined), 10_000, 'three revocations');
      expect(iam().userPolicyNames('alice.admin')).toEqual([]);
      expect(iam().userPolicyNames('dave@example.com')).toEqual([]);
      expect(iam().members('ProdAdmins')).toEqual(['carol@example.com']);
      expect(h.iam.calls('DeleteUserPolicy').map((c) => c.params)).toEqual(
        expect.arrayContaining([
          { UserName: 'alice.admin', PolicyName: POLICY },
          { UserName: 'dave@example.com', PolicyName: POLICY },
        ]),
      );

      const revoked = await reviewEvents(h, campaignId, 'grant.revoked');
      expect(revoked.map((e) => [e.subject, e.resource, e.details['principal'], e.details['verified'], e.details['grants_ended']])).toEqual(
        expect.arrayContaining([
          ['U0ALICE', 'prod-s3', 'alice.admin', true, [1]],
          ['dave@example.com', 'prod-s3', 'dave@example.com', true, []],
          ['gina@example.com', 'prod-admin', 'gina@example.com', true, []],
        ]),
      );
      expect(revoked.every((e) => e.actor === 'U0BOB' && e.details['reason'] === 'review')).toBe(true);
      const [grant] = await h.bot.database.db.select().from(grants).where(eq(grants.id, 1));
      expect(grant).toMatchObject({ state: 'revoked', revokeReason: 'review', revokeRequestedBy: 'U0BOB' });
      const after = await waitForReviewCard(h, 'U0BOB', campaignId, (c) => ['Alice Able', 'Dave Doe'].every((p) => /removed at the provider \(verified\)/.test(lineOn(c, p, 'prod-s3').text)));
      expect(lineOn(after, 'Gina Group', 'prod-admin').text).toContain('removed at the provider (verified)');
      expect(lineOn(after, 'Carol Cloud', 'prod-admin').decided).toBe(false);
      expect(h.slack.violations).toEqual([]);
    });
  });
}
