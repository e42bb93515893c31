import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewsDueFor } from '../../src/app/review-read-models.ts';
import { alerts, grants, reviewCampaigns, reviewItems } from '../../src/db/schema.ts';
import { loadReviewReport, reviewReportCsv, reviewReportMarkdown } from '../../src/reports/review/review-report.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { runCli } from '../support/cli.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { hasButton, requestAndApprove, waitForDm } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { campaignRow, cardIdOf, clickReview, itemsOf, lineOn, requestReview, reviewCardIn, reviewEvents, waitForCampaignState, waitForReviewCard } from '../support/reviews.ts';
import { textOf } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
security: { slack_users: [U0SEC1] }
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0CAROL] }
  prod-admin:
    description: AWS production administrators
    grant: { aws_iam_group: ProdAdmins }
    max_duration: 2h
    approvers: { slack_users: [U0CAROL] }
  prod-big:
    description: A group a whole department is in
    grant: { okta_group: 00gBIG }
    max_duration: 1h
    approvers: { slack_users: [U0CAROL] }
reviews:
  schedule: quarterly
  due_in: 14d
  remind_every: 3d
  scope: [prod-db, prod-admin]
`;

const DAY = 86_400_000;
const SLACK_USERS = [
  { id: 'U0CAROL', name: 'carol', email: 'carol@example.com' },
  { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
  { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
  { id: 'U0DAVE', name: 'dave', email: 'dave@example.com' },
  { id: 'U0ERIN', name: 'erin', email: 'erin@example.com' },
  { id: 'U0GINA', name: 'gina', email: 'gina@example.com' },
  { id: 'U0HANK', name: 'hank', email: 'hank@example.com' },
  { id: 'U0MAL', name: 'mallory', email: 'mallory@example.com' },
  { id: 'U0SEC1', name: 'sec', email: 'sec@example.com' },
  { id: 'U0PAT', name: 'pat', email: 'pat@example.com' },
];

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`access reviews [${database}]`, () => {
    let h: Harness;
    // Fixed, far from a quarter's start, so moving it by weeks never fires the quarterly schedule.
    const clock = new FakeClock('2026-05-04T09:00:00.000Z');
    let first: number;
    let second: number;

    beforeAll(async () => {
      h = await startHarness({ database, accessYml: ACCESS, clock, slack: { users: SLACK_USERS } });
      const okta = h.okta;
      const carol = okta.addUser({ login: 'carol@example.com', firstName: 'Carol', lastName: 'Chief' });
      const bob = okta.addUser({ login: 'bob@example.com', firstName: 'Bob', lastName: 'Boss', managerId: carol.id });
      // Bob's admin account: another Okta user, same mailbox, managed by Bob himself.
      okta.addUser({ login: 'bob.admin@example.com', email: 'bob@example.com', firstName: 'Bob', lastName: 'Admin', managerId: bob.id });
      // A manager reference may be an id, a login or an email.
      okta.addUser({ login: 'alice@example.com', firstName: 'Alice', lastName: 'Able', managerId: 'bob@example.com' });
      okta.addUser({ login: 'dave@example.com', firstName: 'Dave', lastName: 'Doe', managerId: bob.id });
      okta.addUser({ login: 'erin@example.com', firstName: 'Erin', lastName: 'Nomanager' });
      okta.addUser({ login: 'frank@example.com', firstName: 'Frank', lastName: 'Former', managerId: bob.id }, { status: 'DEPROVISIONED' });
      okta.addUser({ login: 'gina@example.com', firstName: 'Gina', lastName: 'Iam', managerId: bob.id });
      okta.addGroup({ id: '00gPRODDB', name: 'prod-db', members: ['dave@example.com', 'bob@example.com', 'bob.admin@example.com', 'erin@example.com', 'frank@example.com'] });
      h.iam.account().addGroup('ProdAdmins', { members: ['gina@example.com', 'carol@example.com'] });
      const pat = okta.addUser({ login: 'pat@example.com', firstName: 'Pat', lastName: 'Manyreports', managerId: carol.id });
      const big = okta.addGroup({ id: '00gBIG', name: 'prod-big' });
      for (let i = 0; i < 200; i++) {
        const login = `report${String(i).padStart(3, '0')}@example.com`;
        okta.addUser({ login, firstName: 'Report', lastName: String(i).padStart(3, '0'), managerId: pat.id });
        big.members.push(okta.user(login)!.id);
      }
      // Alice's access to prod-db comes through breakglass; everyone else's was granted outside it.
      await requestAndApprove(h, 'U0ALICE', 'prod-db 4h INC-42 quarterly data fix', ['U0CAROL']);
    });
    afterAll(async () => h?.stop());

    it('builds a campaign over the directory: each line goes to the person\'s manager, with how and since when it was granted', async () => {
      const started = await requestReview(h, ACCESS, clock, { period: '2026-Q2' });
      expect(started).toMatchObject({ created: true, period: '2026-Q2', scope: ['prod-admin', 'prod-db'] });
      first = started.campaignId;
      const bobCard = await waitForReviewCard(h, 'U0BOB', first);
      const text = textOf(bobCard);
      expect(text).toMatch(/Access review #\d+ · 2026-Q2/);
      expect(text).toContain('0 of 3* line(s) decided');
      expect(lineOn(bobCard, 'Alice Able', 'prod-db').text).toMatch(/breakglass request #1 · since .* · first review of this resource/);
      expect(lineOn(bobCard, 'Dave Doe', 'prod-db').text).toContain('*unmanaged*: not granted through breakglass');
      // An IAM user is found in Okta by email, and so is their manager.
      expect(lineOn(bobCard, 'Gina Iam', 'prod-admin').text).toContain('unmanaged');
      expect(text).not.toContain('Frank');
      expect(text).not.toContain('Bob Admin');
      expect(hasButton(bobCard, ACTIONS.reviewSignOff)).toBe(false);
      expect(hasButton(bobCard, ACTIONS.reviewKeepAll)).toBe(true);
      expect(bobCard.blocks!.length).toBeLessThanOrEqual(50);

      const evs = await reviewEvents(h, first, 'review.started');
      expect(evs).toHaveLength(1);
      expect(evs[0]).toMatchObject({ actor: 'cli:test' });
      expect(evs[0]!.details).toMatchObject({ period: '2026-Q2', items: 8, reviewers: 2, security_items: 2, left_items: 1, unmanaged_items: 7, trigger: 'manual' });
      expect(await reviewsDueFor(h.bot.database.db, 'U0BOB')).toEqual([{ campaignId: first, items: 3, dueAt: new Date(clock.now().getTime() + 14 * DAY) }]);
      await h.slack.waitFor(() => h.slack.messagesTo('C0SEC').find((m) => /Access review #\d+ \(2026-Q2\) has started: 8 line\(s\)/.test(textOf(m))), 5_000, 'the start notice');
    });

    it('reroutes a manager\'s own access to their manager\'s manager', async () => {
      const carolCard = await waitForReviewCard(h, 'U0CAROL', first);
      expect(lineOn(carolCard, 'Bob Boss', 'prod-db').text).not.toContain('↪');
      // bob.admin@ is Bob's second account (same mailbox): Bob would review himself, so Carol does.
      expect(lineOn(carolCard, 'Bob Admin', 'prod-db').text).toMatch(/↪ their manager Bob Boss is the same person, so their manager's manager reviews it/);
      const [admin] = (await itemsOf(h, first)).filter((i) => i.principal === 'bob.admin@example.com');
      expect(admin).toMatchObject({ route: 'skip_level', personSlack: 'U0BOB' });
    });

    it('sends the access of people without a manager to the security channel', async () => {
      const security = await waitForReviewCard(h, 'C0SEC', first);
      expect(lineOn(security, 'Erin Nomanager', 'prod-db').text).toContain('no manager in Okta (managerId)');
      expect(lineOn(security, 'Carol Chief', 'prod-admin').text).toContain('no manager in Okta');
      expect(textOf(security)).toContain('The security team (access.yml `security:`) decides them');
    });

    it('revokes the access of people who have left at once, verified and recorded', async () => {
      await h.slack.waitFor(() => !h.okta.isMember('00gPRODDB', 'frank@example.com') || undefined, 5_000, 'frank removed from the Okta group');
      const decided = (await reviewEvents(h, first, 'review.decided')).find((e) => e.subject === 'frank@example.com');
      expect(decided).toMatchObject({ actor: 'breakglass', resource: 'prod-db' });
      expect(decided!.details).toMatchObject({ decision: 'revoke', reason: 'left', granted_by: 'unmanaged' });
      const revoked = await h.slack.waitFor(async () => (await reviewEvents(h, first, 'grant.revoked')).find((e) => e.subject === 'frank@example.com'), 5_000, 'frank revoked');
      expect(revoked.details).toMatchObject({ reason: 'review', verified: true, provider_call: 'revoked' });
    });

    it('lets a manager go through a whole review from Slack: keep, revoke, keep all remaining, sign off', async () => {
      const bobCard = await waitForReviewCard(h, 'U0BOB', first);
      const alice = lineOn(bobCard, 'Alice Able', 'prod-db');
      expect((await clickReview(h, 'U0BOB', bobCard, ACTIONS.reviewKeep, alice.itemId)).status).toBe(200);
      const kept = await waitForReviewCard(h, 'U0BOB', first, (c) => lineOn(c, 'Alice Able', 'prod-db').decided);
      // Updated in place: still one message, the same one.
      expect(kept.ts).toBe(bobCard.ts);
      expect(h.slack.messagesTo('U0BOB').filter((m) => (m.text ?? '').startsWith(`Access review #${first} (`))).toHaveLength(1);
      expect(lineOn(kept, 'Alice Able', 'prod-db').text).toContain('*Kept* by <@U0BOB>');

      const dave = lineOn(kept, 'Dave Doe', 'prod-db');
      const click = await clickReview(h, 'U0BOB', kept, ACTIONS.reviewRevoke, dave.itemId);
      expect(click.status).toBe(200);
      await h.slack.waitFor(() => !h.okta.isMember('00gPRODDB', 'dave@example.com') || undefined, 5_000, 'dave removed from the Okta group at once');
      const revokedCard = await waitForReviewCard(h, 'U0BOB', first, /removed at the provider \(verified\)/);
      expect(lineOn(revokedCard, 'Dave Doe', 'prod-db').text).toContain('*Revoked* by <@U0BOB>');
      const revoked = (await reviewEvents(h, first, 'grant.revoked')).find((e) => e.subject === 'dave@example.com');
      expect(revoked).toMatchObject({ actor: 'U0BOB', resource: 'prod-db' });
      expect(revoked!.details).toMatchObject({ reason: 'review', verified: true });

      const keepAll = await clickReview(h, 'U0BOB', revokedCard, ACTIONS.reviewKeepAll, cardIdOf(revokedCard));
      expect(await keepAll.reply()).toMatch(/Kept 1 line\(s\)\. You can sign off now\./);
      const ready = await waitForReviewCard(h, 'U0BOB', first, (c) => hasButton(c, ACTIONS.reviewSignOff));
      expect(hasButton(ready, ACTIONS.reviewKeepAll)).toBe(false);
      const signOff = await clickReview(h, 'U0BOB', ready, ACTIONS.reviewSignOff, cardIdOf(ready));
      expect(await signOff.reply()).toMatch(/Signed off: 3 line\(s\), 2 kept, 1 revoked/);
      const signed = await waitForReviewCard(h, 'U0BOB', first, /Signed off\* by <@U0BOB>/);
      expect(hasButton(signed, ACTIONS.reviewKeep)).toBe(false);

      const decided = await reviewEvents(h, first, 'review.decided');
      expect(decided.filter((e) => e.actor === 'U0BOB').map((e) => [e.subject, e.resource, e.details['decision']])).toEqual([
        ['U0ALICE', 'prod-db', 'keep'],
        ['dave@example.com', 'prod-db', 'revoke'],
        ['gina@example.com', 'prod-admin', 'keep'],
      ]);
      const [signedOff] = await reviewEvents(h, first, 'review.signed_off');
      expect(signedOff).toMatchObject({ actor: 'U0BOB', subject: 'U0BOB' });
      expect(signedOff!.details).toMatchObject({ lines: 3, kept: 2, revoked: 1, overdue: false, by_assigned_reviewer: true });
      expect(await reviewsDueFor(h.bot.database.db, 'U0BOB')).toEqual([]);
    });

    it('closes the campaign once everyone signed off, and sends security the report', async () => {
      const carolCard = await waitForReviewCard(h, 'U0CAROL', first);
      await (await clickReview(h, 'U0CAROL', carolCard, ACTIONS.reviewKeepAll, cardIdOf(carolCard))).reply();
      await clickReview(h, 'U0CAROL', await waitForReviewCard(h, 'U0CAROL', first, (c) => hasButton(c, ACTIONS.reviewSignOff)), ACTIONS.reviewSignOff, cardIdOf(carolCard));
      const security = await waitForReviewCard(h, 'C0SEC', first);
      const erin = lineOn(security, 'Erin Nomanager', 'prod-db');
      await clickReview(h, 'U0SEC1', security, ACTIONS.reviewRevoke, erin.itemId);
      await h.slack.waitFor(() => !h.okta.isMember('00gPRODDB', 'erin@example.com') || undefined, 5_000, 'erin removed');
      await clickReview(h, 'U0SEC1', security, ACTIONS.reviewKeep, lineOn(security, 'Carol Chief', 'prod-admin').itemId);
      const ready = await waitForReviewCard(h, 'C0SEC', first, (c) => hasButton(c, ACTIONS.reviewSignOff));
      await clickReview(h, 'U0SEC1', ready, ACTIONS.reviewSignOff, cardIdOf(ready));

      await waitForCampaignState(h, first, 'closed');
      const [closed] = await reviewEvents(h, first, 'review.closed');
      expect(closed!.details).toMatchObject({ items: 8, kept: 5, revoked: 3, revoked_verified: 3, left: 1, reviewers: 3, signed_off_late: 0 });
      const file = await h.slack.waitFor(() => h.slack.filesTo('C0SEC').find((f) => f.filename === `access-review-${first}-2026-Q2.md`), 5_000, 'the report in the security channel');
      const report = file.content!.toString();
      expect(report).toContain('## Sign-offs');
      expect(report).toContain('matches the ledger (review.started)');
      expect(report).toMatch(/\| Dave Doe \| dave@example\.com \| prod-db \| unmanaged \| U0BOB \| .* \| .* \| yes \|/);
      expect(h.okta.isMember('00gPRODDB', 'alice@example.com')).toBe(true);
      expect(h.iam.account().isMember('ProdAdmins', 'gina@example.com')).toBe(true);
    });

    it('starting the same period twice is a no-op', async () => {
      const again = await requestReview(h, ACCESS, clock, { period: '2026-Q2' });
      expect(again).toMatchObject({ campaignId: first, created: false, state: 'closed' });
      expect(await h.bot.database.db.select().from(reviewCampaigns)).toHaveLength(1);
      expect(await reviewEvents(h, first, 'review.started')).toHaveLength(1);
    });

    it('marks what is new since the last review', async () => {
      h.okta.addUser({ login: 'hank@example.com', firstName: 'Hank', lastName: 'Newcomer', managerId: 'bob@example.com' });
      h.okta.addMember('00gPRODDB', 'hank@example.com');
      const started = await requestReview(h, ACCESS, clock, { period: '2026-05-adhoc' });
      second = started.campaignId;
      const bobCard = await waitForReviewCard(h, 'U0BOB', second);
      expect(lineOn(bobCard, 'Hank Newcomer', 'prod-db').text).toContain(':new: new since the last review');
      expect(lineOn(bobCard, 'Alice Able', 'prod-db').text).toContain('in the last review too');
      expect(textOf(bobCard)).not.toContain('Dave Doe');
    });

    it('refuses a click from anyone but the assigned reviewer or security, and changes nothing', async () => {
      const bobCard = await waitForReviewCard(h, 'U0BOB', second);
      const hank = lineOn(bobCard, 'Hank Newcomer', 'prod-db');
      const before = (await reviewEvents(h, second)).length;
      expect(await (await clickReview(h, 'U0MAL', bobCard, ACTIONS.reviewKeep, hank.itemId)).reply()).toMatch(/Only <@U0BOB> \(or the security team\) can decide/);
      expect(await (await clickReview(h, 'U0CAROL', bobCard, ACTIONS.reviewRevoke, hank.itemId)).reply()).toMatch(/Only <@U0BOB>/);
      expect(await (await clickReview(h, 'U0MAL', bobCard, ACTIONS.reviewKeepAll, cardIdOf(bobCard))).reply()).toMatch(/Only <@U0BOB>/);
      expect(await (await clickReview(h, 'U0MAL', bobCard, ACTIONS.reviewSignOff, cardIdOf(bobCard))).reply()).toMatch(/Only <@U0BOB>/);
      const security = await waitForReviewCard(h, 'C0SEC', second);
      expect(await (await clickReview(h, 'U0BOB', security, ACTIONS.reviewKeep, lineOn(security, 'Carol Chief', 'prod-admin').itemId)).reply()).toMatch(/Only the security team/);
      expect(h.okta.isMember('00gPRODDB', 'hank@example.com')).toBe(true);
      expect(await reviewEvents(h, second)).toHaveLength(before);
      const [row] = await h.bot.database.db.select().from(reviewItems).where(eq(reviewItems.id, hank.itemId));
      expect(row!.decision).toBeNull();
    });

    it('decides a line once when clicks on it arrive at the same time', async () => {
      const bobCard = await waitForReviewCard(h, 'U0BOB', second);
      const hank = lineOn(bobCard, 'Hank Newcomer', 'prod-db');
      const clicks = await Promise.all([
        clickReview(h, 'U0BOB', bobCard, ACTIONS.reviewKeep, hank.itemId),
        clickReview(h, 'U0BOB', bobCard, ACTIONS.reviewKeep, hank.itemId),
        clickReview(h, 'U0BOB', bobCard, ACTIONS.reviewRevoke, hank.itemId),
      ]);
      const replies = await Promise.all(clicks.map((c) => c.reply(1_500)));
      const decided = (await reviewEvents(h, second, 'review.decided')).filter((e) => e.details['item_id'] === hank.itemId);
      expect(decided).toHaveLength(1);
      expect(replies.filter((r) => r && /already chose/.test(r))).toHaveLength(2);
      const [row] = await h.bot.database.db.select().from(reviewItems).where(eq(reviewItems.id, hank.itemId));
      expect(row!.decision).toBe(decided[0]!.details['decision']);
      if (row!.decision === 'revoke') await h.slack.waitFor(() => !h.okta.isMember('00gPRODDB', 'hank@example.com') || undefined, 5_000, 'hank removed');
    });

    it('keeps retrying a revoke the provider refuses, alerts once, and records it when it succeeds', async () => {
      const bobCard = await waitForReviewCard(h, 'U0BOB', second);
      const alice = lineOn(bobCard, 'Alice Able', 'prod-db');
      const stop = h.okta.failWhen((r) => r.method === 'DELETE', 503);
      try {
        const click = await clickReview(h, 'U0BOB', bobCard, ACTIONS.reviewRevoke, alice.itemId);
        expect(await click.reply(10_000)).toMatch(/Revoke recorded, but the provider refused for now \(okta unassignUserFromGroup .* 503/);
        expect(h.okta.isMember('00gPRODDB', 'alice@example.com')).toBe(true);
        const failed = await reviewEvents(h, second, 'grant.revoke_failed');
        expect(failed).toHaveLength(1);
        expect(failed[0]).toMatchObject({ actor: 'U0BOB', subject: 'U0ALICE', requestId: '1' });
        await h.slack.waitFor(async () => (await h.bot.database.db.select().from(alerts)).find((a) => a.kind === 'review_revoke_failed'), 5_000, 'the alert');
        await waitForReviewCard(h, 'U0BOB', second, /the provider refused for now/);
      } finally {
        stop();
      }
      clock.advance(30_000);
      await h.slack.waitFor(() => !h.okta.isMember('00gPRODDB', 'alice@example.com') || undefined, 10_000, 'alice removed on retry');
      const revoked = await h.slack.waitFor(async () => (await reviewEvents(h, second, 'grant.revoked')).find((e) => e.subject === 'U0ALICE'), 5_000, 'grant.revoked');
      expect(revoked).toMatchObject({ actor: 'U0BOB', requestId: '1' });
      expect(revoked.details).toMatchObject({ reason: 'review', verified: true, grants_ended: [1] });
      expect(await reviewEvents(h, second, 'grant.revoke_failed')).toHaveLength(1);
      const [grant] = await h.bot.database.db.select().from(grants).where(eq(grants.id, 1));
      expect(grant).toMatchObject({ state: 'revoked', revokeReason: 'review' });
      await waitForReviewCard(h, 'U0BOB', second, (c) => /removed at the provider \(verified\)/.test(lineOn(c, 'Alice Able', 'prod-db').text));
    });

    it('reminds reviewers every remind_every and escalates overdue reviews to their manager and security', async () => {
      const open = async () => (await campaignRow(h, second))!;
      expect((await open()).state).toBe('open');
      clock.advance(3 * DAY);
      const reminder = await waitForDm(h, 'U0BOB', new RegExp(`Reminder: access review #${second} \\(2026-05-adhoc\\) is due`));
      expect(textOf(reminder)).toMatch(/still undecided/);
      await h.slack.waitFor(() => h.slack.messagesTo('C0SEC').find((m) => new RegExp(`Reminder: the security channel's part of access review #${second}`).test(textOf(m))), 5_000, 'the security reminder');
      const reminded = await h.slack.waitFor(async () => {
        const evs = await reviewEvents(h, second, 'review.reminded');
        return evs.length >= 3 ? evs : undefined;
      }, 5_000, 'three reminders');
      expect(reminded.map((e) => [e.actor, e.subject, e.details['reminder']])).toEqual(expect.arrayContaining([['breakglass', 'U0BOB', 1], ['breakglass', 'U0CAROL', 1], ['breakglass', null, 1]]));
      expect(await reviewEvents(h, second, 'review.escalated')).toEqual([]);

      clock.advance(11 * DAY + 60_000);
      const escalation = await waitForDm(h, 'U0CAROL', new RegExp(`Access review #${second} \\(2026-05-adhoc\\) is overdue: <@U0BOB>, who reports to you`));
      expect(textOf(escalation)).toContain('Please follow up with them');
      await h.slack.waitFor(() => h.slack.messagesTo('C0SEC').find((m) => /is overdue: <@U0BOB>'s review was due/.test(textOf(m))), 5_000, 'the security alert');
      const escalated = await h.slack.waitFor(async () => {
        const evs = await reviewEvents(h, second, 'review.escalated');
        return evs.length >= 3 ? evs : undefined;
      }, 5_000, 'escalations');
      expect(escalated.find((e) => e.subject === 'U0BOB')!.details).toMatchObject({ escalated_to: 'U0CAROL', security_channel: 'C0SEC' });
      await waitForReviewCard(h, 'U0BOB', second, /overdue/);
      // Escalated once; reminders go on until signed off.
      clock.advance(3 * DAY);
      await h.slack.waitFor(async () => (await reviewEvents(h, second, 'review.reminded')).some((e) => e.subject === 'U0BOB' && e.details['reminder'] === 3) || undefined, 5_000, 'a later reminder');
      expect(await reviewEvents(h, second, 'review.escalated')).toHaveLength(3);

      const bobCard = await waitForReviewCard(h, 'U0BOB', second);
      if (hasButton(bobCard, ACTIONS.reviewKeepAll)) await (await clickReview(h, 'U0BOB', bobCard, ACTIONS.reviewKeepAll, cardIdOf(bobCard))).reply();
      const ready = await waitForReviewCard(h, 'U0BOB', second, (c) => hasButton(c, ACTIONS.reviewSignOff));
      await (await clickReview(h, 'U0BOB', ready, ACTIONS.reviewSignOff, cardIdOf(ready))).reply();
      const [late] = (await reviewEvents(h, second, 'review.signed_off')).filter((e) => e.actor === 'U0BOB');
      expect(late!.details).toMatchObject({ overdue: true });
    });

    it('pages a card of a manager with 200 reports within Slack\'s 50 blocks, and every line can be reached and decided', async () => {
      const started = await requestReview(h, ACCESS, clock, { period: '2026-05-big', scope: ['prod-big'] });
      let card = await waitForReviewCard(h, 'U0PAT', started.campaignId, undefined, 15_000);
      expect(textOf(card)).toContain('page 1 of 10');
      const seen = new Set<string>();
      for (let page = 1; ; page++) {
        expect(card.blocks!.length).toBeLessThanOrEqual(50);
        for (const m of textOf(card).matchAll(/report(\d{3})@example\.com/g)) seen.add(m[1]!);
        if (page === 10) break;
        expect(hasButton(card, ACTIONS.reviewNextPage)).toBe(true);
        await clickReview(h, 'U0PAT', card, ACTIONS.reviewNextPage, cardIdOf(card));
        card = await waitForReviewCard(h, 'U0PAT', started.campaignId, new RegExp(`page ${page + 1} of 10`));
      }
      expect(hasButton(card, ACTIONS.reviewNextPage)).toBe(false);
      expect(hasButton(card, ACTIONS.reviewPrevPage)).toBe(true);
      expect(seen.size).toBe(200);
      const line = lineOn(card, 'Report 199', 'prod-big');
      await clickReview(h, 'U0PAT', card, ACTIONS.reviewRevoke, line.itemId);
      await h.slack.waitFor(() => !h.okta.isMember('00gBIG', 'report199@example.com') || undefined, 5_000, 'report199 removed');
      // 199 decisions and their evidence in one click: give a loaded machine time.
      expect(await (await clickReview(h, 'U0PAT', card, ACTIONS.reviewKeepAll, cardIdOf(card))).reply(15_000)).toMatch(/Kept 199 line\(s\)/);
      const ready = await waitForReviewCard(h, 'U0PAT', started.campaignId, (c) => hasButton(c, ACTIONS.reviewSignOff));
      expect(await (await clickReview(h, 'U0PAT', ready, ACTIONS.reviewSignOff, cardIdOf(ready))).reply(10_000)).toMatch(/Signed off: 200 line\(s\), 199 kept, 1 revoked/);
      await waitForCampaignState(h, started.campaignId, 'closed');
      expect(h.slack.messagesTo('U0PAT').filter((m) => (m.text ?? '').startsWith(`Access review #${started.campaignId} (`))).toHaveLength(1);
    });

    it('reports a campaign as Markdown and CSV', async () => {
      const report = (await loadReviewReport(h.bot.database.db, { campaignId: second, now: clock.now() }))!;
      expect(report.population.matches).toBe(true);
      const md = reviewReportMarkdown(report);
      expect(md).toContain(`# Access review #${second}: 2026-05-adhoc`);
      // Bob kept or revoked Hank's line, whichever click won the race above.
      expect(md).toMatch(/\| U0BOB \| 3 \| [12] \| [12] \| 0 \| U0BOB \| .* \| OVERDUE \| 3 \| U0CAROL and security/);
      const csv = reviewReportCsv(report);
      expect(csv.split('\n')[0]).toBe(
        'campaign_id,period,item_id,resource,person,email,principal,slack_user,granted_by,since,since_source,new_since_last_review,reviewer,route,route_note,decision,decided_by,decided_at,signed_off_by,signed_off_at,overdue,revoke_state,revoked_at,revoke_verified,revoke_error,removal_confirmed_by,removal_confirmed_at',
      );
      expect(csv).toMatch(new RegExp(`${second},2026-05-adhoc,\\d+,prod-db,Alice Able,alice@example.com,alice@example.com,U0ALICE,request #1,.*,grant,no,U0BOB,manager,,revoke,U0BOB,.*,U0BOB,.*,yes,revoked,.*,yes,`));
    });

    it('starts from the CLI beside the running bot, which builds it and delivers the cards; the CLI reports', async () => {
      const folder = mkdtempSync(join(tmpdir(), 'breakglass-review-cli-'));
      const accessPath = join(folder, 'access.yml');
      writeFileSync(accessPath, ACCESS);
      // On PGlite the bot holds the database, and the CLI hands `review start` to it through DATA_DIR.
      const env = { ...(database === 'postgres' ? { DATABASE_URL: h.bot.database.location } : { DATA_DIR: h.dataDir }), ACCESS_CONFIG: accessPath };
      const again = await runCli(['review', 'start', '--period', '2026-Q2'], env);
      expect(again.stdout).toMatch(/Nothing to do: access review #\d+ for 2026-Q2 .* already exists \(closed, requested 20\d\d-/);
      const started = await runCli(['review', 'start', '--scope', 'prod-db', '--period', '2026-05-cli'], env);
      expect(started.code).toBe(0);
      const id = Number(/Started access review #(\d+) for 2026-05-cli \(scope: prod-db\)/.exec(started.stdout)?.[1]);
      expect(started.stdout).toContain('The running bot builds it and sends the cards to the managers within seconds.');
      if (database === 'pglite') expect(started.stderr).toMatch(/The bot \(pid \d+\) has the embedded database open; handing the request to it/);
      await waitForReviewCard(h, 'U0CAROL', id, /Bob Admin/);
      expect((await reviewEvents(h, id, 'review.started'))[0]).toMatchObject({ actor: expect.stringMatching(/^cli:/) });
      const unknown = await runCli(['review', 'start', '--scope', 'nope'], env);
      expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('No resource nope in access.yml') });

      const md = await runCli(['review', 'report', '--campaign', String(first)], env);
      if (database === 'pglite') {
        // Only `review start` is handed over; the rest of the CLI reads the database itself.
        expect(md).toMatchObject({ code: 2, stderr: expect.stringContaining('is in use by the breakglass bot') });
        expect(readdirSync(join(h.dataDir, 'requests'))).toEqual([]);
        expect(statSync(join(h.dataDir, 'requests')).mode & 0o777).toBe(0o700);
        return;
      }
      expect(md.code).toBe(0);
      expect(md.stdout).toContain(`# Access review #${first}: 2026-Q2`);
      const csv = await runCli(['review', 'report', '--campaign', String(first), '--format', 'csv'], env);
      expect(csv.stdout.trim().split('\n')).toHaveLength(9);
    });

    it('leaves Slack calls valid and the ledger intact', async () => {
      expect(h.slack.violations).toEqual([]);
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(reviewCardIn(h, 'U0MAL', first)).toBeUndefined();
    });
  });
}
