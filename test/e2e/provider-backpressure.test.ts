import { and, eq, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessRequests, alerts, evidenceEvents, grants } from '../../src/db/schema.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { startHarness, type Harness } from '../support/harness.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

const PEOPLE = 200;
const MINUTE = 60_000;
const OUTAGE_MS = 10 * MINUTE;
/**
 * The fake clock moves this much at a time during the outage, with a little real time for the
 * workers at each step. On a slow machine fewer attempts fit in a fake minute, which can only lower
 * the calls counted; the bound holds because probes are spaced by the bot's (fake) clock.
 */
const STEP_MS = 5_000;
const email = (n: number) => `p${String(n).padStart(3, '0')}@example.com`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`a failing provider with ${PEOPLE} revokes due [${database}]`, () => {
    let h: Harness;
    const clock = new FakeClock();
    beforeAll(async () => {
      h = await startHarness({ database, accessYml: ACCESS, clock, tickMs: 25, slack: { users: [{ id: 'U0BOB', name: 'bob', email: 'bob@example.com' }] } });
      h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
      const now = clock.now();
      const endsAt = new Date(now.getTime() + 60 * MINUTE);
      for (let n = 1; n <= PEOPLE; n++) {
        h.okta.addUser({ login: email(n), email: email(n), firstName: `P${n}`, lastName: 'Test' });
        h.okta.addMember('00gPRODDB', email(n));
      }
      // The grants as an approval would have left them: active, ending in an hour.
      await h.bot.database.db.transaction(async (tx) => {
        for (let n = 1; n <= PEOPLE; n++) {
          const [request] = await tx
            .insert(accessRequests)
            .values({ requester: `U0P${n}`, requesterEmail: email(n), resource: 'prod-db', durationMs: 60 * MINUTE, reason: 'load', kind: 'standard', state: 'approved', approvalsRequired: 1, approvers: ['U0BOB'], configHash: 'test', createdAt: now, pendingUntil: endsAt, decidedAt: now, decidedBy: 'U0BOB' })
            .returning({ id: accessRequests.id });
          await tx.insert(grants).values({ requestId: request!.id, person: `U0P${n}`, email: email(n), resource: 'prod-db', target: { kind: 'okta_group', groupId: '00gPRODDB' }, state: 'active', startsAt: now, endsAt, createdAt: now });
        }
      });
    });
    afterAll(async () => h?.stop());

    /** Real time for the workers to act on whatever is due at this fake instant, so fake time measures scheduling, not this machine's speed. */
    async function settle(): Promise<void> {
      const db = h.bot.database.db;
      for (let waited = 0; waited < 3_000; waited += 25) {
        const [due] = await db.select({ n: sql<number>`count(*)::int` }).from(grants).where(and(inArray(grants.state, ['active', 'revoking']), lte(grants.endsAt, clock.now()), or(isNull(grants.nextAttemptAt), lte(grants.nextAttemptAt, clock.now()))));
        if (due!.n === 0) break;
        await sleep(25);
      }
      await sleep(25);
    }

    it('makes fewer than 60 calls a minute during a 10-minute outage, raises one alert, and revokes all within 60 s of recovery', { timeout: 300_000 }, async () => {
      const db = h.bot.database.db;
      const stop = h.okta.failWhen((r) => r.method === 'DELETE', 500);
      const callsPerMinute: number[] = [];
      let recoveredAt: number;
      try {
        clock.advance(60 * MINUTE + 1_000);
        const outageStart = clock.now().getTime();
        let minuteStart = h.okta.requests.length;
        for (let t = STEP_MS; t <= OUTAGE_MS; t += STEP_MS) {
          clock.advance(STEP_MS);
          await sleep(database === 'pglite' ? 150 : 100);
          if (t % MINUTE === 0) {
            callsPerMinute.push(h.okta.requests.length - minuteStart);
            minuteStart = h.okta.requests.length;
          }
        }
        // Fake time ran ahead of the workers: let them finish what is due, still in the outage.
        await settle();
        recoveredAt = clock.now().getTime();
        expect(recoveredAt - outageStart).toBe(OUTAGE_MS);
      } finally {
        stop();
      }
      // Everyone was tried at least once during the outage: every grant recorded its failure.
      const failedEvents = await db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'grant.revoke_failed'));
      expect(failedEvents).toHaveLength(PEOPLE);
      expect(callsPerMinute).toHaveLength(10);
      for (const calls of callsPerMinute) expect(calls).toBeLessThan(60);
      expect(await db.select().from(alerts).where(eq(alerts.kind, 'revoke_failed'))).toHaveLength(1);
      expect(h.okta.memberLogins('00gPRODDB')).toHaveLength(PEOPLE);

      // Okta is back: everyone is revoked within 60 s (fake time) of the recovery.
      for (let t = 0; t < 60_000; t += 1_000) {
        const left = await db.select({ id: grants.id }).from(grants).where(eq(grants.state, 'revoking'));
        if (left.length === 0) break;
        clock.advance(1_000);
        await settle();
      }
      const revoked = await db.select().from(grants).where(eq(grants.state, 'revoked'));
      expect(revoked).toHaveLength(PEOPLE);
      for (const g of revoked) expect(g.revokedAt!.getTime() - recoveredAt!).toBeLessThanOrEqual(60_000);
      expect(h.okta.memberLogins('00gPRODDB')).toEqual([]);
      console.log(`calls per minute during the outage: ${callsPerMinute.join(', ')}; last revoke ${Math.max(...revoked.map((g) => g.revokedAt!.getTime())) - recoveredAt!} ms after recovery`);
    });
  });
}
