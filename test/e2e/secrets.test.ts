/**
 * Secrets never reach the log or the evidence. A whole life runs through the real bot — request,
 * approval, grant, early end, revoke, expiry with a failing revoke retried, a grant refused by
 * Okta and one refused by IAM (each with an error message), Slack failing and unreachable — and
 * then everything pino wrote, the whole evidence export (CSV and JSON Lines) and everything sent
 * to Slack are searched for the Slack bot token, the signing secret, the Okta API token, the AWS
 * secret access key and the ledger signing key, and for Authorization headers of any kind.
 */
import { PassThrough } from 'node:stream';
import { isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { outbox } from '../../src/db/schema.ts';
import { generateSigningKey } from '../../src/ledger/checkpoint.ts';
import { exportEvents } from '../../src/reports/export/export.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import type { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { click, clockAtNow, request, requestAndApprove, slash, waitForCard, waitForEvent } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { appHomeOpenedEvent, eventCallback, post, TEST_SIGNING_SECRET } from '../support/slack-requests.ts';

vi.setConfig({ testTimeout: 120_000 });
const WAIT = 30_000;
const HOUR = 3_600_000;

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
  prod-aws:
    description: AWS production admins
    grant: { aws_iam_group: BreakGlass }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin'];

async function exported(h: Harness, format: 'csv' | 'jsonl'): Promise<string> {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await exportEvents(h.bot.database.db, { from: new Date(0), to: new Date(Date.now() + 400 * 24 * HOUR) }, format, sink);
  return text;
}

/** A secret as it could appear: verbatim, URL-encoded, JSON-escaped, base64 of it. */
function forms(secret: string): string[] {
  return [...new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64')])];
}

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`secrets stay out of logs and evidence [${database}]`, () => {
    let h: Harness;
    let clock: FakeClock;
    const ledgerKey = generateSigningKey().encoded;

    beforeAll(async () => {
      clock = clockAtNow();
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock,
        tickMs: 50,
        env: { LEDGER_SIGNING_KEY: ledgerKey },
        slack: { users: PEOPLE.map((n) => ({ id: `U0${n.toUpperCase()}`, name: n, email: `${n}@example.com` })) },
      });
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
      h.iam.account().addGroup('BreakGlass');
      for (const n of PEOPLE) {
        h.okta.addUser({ login: `${n}@example.com`, email: `${n}@example.com`, firstName: n, lastName: 'Test' });
        h.iam.account().addUser(`${n}@example.com`);
      }
    });
    afterAll(async () => h?.stop());

    it('runs a full life with failures, then finds no secret anywhere', async () => {
      // 1. Request, approve, grant; end early; revoke.
      const first = await requestAndApprove(h, 'U0ALICE', 'prod-db 2h INC-1 replication lag', ['U0BOB']);
      const end = await slash(h, 'U0ALICE', `end ${first.requestId}`);
      expect(end.status).toBe(200);
      await waitForEvent(h, first.requestId, 'grant.revoked', WAIT);

      // 2. Okta refuses a grant, with an error message.
      const stopOkta = h.okta.failWhen((r) => r.method === 'PUT' && r.path.startsWith('/api/v1/groups/00gPRODDB/users/'), {
        status: 403,
        errorCode: 'E0000006',
        errorSummary: 'You do not have permission to perform the requested action',
      });
      try {
        const { requestId } = await request(h, 'U0CAROL', 'prod-db 1h INC-2 hotfix');
        await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', requestId) });
        const failed = await waitForEvent(h, requestId, 'grant.failed', WAIT);
        expect(JSON.stringify(failed.details)).toMatch(/403|permission/i);
      } finally {
        stopOkta();
      }

      // 3. IAM refuses a grant, with an error message naming the caller.
      const stopIam = h.iam.failWhen((r) => r.action === 'AddUserToGroup', {
        status: 403,
        code: 'AccessDenied',
        message: `User: arn:aws:iam::111111111111:user/breakglass (key ${h.iam.credentials.accessKeyId}) is not authorized to perform: iam:AddUserToGroup`,
      });
      try {
        const { requestId } = await request(h, 'U0DAVE', 'prod-aws 1h INC-3 console access');
        await click(h, 'U0BOB', ACTIONS.approve, { message: await waitForCard(h, 'U0BOB', requestId) });
        const failed = await waitForEvent(h, requestId, 'grant.failed', WAIT);
        expect(JSON.stringify(failed.details)).toMatch(/AccessDenied|not authorized/);
      } finally {
        stopIam();
      }

      // 4. A grant that expires while Okta refuses the revoke: retried, then revoked.
      const expiring = await requestAndApprove(h, 'U0DAVE', 'prod-db 1h INC-4 disk full', ['U0BOB']);
      const stopRevoke = h.okta.failWhen((r) => r.method === 'DELETE' && r.path.startsWith('/api/v1/groups/00gPRODDB/users/'), {
        status: 500,
        errorCode: 'E0000009',
        errorSummary: 'Internal Server Error',
      });
      try {
        clock.advance(HOUR + 1_000);
        await waitForEvent(h, expiring.requestId, 'grant.revoke_failed', WAIT);
      } finally {
        stopRevoke();
      }
      clock.advance(21_000);
      await waitForEvent(h, expiring.requestId, 'grant.revoked', WAIT);

      // 5. Slack fails: API errors, HTTP 500s, then unreachable altogether, and back.
      const late = await request(h, 'U0ERIN', 'prod-db 1h INC-5 certificate expiry');
      const lateCard = await waitForCard(h, 'U0BOB', late.requestId);
      h.slack.failNext('chat.postMessage', 1, { error: 'internal_error' });
      h.slack.failNext('views.publish', 10, { status: 500, body: 'upstream failure' });
      const home = await post(h.baseUrl, eventCallback(appHomeOpenedEvent('U0ERIN', h.slack.dmChannel('U0ERIN'))));
      expect(home.status).toBe(200);
      await h.slack.waitFor(() => /could not publish App Home/.test(h.logs()) || undefined, WAIT, 'the failed App Home publish logged');
      h.slack.setOutage('unreachable');
      try {
        // The click reaches the bot; everything the bot then tells Slack fails until it is back.
        await click(h, 'U0BOB', ACTIONS.approve, { message: lateCard });
        await waitForEvent(h, late.requestId, 'grant.applied', WAIT);
        await h.slack.waitFor(async () => {
          const queued = await h.bot.database.db.select().from(outbox).where(isNull(outbox.sentAt));
          return queued.some((m) => m.attempts > 0 && m.lastError) || undefined;
        }, WAIT, 'the outbox tried and failed');
      } finally {
        h.slack.setOutage(null);
      }
      // The outbox retries with backoff on the (fake) clock: move it along until the message is out.
      await h.slack.waitFor(() => {
        clock.advance(30_000);
        return h.slack.messagesTo('U0ERIN').find((m) => /is active until/.test(JSON.stringify(m)));
      }, WAIT, 'Erin told once Slack is back');

      // The failures really reached the log (otherwise this test would prove nothing).
      const logs = h.logs();
      expect(logs).toMatch(/grant failed at the provider/);
      expect(logs).toMatch(/revoke failed; will retry/);
      expect(logs).toMatch(/could not publish App Home/);

      // Now look everywhere.
      const evidence = `${await exported(h, 'csv')}\n${await exported(h, 'jsonl')}`;
      const toSlack = JSON.stringify(h.slack.calls().map((c) => c.params));
      const secrets: Record<string, string> = {
        'Slack bot token': h.slack.token,
        'Slack signing secret': TEST_SIGNING_SECRET,
        'Okta API token': h.okta.token,
        'AWS secret access key': h.iam.credentials.secretAccessKey,
        LEDGER_SIGNING_KEY: ledgerKey,
      };
      const found: string[] = [];
      for (const [name, secret] of Object.entries(secrets)) {
        for (const form of forms(secret)) {
          if (logs.includes(form)) found.push(`${name} in the log`);
          if (evidence.includes(form)) found.push(`${name} in the evidence export`);
          if (toSlack.includes(form)) found.push(`${name} sent to Slack`);
        }
      }
      // The ledger key's base64 is long: a 32-character piece of it is as bad as all of it.
      for (let i = 0; i + 32 <= ledgerKey.length; i += 16) {
        const piece = ledgerKey.slice(i, i + 32);
        if (logs.includes(piece) || evidence.includes(piece)) found.push(`part of LEDGER_SIGNING_KEY (${i}..${i + 32})`);
      }
      expect(found).toEqual([]);

      const headerShapes: Array<[string, RegExp]> = [
        ['an SSWS Authorization', /SSWS\s+[^\s"[]/],
        ['a Bearer token', /Bearer\s+[^\s"[.…]/],
        ['a SigV4 Authorization', /AWS4-HMAC-SHA256\s+Credential=/],
        ['an authorization header value', /"authorization"\s*:\s*"(?!\[redacted\])[^"]+"/i],
        ['a token field value', /"(?:token|botToken|signingSecret|secretAccessKey|apiToken)"\s*:\s*"(?!\[redacted\])[^"]+"/],
        ['an xoxb token', /xox[abp]-[A-Za-z0-9-]+/],
      ];
      for (const [what, pattern] of headerShapes) {
        expect(pattern.test(logs), `${what} in the log: ${logs.match(pattern)?.[0]}`).toBe(false);
        expect(pattern.test(evidence), `${what} in the evidence: ${evidence.match(pattern)?.[0]}`).toBe(false);
      }
    });
  });
}
