/**
 * PostgreSQL goes away under the bot and comes back, as in a server restart or a network
 * partition. The shared PostgreSQL server is never touched: the bot reaches its database through
 * a TCP proxy the test cuts (every connection reset, new ones refused) or blackholes.
 * While the database is away, /healthz says so at once, and whoever types a command or clicks a
 * button is told the database is unreachable and to try again; nothing reaches the provider
 * without its evidence. Afterwards the bot serves again by itself.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GRANT_LEASE_MS } from '../../src/db/grants-repo.ts';
import { accessRequests, grants } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable, TEST_DATABASE_URL } from '../support/databases.ts';
import { click, eventsOf, grantOf, ledger, request, slash, waitForCard, waitForDm, waitForEvent } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

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

const LOAD = ['U0LOAD1', 'U0LOAD2', 'U0LOAD3', 'U0LOAD4'];
const PEOPLE = ['U0BOB', 'U0ALICE', 'U0ERIN', 'U0FRANK', ...LOAD];
const email = (id: string) => `${id.slice(2).toLowerCase()}@example.com`;
const UNREACHABLE = /cannot reach its database right now, so it could not record this and nothing was changed\. Please try again/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!postgresAvailable)('the database goes away and comes back [postgres]', () => {
  let h: Harness;
  let proxy: TcpProxy;
  const clock = new FakeClock();

  beforeAll(async () => {
    const server = new URL(TEST_DATABASE_URL);
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    h = await startHarness({
      database: 'postgres',
      accessYml: ACCESS,
      clock,
      tickMs: 50,
      slack: { users: PEOPLE.map((id) => ({ id, name: id.slice(2).toLowerCase(), email: email(id) })) },
      routeDatabase: (url) => {
        const routed = new URL(url);
        routed.host = `127.0.0.1:${proxy.port}`;
        return routed.toString();
      },
    });
    for (const id of PEOPLE) h.okta.addUser({ login: email(id), email: email(id) });
    h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
  });
  afterAll(async () => {
    await h?.stop();
    await proxy?.close();
  });

  /** Status and how long /healthz took to answer (a hang would be a probe timing out, not a 503). */
  async function health(): Promise<{ status: number; ms: number }> {
    const began = Date.now();
    const res = await fetch(`${h.baseUrl}/healthz`, { signal: AbortSignal.timeout(20_000) });
    await res.arrayBuffer();
    return { status: res.status, ms: Date.now() - began };
  }
  /** The bot reconnects within seconds of the database being back, not after a driver backoff of 20 s. */
  const waitHealthy = () => h.slack.waitFor(async () => ((await health()).status === 200 ? true : undefined), 5_000, '/healthz back to 200 within 5 s');
  const membershipPuts = (user: string) =>
    h.okta.requests.filter((r) => r.method === 'PUT' && r.path === `/api/v1/groups/00gPRODDB/users/${h.okta.user(email(user))!.id}`);

  it('while it is unreachable: /healthz answers 503 promptly, commands and clicks are told to retry, nothing is granted; then the bot serves again', async () => {
    expect((await health()).status).toBe(200);
    const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-30 replication lag');
    const card = await waitForCard(h, 'U0BOB', requestId);

    // A partition: connections are accepted and never answered.
    proxy.set('blackhole');
    const partitioned = await slash(h, 'U0FRANK', 'prod-db 1h INC-31 disk full');
    expect(partitioned.status).toBe(200);
    const probe = await health();
    expect(probe.status).toBe(503);
    expect(probe.ms).toBeLessThan(5_000);
    // Told within the database driver's connect timeout (10 s), not left waiting.
    expect(await partitioned.reply(20_000)).toMatch(UNREACHABLE);

    // A restart: every connection reset, new ones refused.
    proxy.set('refuse');
    const refused = await health();
    expect(refused.status).toBe(503);
    expect(refused.ms).toBeLessThan(5_000);
    const command = await slash(h, 'U0FRANK', 'prod-db 1h INC-31 disk full');
    expect(command.status).toBe(200);
    expect(await command.reply(WAIT)).toMatch(UNREACHABLE);
    const list = await slash(h, 'U0ALICE', 'list');
    expect(await list.reply(WAIT)).toMatch(UNREACHABLE);
    const approval = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
    expect(approval.status).toBe(200);
    expect(await approval.reply(WAIT)).toMatch(UNREACHABLE);
    await sleep(500);
    expect(membershipPuts('U0ALICE')).toEqual([]);
    expect(h.okta.isMember('00gPRODDB', email('U0ALICE'))).toBe(false);

    proxy.set('up');
    await waitHealthy();
    // Nothing the outage refused was recorded: Frank has no request, Alice's is still pending.
    expect(await h.bot.database.db.select().from(accessRequests).where(eq(accessRequests.requester, 'U0FRANK'))).toEqual([]);
    expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created']);

    // The same clicks and commands, retried, now go through.
    const retried = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
    expect(retried.status).toBe(200);
    await waitForEvent(h, requestId, 'grant.applied', WAIT);
    expect(h.okta.isMember('00gPRODDB', email('U0ALICE'))).toBe(true);
    expect(membershipPuts('U0ALICE')).toHaveLength(1);
    await waitForDm(h, 'U0ALICE', /is active until/, WAIT);
    const again = await request(h, 'U0FRANK', 'prod-db 1h INC-31 disk full');
    expect(again.reply).toMatch(/is waiting for 1 approval/);
  });

  it('a burst of commands across a restart: each is answered, either recorded or told to retry, never with a generic error', async () => {
    const answers: Array<{ user: string; text: string }> = [];
    let sending = true;
    const senders = LOAD.map(async (user, i) => {
      await sleep(i * 20);
      while (sending) {
        const cmd = await slash(h, user, `prod-db 30m INC-40 load ${answers.length}`);
        expect(cmd.status).toBe(200);
        const text = await cmd.reply(WAIT);
        answers.push({ user, text });
        await sleep(40);
      }
    });
    await sleep(800);
    proxy.set('refuse');
    await sleep(2_000);
    proxy.set('up');
    await sleep(1_500);
    sending = false;
    await Promise.all(senders);

    const recorded = answers.filter((a) => /^Request #\d+ for `prod-db` \(30m\) is waiting/.test(a.text));
    const toldToRetry = answers.filter((a) => UNREACHABLE.test(a.text));
    expect(answers.filter((a) => !recorded.includes(a) && !toldToRetry.includes(a))).toEqual([]);
    expect(recorded.length).toBeGreaterThan(0);
    expect(toldToRetry.length).toBeGreaterThan(0);
    // The last answers came after the database was back.
    for (const user of LOAD) expect(answers.filter((a) => a.user === user).at(-1)?.text).toMatch(/^Request #\d+/);

    // Every request a person was told about exists with its evidence; at most a commit whose
    // answer the cut swallowed exists beyond them (a retry then makes a second, harmless request).
    const created = (await ledger(h)).filter((e) => e.kind === 'request.created' && LOAD.includes(e.actor));
    const createdIds = new Set(created.map((e) => Number(e.requestId)));
    for (const a of recorded) {
      const id = Number(/^Request #(\d+)/.exec(a.text)![1]);
      expect(createdIds.has(id)).toBe(true);
      expect(created.find((e) => Number(e.requestId) === id)?.actor).toBe(a.user);
    }
    expect(created.length).toBeGreaterThanOrEqual(recorded.length);
    expect(created.length - recorded.length).toBeLessThanOrEqual(LOAD.length);
  });

  it('lost while the provider applies a grant: the approver is told it finishes later, and the recovery worker records it once', async () => {
    const { requestId } = await request(h, 'U0ERIN', 'prod-db 1h INC-32 cache flush');
    const card = await waitForCard(h, 'U0BOB', requestId);
    // Okta applies the membership; by the time its answer is back, the database is gone.
    const stop = h.okta.failWhen((r) => {
      if (r.method === 'PUT' && r.path.endsWith(`/users/${h.okta.user(email('U0ERIN'))!.id}`)) proxy.set('refuse');
      return false;
    });
    let reply: string;
    try {
      const approval = await click(h, 'U0BOB', ACTIONS.approve, { message: card });
      reply = await approval.reply(WAIT);
    } finally {
      stop();
    }
    expect(reply).toMatch(new RegExp(`^Approved request #${requestId}, but breakglass lost its database while granting, so it finishes the grant and records it as soon as the database is back`));
    expect(h.okta.isMember('00gPRODDB', email('U0ERIN'))).toBe(true);

    proxy.set('up');
    await waitHealthy();
    // Recorded as far as it got: approved, the grant still `granting` under its lease.
    expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.approved']);
    expect(await grantOf(h, requestId)).toMatchObject({ state: 'granting' });

    clock.advance(GRANT_LEASE_MS + 1_000);
    await waitForEvent(h, requestId, 'grant.applied', WAIT);
    expect(await grantOf(h, requestId)).toMatchObject({ state: 'active' });
    await waitForDm(h, 'U0ERIN', /is active until/, WAIT);
    await sleep(500);
    expect((await eventsOf(h, requestId)).map((e) => e.kind)).toEqual(['request.created', 'request.approved', 'grant.applied']);
    // Applied again by the recovery (Okta's PUT is idempotent), recorded once.
    expect(membershipPuts('U0ERIN')).toHaveLength(2);
  });

  it('afterwards: everyone in the Okta group has an active grant with its grant.applied, and the chain verifies', async () => {
    const db = h.bot.database.db;
    const active = await db.select().from(grants).where(eq(grants.state, 'active'));
    const applied = (await ledger(h)).filter((e) => e.kind === 'grant.applied');
    expect(h.okta.memberLogins('00gPRODDB').sort()).toEqual(active.map((g) => g.email).sort());
    expect(applied.map((e) => (e.details as { grant_id: number }).grant_id).sort()).toEqual(active.map((g) => g.id).sort());
    expect(await verifyLedger(db)).toMatchObject({ ok: true });
    expect(h.slack.violations).toEqual([]);
    expect(h.logs()).toMatch(/slash command failed/);
  });
});
