/**
 * When something breaks: the provider refusing a grant or a revoke, the process restarting or
 * dying half-way, Slack being unreachable. Nothing is left half-done, nothing is forgotten, and
 * the evidence says exactly what happened, once.
 */
import { and, eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { approveRequest } from '../../src/app/decide-request.ts';
import { MAX_REVOKE_BACKOFF_MS } from '../../src/app/revoke-retry.ts';
import { GRANT_LEASE_MS } from '../../src/db/grants-repo.ts';
import { accessRequests, alerts, evidenceEvents, grants, outbox } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { DEFAULT_RETRY } from '../../src/providers/retry.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { slash } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { otherProcessDeps } from '../support/process-deps.ts';
import type { OktaRecordedRequest } from '../support/okta-server.ts';
import { blockAction, post, slashCommand } from '../support/slack-requests.ts';
import { textOf, type StoredMessage } from '../support/slack-server.ts';

/** Generous: waits end as soon as the condition holds, and a loaded CI machine can be slow. */
const WAIT = 30_000;
vi.setConfig({ testTimeout: 120_000 });

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

const REQUESTERS = ['U0ALICE', 'U0ERIN', 'U0FRANK', 'U0GINA', 'U0HANK'];
const USERS = ['U0BOB', ...REQUESTERS].map((id) => ({ id, name: id.slice(2).toLowerCase(), email: `${id.slice(2).toLowerCase()}@example.com` }));
const email = (id: string) => `${id.slice(2).toLowerCase()}@example.com`;
const HOUR = 60 * 60_000;
/**
 * How long the provider refuses a revoke: ten minutes, as the issue puts it. The in-call retry
 * waits pass through the bot's clock (Clock.sleep), so under the fake clock they take no real time.
 */
const OUTAGE_MS = 10 * 60_000;

/**
 * The call budget of a revoke through an outage of `ms`. The worker retries a failed revoke after at
 * least half its backoff (revokeRetryAt: 1 s × 2^attempt, at most 20 s): waits of at least 1, 2, 4 and
 * 8 s, then 10 s each, so ten minutes hold at most 5 + (600 − 15) / 10 = 63 attempts. Each looks the
 * person up once and calls DELETE at most DEFAULT_RETRY.attempts (4) times, waiting in between as the
 * provider asks (Okta's X-Rate-Limit-Reset, up to 5 s): in ten minutes at most 63 lookups and 252
 * DELETEs, one call every two seconds at worst.
 */
function maxRevokeAttemptsWithin(ms: number): number {
  let attempts = 1;
  for (let at = 0; (at += Math.min(MAX_REVOKE_BACKOFF_MS, 1_000 * 2 ** attempts) / 2) <= ms; ) attempts++;
  return attempts;
}

let counter = 0;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`failures [${database}]`, () => {
    let h: Harness;
    const clock = new FakeClock();
    beforeAll(async () => {
      h = await startHarness({ database, accessYml: ACCESS, clock, tickMs: 25, slack: { users: USERS } });
      for (const u of USERS) h.okta.addUser({ login: u.email, email: u.email, firstName: u.name, lastName: 'Test' });
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
    });
    afterAll(async () => h?.stop());

    const db = () => h.bot.database.db;
    const eventsFor = async (requestId: number) =>
      (await db().select().from(evidenceEvents).orderBy(evidenceEvents.seq)).filter((e) => e.requestId === String(requestId));
    const grantOf = async (requestId: number) => (await db().select().from(grants).where(eq(grants.requestId, requestId)))[0];
    const membershipPath = (user: string) => `/api/v1/groups/00gPRODDB/users/${h.okta.user(email(user))!.id}`;
    const membershipCalls = (method: 'PUT' | 'DELETE', user: string) => h.okta.requests.filter((r) => r.method === method && r.path === membershipPath(user));
    const isMember = (user: string) => h.okta.isMember('00gPRODDB', email(user));
    const dmsTo = (user: string, pattern: RegExp) => h.slack.messagesTo(user).filter((m) => pattern.test(textOf(m)));
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

    async function request(user: string, text: string): Promise<number> {
      const name = `req-${++counter}`;
      await post(h.baseUrl, slashCommand({ text, userId: user, responseUrl: h.slack.responseUrl(name) }));
      const answer = await h.slack.waitFor(() => h.slack.responses(name)[0], WAIT, `the answer to ${text}`);
      const id = /Request #(\d+)/.exec(String(answer.body.text))?.[1];
      if (!id) throw new Error(`no request id in ${JSON.stringify(answer.body)}`);
      return Number(id);
    }

    const cardFor = async (requestId: number) =>
      structuredClone(await h.slack.waitFor(() => h.slack.messagesTo('U0BOB').find((m) => textOf(m).includes(`Access request #${requestId}`)), WAIT, `Bob's card for #${requestId}`));

    /** Bob approves; returns the response_url name his click's reply (if any) goes to. */
    async function approve(card: StoredMessage): Promise<string> {
      const name = `approve-${++counter}`;
      const res = await post(h.baseUrl, blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: card, responseUrl: h.slack.responseUrl(name) }));
      expect(res.status).toBe(200);
      return name;
    }

    const cardNow = (card: StoredMessage) => h.slack.message('U0BOB', card.ts);
    const waitCard = (card: StoredMessage, pattern: RegExp, what: string) =>
      h.slack.waitFor(() => {
        const current = cardNow(card);
        return current && pattern.test(textOf(current)) ? current : undefined;
      }, WAIT, what);

    async function activeGrant(user: string, reason: string): Promise<{ requestId: number; card: StoredMessage }> {
      const requestId = await request(user, `prod-db 1h ${reason}`);
      const card = await cardFor(requestId);
      await approve(card);
      await h.slack.waitFor(() => isMember(user) || undefined, WAIT, `${user} in the group`);
      await h.slack.waitFor(async () => (await grantOf(requestId))?.state === 'active' || undefined, WAIT, 'grant active');
      return { requestId, card };
    }

    it('a grant the provider keeps refusing fails cleanly: told, shown, recorded, nothing left behind', async () => {
      const requestId = await request('U0ERIN', 'prod-db 1h INC-11 hotfix');
      const card = await cardFor(requestId);
      // Okta answers 500 to every PUT, after having applied the first one: the worst case, a change
      // made with its answer lost. The product must undo it.
      let applied = false;
      const stop = h.okta.failWhen((r: OktaRecordedRequest) => {
        if (r.method !== 'PUT' || r.path !== membershipPath('U0ERIN')) return false;
        if (!applied) {
          h.okta.addMember('00gPRODDB', email('U0ERIN'));
          applied = true;
        }
        return true;
      }, 500);
      try {
        const reply = await approve(card);
        const told = await h.slack.waitFor(() => h.slack.responses(reply)[0], WAIT, "Bob told the grant failed");
        expect(String(told.body.text)).toMatch(/^Approved, but the grant failed: /);
        await h.slack.waitFor(() => dmsTo('U0ERIN', /could not be granted \(request #\d+\)/)[0], WAIT, 'Erin told');
        const updated = await waitCard(card, /access could not be granted/, "Bob's card shows the failure");
        expect(JSON.stringify(updated.blocks)).not.toContain(ACTIONS.approve);
      } finally {
        stop();
      }
      expect(membershipCalls('PUT', 'U0ERIN').length).toBeGreaterThanOrEqual(1);
      expect(membershipCalls('DELETE', 'U0ERIN').length).toBeGreaterThanOrEqual(1);
      expect(isMember('U0ERIN')).toBe(false);
      expect(await grantOf(requestId)).toMatchObject({ state: 'failed', lastError: expect.stringContaining('500') });
      const events = await eventsFor(requestId);
      expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.failed']);
      expect(events.at(-1)).toMatchObject({ actor: 'breakglass', subject: 'U0ERIN', resource: 'prod-db', details: expect.objectContaining({ error: expect.any(String) }) });
      // Nothing runs later either: no recovery re-grants a failed grant.
      clock.advance(GRANT_LEASE_MS + 1_000);
      await sleep(300);
      expect(isMember('U0ERIN')).toBe(false);
      expect((await eventsFor(requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.failed']);
    });

    it(`a revoke the provider refuses for ${OUTAGE_MS / 60_000} minutes (500 and 429 in turn) stays within its call budget, shows as still active, alerts once, and ends within 60 s of recovery`, { timeout: 240_000 }, async () => {
      const outageMs = OUTAGE_MS;
      const { requestId, card } = await activeGrant('U0ALICE', 'INC-12 replication lag');
      const isRevoke = (r: OktaRecordedRequest) => r.method === 'DELETE' && r.path === membershipPath('U0ALICE');
      // Every other DELETE is a 500, the rest a 429 asking (in Okta's X-Rate-Limit-Reset) for a second's wait.
      let revokeCalls = 0;
      const stop500 = h.okta.failWhen((r) => isRevoke(r) && revokeCalls++ % 2 === 0, 500);
      const stop429 = h.okta.failWhen(isRevoke, { status: 429, resetInSeconds: 1 });
      const alertText = /Revoking <@U0ALICE>'s access to `prod-db` \(request #\d+\) failed/;
      let attempts = 0;
      let recoveredAt: Date;
      try {
        clock.advance(HOUR + 1_000);
        const outageStart = clock.now();
        const grantId = (await h.slack.waitFor(() => grantOf(requestId), WAIT, 'the grant'))!.id;
        const failuresLogged = () => h.logs().split('\n').filter((l) => l.includes('revoke failed; will retry') && l.includes(`"grantId":${grantId},`)).length;
        // Each retry as early as the worker's backoff allows: the most calls an outage can cause.
        for (;;) {
          attempts++;
          const failed = await h.slack.waitFor(async () => {
            const g = await grantOf(requestId);
            // A failure reschedules within the backoff; while an attempt runs, its lease is further out.
            const rescheduled = g?.state === 'revoking' && g.attempts === attempts && g.nextAttemptAt!.getTime() - clock.now().getTime() <= MAX_REVOKE_BACKOFF_MS;
            return rescheduled && failuresLogged() >= attempts ? g : undefined;
          }, WAIT, `revoke attempt ${attempts} failed and rescheduled`);
          if (attempts === 1) {
            // Seen by Alice as access she still has, not as gone.
            const list = await slash(h, 'U0ALICE', 'list');
            expect(await list.reply(WAIT)).toMatch(new RegExp(`\\*${requestId}\\*: \`prod-db\`, ending now, until .*\\(still active: the provider refused to remove it, and breakglass keeps retrying\\)`));
          }
          if (failed.nextAttemptAt!.getTime() - outageStart.getTime() > outageMs) break;
          clock.set(failed.nextAttemptAt!);
        }
        recoveredAt = clock.now();
        expect(recoveredAt.getTime() - outageStart.getTime()).toBeGreaterThanOrEqual(outageMs - MAX_REVOKE_BACKOFF_MS);
        expect(failuresLogged()).toBe(attempts);
        expect(isMember('U0ALICE')).toBe(true);
        expect(await grantOf(requestId)).toMatchObject({ state: 'revoking', lastError: expect.stringMatching(/500|429/) });
        await h.slack.waitFor(() => h.slack.messagesTo('C0SEC').find((m) => alertText.test(textOf(m))), WAIT, 'the security alert');
      } finally {
        stop500();
        stop429();
      }
      // The budget (see maxRevokeAttemptsWithin), and proof it kept trying: at least one attempt every 20 s.
      expect(maxRevokeAttemptsWithin(10 * 60_000)).toBe(63);
      expect(attempts).toBeLessThanOrEqual(maxRevokeAttemptsWithin(outageMs));
      expect(attempts).toBeGreaterThanOrEqual(outageMs / MAX_REVOKE_BACKOFF_MS);
      const revokes = membershipCalls('DELETE', 'U0ALICE');
      expect(revokes.length).toBeLessThanOrEqual(attempts * DEFAULT_RETRY.attempts);
      expect(revokes.length).toBeGreaterThan(attempts);
      expect(revokes.filter((r) => r.status === 500).length).toBeGreaterThan(0);
      expect(revokes.filter((r) => r.status === 429).length).toBeGreaterThan(0);
      const lookups = h.okta.requests.filter((r) => r.method === 'GET' && r.path === `/api/v1/users/${email('U0ALICE')}` && r.at >= revokes[0]!.at);
      expect(lookups.length).toBeLessThanOrEqual(attempts);

      const failed = (await eventsFor(requestId)).filter((e) => e.kind === 'grant.revoke_failed');
      expect(failed).toHaveLength(1);
      const raised = (await eventsFor(requestId)).filter((e) => e.kind === 'alert.raised');
      expect(raised).toHaveLength(1);
      const grant = await grantOf(requestId);
      expect(await db().select().from(alerts).where(eq(alerts.grantId, grant!.id))).toHaveLength(1);
      expect(h.slack.messagesTo('C0SEC').filter((m) => alertText.test(textOf(m)))).toHaveLength(1);

      // Okta is back: the next retry, when the backoff says, removes the membership and records it.
      clock.set((await grantOf(requestId))!.nextAttemptAt!);
      await h.slack.waitFor(async () => (await grantOf(requestId))?.state === 'revoked' || undefined, WAIT, 'revoked after recovery');
      expect(isMember('U0ALICE')).toBe(false);
      const events = await eventsFor(requestId);
      expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied', 'grant.revoke_failed', 'alert.raised', 'grant.revoked']);
      expect(events.at(-1)).toMatchObject({ subject: 'U0ALICE', details: expect.objectContaining({ reason: 'expired', provider_call: 'revoked', attempts: attempts + 1 }) });
      const revokedAt = new Date(String(events.at(-1)!.details.revoked_at));
      expect(revokedAt.getTime() - recoveredAt.getTime()).toBeLessThanOrEqual(60_000);
      await h.slack.waitFor(() => dmsTo('U0ALICE', /has ended/)[0], WAIT, 'Alice told access ended');
      await waitCard(card, /Access ended/, "Bob's card shows the end");
    });

    it('a restart forgets nothing: a grant that expired while no process ran is revoked by the next one', async () => {
      const { requestId } = await activeGrant('U0FRANK', 'INC-13 disk full');
      await h.restart(() => clock.advance(HOUR + 5_000));
      await h.slack.waitFor(async () => (await grantOf(requestId))?.state === 'revoked' || undefined, WAIT, 'revoked by the new process');
      expect(isMember('U0FRANK')).toBe(false);
      expect(membershipCalls('DELETE', 'U0FRANK')).toHaveLength(1);
      const events = await eventsFor(requestId);
      expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied', 'grant.revoked']);
      expect(events.at(-1)?.details).toMatchObject({ reason: 'expired', late_by_ms: 5_000 });
      await h.slack.waitFor(() => dmsTo('U0FRANK', /has ended/)[0], WAIT, 'Frank told access ended');
    });

    it('a process that died after committing `granting` is finished by the recovery worker, once', async () => {
      const requestId = await request('U0GINA', 'prod-db 1h INC-14 cache flush');
      const card = await cardFor(requestId);

      // Another process takes Bob's approval, commits it, and dies before it reaches Okta: its
      // provider never answers (nor calls out), which is what the database sees of a crash.
      void approveRequest(otherProcessDeps(h, { accessYml: ACCESS, clock, provider: {} }), { requestId, approver: 'U0BOB' });
      await h.slack.waitFor(async () => (await grantOf(requestId))?.state === 'granting' || undefined, WAIT, 'the grant committed as granting');
      await sleep(200);
      expect(membershipCalls('PUT', 'U0GINA')).toEqual([]);
      expect((await eventsFor(requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.approved']);

      // Its lease runs out; the live bot's recovery worker applies the grant.
      clock.advance(GRANT_LEASE_MS + 1_000);
      await h.slack.waitFor(async () => (await grantOf(requestId))?.state === 'active' || undefined, WAIT, 'the grant recovered');
      expect(isMember('U0GINA')).toBe(true);
      await sleep(300);
      expect(membershipCalls('PUT', 'U0GINA')).toHaveLength(1);
      const events = await eventsFor(requestId);
      expect(events.map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied']);
      await h.slack.waitFor(() => dmsTo('U0GINA', /is active until/)[0], WAIT, 'Gina told access is active');
      await waitCard(card, /access is active/i, "Bob's card shows active");
    });

    it('Slack unreachable: the decision and the grant still happen, and Slack hears of them once it is back', async () => {
      const requestId = await request('U0HANK', 'prod-db 1h INC-15 certificate expiry');
      const card = await cardFor(requestId);
      h.slack.setOutage('unreachable');
      try {
        await approve(card);
        await h.slack.waitFor(() => isMember('U0HANK') || undefined, WAIT, 'Hank in the group while Slack is down');
        await h.slack.waitFor(async () => (await grantOf(requestId))?.state === 'active' || undefined, WAIT, 'grant active');
        expect((await eventsFor(requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied']);
        // The notifications are queued and have been tried, and failed.
        await h.slack.waitFor(async () => {
          const queued = await db().select().from(outbox).where(isNull(outbox.sentAt));
          return queued.length > 0 && queued.every((m) => m.attempts > 0 && m.lastError) ? queued : undefined;
        }, WAIT, 'the outbox tried and failed');
        expect(dmsTo('U0HANK', /is active until/)).toEqual([]);
      } finally {
        h.slack.setOutage(null);
      }
      // Slack is back; the retries are due after their backoff.
      clock.advance(6 * 60_000);
      await h.slack.waitFor(() => dmsTo('U0HANK', /is active until/)[0], WAIT, 'Hank told access is active');
      await waitCard(card, /access is active/i, "Bob's card updated");
      await h.slack.waitFor(async () => (await db().select().from(outbox).where(isNull(outbox.sentAt))).length === 0 || undefined, WAIT, 'outbox drained');
      expect(dmsTo('U0HANK', /is active until/)).toHaveLength(1);
      const [row] = await db().select().from(accessRequests).where(and(eq(accessRequests.id, requestId), eq(accessRequests.state, 'approved')));
      expect(row?.decidedBy).toBe('U0BOB');
    });

    it('leaves an intact ledger and made only calls Slack accepts', async () => {
      expect(await verifyLedger(db())).toMatchObject({ ok: true });
      expect(h.slack.violations).toEqual([]);
    });
  });
}
