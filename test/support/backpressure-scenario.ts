/**
 * A failing provider with many revokes due (issue #16, "Back-pressure on a failing provider"):
 * `people` active Okta grants end together, Okta answers 500 to every DELETE for a 10-minute
 * outage on a fake clock, then recovers. Shared by test/e2e/provider-backpressure.test.ts, which
 * asserts the targets, and bench/provider-backpressure.ts, which reports them as figures.
 */
import { and, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import { accessRequests, grants } from '../../src/db/schema.ts';
import { FakeClock } from './clock.ts';
import type { DatabaseKind } from './databases.ts';
import { startHarness, type Harness } from './harness.ts';

export const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

export const OKTA_GROUP = '00gPRODDB';
export const MINUTE = 60_000;
export const OUTAGE_MS = 10 * MINUTE;
/**
 * The fake clock moves this much at a time during the outage, with a little real time for the
 * workers at each step. On a slow machine fewer attempts fit in a fake minute, which can only lower
 * the calls counted; the bound holds because probes are spaced by the bot's (fake) clock.
 */
export const STEP_MS = 5_000;
const GRANT_MS = 60 * MINUTE;
export const email = (n: number) => `p${String(n).padStart(3, '0')}@example.com`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BackpressureScenario {
  h: Harness;
  clock: FakeClock;
  database: DatabaseKind;
  people: number;
  stop(): Promise<void>;
}

export interface Outage {
  /** Okta requests (all of them, not only DELETEs) in each fake minute of the outage. */
  callsPerMinute: number[];
  outageStart: number;
  /** Fake time at which Okta recovered. */
  recoveredAt: number;
  /** Real time (Date.now()) at the same moment. */
  recoveredAtReal: number;
}

/** The bot with `people` grants to prod-db, active and ending in an hour, as approvals would have left them. */
export async function startBackpressureScenario(database: DatabaseKind, options: { people: number; logLevel?: 'debug' | 'info' }): Promise<BackpressureScenario> {
  const clock = new FakeClock();
  const h = await startHarness({
    database,
    accessYml: ACCESS,
    clock,
    tickMs: 25,
    ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    slack: { users: [{ id: 'U0BOB', name: 'bob', email: 'bob@example.com' }] },
  });
  h.okta.addGroup({ id: OKTA_GROUP, name: 'prod-db' });
  for (let n = 1; n <= options.people; n++) {
    h.okta.addUser({ login: email(n), email: email(n), firstName: `P${n}`, lastName: 'Test' });
    h.okta.addMember(OKTA_GROUP, email(n));
  }
  const now = clock.now();
  const endsAt = new Date(now.getTime() + GRANT_MS);
  await h.bot.database.db.transaction(async (tx) => {
    for (let n = 1; n <= options.people; n++) {
      const [request] = await tx
        .insert(accessRequests)
        .values({ requester: `U0P${n}`, requesterEmail: email(n), resource: 'prod-db', durationMs: GRANT_MS, reason: 'load', kind: 'standard', state: 'approved', approvalsRequired: 1, approvers: ['U0BOB'], configHash: 'test', createdAt: now, pendingUntil: endsAt, decidedAt: now, decidedBy: 'U0BOB' })
        .returning({ id: accessRequests.id });
      await tx.insert(grants).values({ requestId: request!.id, person: `U0P${n}`, email: email(n), resource: 'prod-db', target: { kind: 'okta_group', groupId: OKTA_GROUP }, state: 'active', startsAt: now, endsAt, createdAt: now });
    }
  });
  return { h, clock, database, people: options.people, stop: () => h.stop() };
}

/** Real time for the workers to act on whatever is due at this fake instant, so fake time measures scheduling, not this machine's speed. */
export async function settle(s: BackpressureScenario): Promise<void> {
  const db = s.h.bot.database.db;
  for (let waited = 0; waited < 3_000; waited += 25) {
    const now = s.clock.now();
    const [due] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(grants)
      .where(and(inArray(grants.state, ['active', 'revoking']), lte(grants.endsAt, now), or(isNull(grants.nextAttemptAt), lte(grants.nextAttemptAt, now))));
    if (due!.n === 0) break;
    await sleep(25);
  }
  await sleep(25);
}

/** Moves past the grants' end and through the outage (Okta failing every DELETE with 500), counting Okta calls per fake minute; Okta has recovered when it resolves. */
export async function runOutage(s: BackpressureScenario): Promise<Outage> {
  const { h, clock } = s;
  const stop = h.okta.failWhen((r) => r.method === 'DELETE', 500);
  const callsPerMinute: number[] = [];
  try {
    clock.advance(GRANT_MS + 1_000);
    const outageStart = clock.now().getTime();
    let minuteStart = h.okta.requests.length;
    for (let t = STEP_MS; t <= OUTAGE_MS; t += STEP_MS) {
      clock.advance(STEP_MS);
      await sleep(s.database === 'pglite' ? 150 : 100);
      if (t % MINUTE === 0) {
        callsPerMinute.push(h.okta.requests.length - minuteStart);
        minuteStart = h.okta.requests.length;
      }
    }
    // Fake time ran ahead of the workers: let them finish what is due, still in the outage.
    await settle(s);
    return { callsPerMinute, outageStart, recoveredAt: clock.now().getTime(), recoveredAtReal: Date.now() };
  } finally {
    stop();
  }
}

/** After the recovery: one fake second at a time, with the workers settled at each, until nothing is left revoking or `withinMs` of fake time has passed. */
export async function revokeAfterRecovery(s: BackpressureScenario, withinMs: number): Promise<void> {
  const db = s.h.bot.database.db;
  for (let t = 0; t < withinMs; t += 1_000) {
    const left = await db.select({ id: grants.id }).from(grants).where(eq(grants.state, 'revoking'));
    if (left.length === 0) break;
    s.clock.advance(1_000);
    await settle(s);
  }
}
