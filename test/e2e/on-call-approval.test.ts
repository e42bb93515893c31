import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emergencyRows, grantRows } from '../../src/reports/pack/audit-pack.ts';
import { EvidenceHistory } from '../../src/reports/history.ts';
import { readEvents } from '../../src/ledger/read.ts';
import { assessReadiness } from '../../src/reports/readiness/readiness.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { whoFromLedger, whoToText } from '../../src/reports/access/who.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { click, clockAtNow, eventsOf, grantOf, hasButton, personFields, request, slash, waitForCard, waitForDm, waitForEvent } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { startPagerDutyServer, type PagerDutyTestServer } from '../support/pagerduty-server.ts';
import { textOf, type StoredMessage } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    grant: { aws_iam_group: ProdDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB, U0CAROL] }
    auto_approve:
      pagerduty:
        schedule_ids: [PPRIMRY, PSECOND]
        escalation_levels: [1]
`;

const HOUR = 3_600_000;
const member = (h: Harness, user: string) => h.iam.account().isMember('ProdDB', `${user}@example.com`);

/** PagerDuty writes times in the account's zone with an offset: kept as written, never re-formatted. */
function pdTime(at: number): string {
  const local = new Date(at - 5 * HOUR).toISOString().slice(0, 19);
  return `${local}-05:00`;
}

function reviewCard(h: Harness, approver: string, requestId: number, matching?: RegExp): Promise<StoredMessage> {
  return h.slack.waitFor(
    () => {
      const card = h.slack.messagesTo(approver).find((m) => new RegExp(`^On-call access #${requestId}:`).test(m.text ?? ''));
      return card && (!matching || matching.test(textOf(card))) ? structuredClone(card) : undefined;
    },
    5_000,
    `${approver}'s on-call review card for #${requestId}`,
  );
}

async function metric(h: Harness, name: string): Promise<number> {
  const body = await (await fetch(`${h.baseUrl}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${name}{provider="pagerduty",operation="on_call"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** A request that went to the approvers: both get an approval card, nothing was approved or granted. */
async function expectApprovalCards(h: Harness, requestId: number, user: string): Promise<void> {
  for (const approver of ['U0BOB', 'U0CAROL']) expect(hasButton(await waitForCard(h, approver, requestId), ACTIONS.approve)).toBe(true);
  expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created']);
  expect(await grantOf(h, requestId)).toBeUndefined();
  expect(member(h, user)).toBe(false);
}

/** The evidence reports label the grant on-call (never an emergency self-grant), with PagerDuty's shifts, and find no gap in it. */
async function expectOnCallEvidence(h: Harness, requestId: number, verify: Awaited<ReturnType<typeof verifyLedger>>, shift: { start: string | null; end: string | null }): Promise<void> {
  const now = new Date(Date.now() + HOUR);
  const who = await whoFromLedger(h.bot.database.db, 'prod-db', new Date());
  const holder = who.holders.find((x) => x.requestId === String(requestId));
  expect(holder).toMatchObject({ requestKind: 'on_call', emergency: false, selfGranted: false, onCall: { pagerDutyUserId: 'PALICE1' } });
  expect(whoToText(who)).toContain(`approved by:  on call in PagerDuty (schedule PPRIMRY level 1 ${shift.start}–${shift.end}; reviewed by U0BOB`);
  const history = new EvidenceHistory();
  for await (const event of readEvents(h.bot.database.db)) history.add(event);
  const period = { from: new Date(Date.now() - 48 * HOUR), to: now };
  const [row] = emergencyRows(history, period, now).filter((r) => r.request_id === String(requestId));
  expect(row).toMatchObject({ basis: 'pagerduty_on_call', reviewed_by: 'U0BOB', reviewed_within_24h: 'yes', on_call: `PagerDuty user PALICE1: schedule PPRIMRY level 1 from ${shift.start} to ${shift.end}` });
  expect(grantRows(history, period).find((r) => r.request_id === String(requestId))).toMatchObject({ emergency: false });
  const readiness = assessReadiness(history, { ...period, now, verify });
  expect(readiness.gaps.filter((g) => g.requestId === String(requestId))).toEqual([]);
}

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`on-call auto-approval (PagerDuty) [${database}]`, () => {
    let h: Harness;
    let pd: PagerDutyTestServer;
    let clock: FakeClock;

    beforeAll(async () => {
      clock = clockAtNow();
      pd = await startPagerDutyServer();
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock,
        tickMs: 50,
        env: { PAGERDUTY_API_TOKEN: pd.token, PAGERDUTY_API_URL: pd.url },
        slack: { users: ['alice', 'bob', 'carol', 'dave', 'erin', 'sec'].map((n) => ({ id: `U0${n.toUpperCase()}`, name: n, email: `${n}@example.com` })) },
      });
      h.iam.account().addGroup('ProdDB');
      for (const n of ['alice', 'dave', 'erin']) h.iam.account().addUser(`${n}@example.com`);
      const now = Date.now();
      pd.users.push(
        { id: 'PALICE1', name: 'Alice Adams', email: 'alice@example.com' },
        // A name the query also matches: only the exact email counts.
        { id: 'PALICEX', name: 'alice@example.com.au Contractor', email: 'alice@example.com.au' },
        { id: 'PDAVE01', name: 'Dave Doe', email: 'dave@example.com' },
      );
      pd.oncalls.push(
        { userId: 'PALICE1', scheduleId: 'PPRIMRY', escalationPolicyId: 'PESCAL1', escalationLevel: 1, start: pdTime(now - 2 * HOUR), end: pdTime(now + 6 * HOUR) },
        // Dave is on call, but at level 2 of the primary schedule, and in a schedule the policy does not name.
        { userId: 'PDAVE01', scheduleId: 'PPRIMRY', escalationPolicyId: 'PESCAL1', escalationLevel: 2, start: pdTime(now - HOUR), end: pdTime(now + HOUR) },
        { userId: 'PDAVE01', scheduleId: 'POTHER1', escalationPolicyId: 'PESCAL2', escalationLevel: 1, start: pdTime(now - HOUR), end: pdTime(now + HOUR) },
      );
    });
    afterAll(async () => {
      await h?.stop();
      await pd?.close().catch(() => undefined);
    });

    it('on call now: granted at once, PagerDuty’s answer in the evidence, and a review card (not an approval card) to the approvers', async () => {
      const { requestId, reply } = await request(h, 'U0ALICE', 'prod-db 1h INC-77 replica lag');
      expect(reply).toMatch(new RegExp(`on call in PagerDuty: access for \`prod-db\` \\(1h\\) granted under request #${requestId}`));
      expect(member(h, 'alice')).toBe(true);
      await waitForDm(h, 'U0ALICE', new RegExp(`prod-db\` is active until.*request #${requestId}`));

      const bobCard = await reviewCard(h, 'U0BOB', requestId, /review needed/);
      await reviewCard(h, 'U0CAROL', requestId);
      expect(textOf(bobCard)).toMatch(/was on call in PagerDuty/);
      expect(textOf(bobCard)).toMatch(/schedule `PPRIMRY`, escalation level 1/);
      expect(hasButton(bobCard, ACTIONS.reviewEmergency)).toBe(true);
      expect(h.slack.messagesTo('U0BOB').filter((m) => hasButton(m, ACTIONS.approve))).toEqual([]);
      // Not an emergency: security is not alerted.
      expect(h.slack.messagesTo('C0SEC').filter((m) => /emergency access/.test(textOf(m)))).toEqual([]);

      const events = await eventsOf(h, requestId);
      expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied']);
      expect(events[0]).toMatchObject({ actor: 'U0ALICE', details: { request_kind: 'on_call', approvers: ['U0BOB', 'U0CAROL'] } });
      const alice = pd.oncalls[0]!;
      expect(events[1]).toMatchObject({ actor: 'breakglass', subject: 'U0ALICE', resource: 'prod-db' });
      expect(events[1]!.details).toEqual({
        ...(await personFields(h, 'U0ALICE')),
        policy: 'pagerduty_on_call',
        final: true,
        config_hash: events[0]!.details.config_hash,
        schedule_ids: ['PPRIMRY', 'PSECOND'],
        escalation_levels: [1],
        pagerduty_user_id: 'PALICE1',
        checked_at: clock.now().toISOString(),
        on_call: [{ schedule_id: 'PPRIMRY', escalation_policy_id: 'PESCAL1', escalation_level: 1, start: alice.start, end: alice.end }],
      });
      expect(events[2]).toMatchObject({ details: { emergency: false } });

      // The calls PagerDuty's spec describes, with the API key and versioned Accept header.
      const calls = pd.requests.map((r) => ({ path: r.path, query: r.query }));
      expect(calls[0]).toEqual({ path: '/users', query: [['query', 'alice@example.com'], ['limit', '100'], ['offset', '0']] });
      expect(calls[1]!.path).toBe('/oncalls');
      expect(calls[1]!.query).toEqual(expect.arrayContaining([['schedule_ids[]', 'PPRIMRY'], ['schedule_ids[]', 'PSECOND'], ['user_ids[]', 'PALICE1']]));
      expect(pd.requests[0]!.headers).toMatchObject({ authorization: `Token token=${pd.token}`, accept: 'application/vnd.pagerduty+json;version=2' });
      expect(pd.violations).toEqual([]);

      // Reviewed afterwards like an emergency grant; the grant stays labelled as not an emergency.
      await click(h, 'U0BOB', ACTIONS.reviewEmergency, { message: bobCard });
      expect(await waitForEvent(h, requestId, 'emergency.reviewed')).toMatchObject({ actor: 'U0BOB', subject: 'U0ALICE' });
      await reviewCard(h, 'U0CAROL', requestId, /Reviewed by <@U0BOB>/);
      expect(await grantOf(h, requestId)).toMatchObject({ emergency: false, reviewedBy: 'U0BOB' });
      const verify = await verifyLedger(h.bot.database.db);
      expect(verify).toMatchObject({ ok: true });
      await expectOnCallEvidence(h, requestId, verify, alice);
    });

    it('help says the resource is approved at once for whoever is on call', async () => {
      const help = await slash(h, 'U0DAVE', 'help');
      expect(help.ack ?? (await help.reply())).toContain('`prod-db` up to 4h, approved at once when you are on call (PagerDuty)');
    });

    it('on call at another level or in another schedule, or unknown to PagerDuty: the approvers decide as usual', async () => {
      const dave = await request(h, 'U0DAVE', 'prod-db 1h INC-78 help alice');
      expect(dave.reply).toMatch(/is waiting for 1 approval\(s\)/);
      await expectApprovalCards(h, dave.requestId, 'dave');
      // Erin is not a PagerDuty user at all.
      const erin = await request(h, 'U0ERIN', 'prod-db 1h INC-79 look at logs');
      await expectApprovalCards(h, erin.requestId, 'erin');
      expect(pd.violations).toEqual([]);
    });

    it('an on-call approval nobody reviews within 24 h is escalated to security as on-call access', async () => {
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-80 again');
      await reviewCard(h, 'U0BOB', requestId);
      clock.advance(24 * HOUR + 60_000);
      await waitForEvent(h, requestId, 'emergency.escalated');
      await h.slack.waitFor(
        () => h.slack.messagesTo('C0SEC').find((m) => new RegExp(`<@U0ALICE>'s on-call access to \`prod-db\` \\(request #${requestId}\\) has not been reviewed`).test(textOf(m))),
        5_000,
        'the escalation in the security channel',
      );
    });

    it('PagerDuty answering 500: the approvers decide, nothing is approved, the failure is logged and counted', async () => {
      const errorsBefore = await metric(h, 'breakglass_provider_errors_total');
      pd.failWith(500);
      const { requestId, reply } = await request(h, 'U0ALICE', 'prod-db 1h INC-81 while PagerDuty is down');
      expect(reply).toMatch(/is waiting for 1 approval\(s\)/);
      await expectApprovalCards(h, requestId, 'alice');
      expect(h.logs()).toMatch(/PagerDuty could not say who is on call/);
      expect(h.logs()).toMatch(/GET \/users answered 500/);
      expect(await metric(h, 'breakglass_provider_errors_total')).toBe(errorsBefore + 1);
      pd.failWith(undefined);
    });

    it('PagerDuty unreachable: the approvers decide, nothing is approved', async () => {
      await pd.close();
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-82 PagerDuty gone');
      await expectApprovalCards(h, requestId, 'alice');
      expect(h.logs()).toMatch(/GET \/users failed: ECONNREFUSED/);
      expect(h.logs()).not.toContain(pd.token);
      expect(h.slack.violations).toEqual([]);
    });
  });
}
