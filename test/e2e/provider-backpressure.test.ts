import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alerts, evidenceEvents, grants } from '../../src/db/schema.ts';
import { OKTA_GROUP, OUTAGE_MS, revokeAfterRecovery, runOutage, startBackpressureScenario, type BackpressureScenario } from '../support/backpressure-scenario.ts';
import { postgresAvailable } from '../support/databases.ts';

const PEOPLE = 200;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`a failing provider with ${PEOPLE} revokes due [${database}]`, () => {
    let s: BackpressureScenario;
    beforeAll(async () => {
      s = await startBackpressureScenario(database, { people: PEOPLE });
    });
    afterAll(async () => s?.stop());

    it('makes fewer than 60 calls a minute during a 10-minute outage, raises one alert, and revokes all within 60 s of recovery', { timeout: 300_000 }, async () => {
      const { h } = s;
      const db = h.bot.database.db;
      const { callsPerMinute, outageStart, recoveredAt } = await runOutage(s);
      expect(recoveredAt - outageStart).toBe(OUTAGE_MS);
      // Everyone was tried at least once during the outage: every grant recorded its failure.
      const failedEvents = await db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'grant.revoke_failed'));
      expect(failedEvents).toHaveLength(PEOPLE);
      expect(callsPerMinute).toHaveLength(10);
      for (const calls of callsPerMinute) expect(calls).toBeLessThan(60);
      expect(await db.select().from(alerts).where(eq(alerts.kind, 'revoke_failed'))).toHaveLength(1);
      expect(h.okta.memberLogins(OKTA_GROUP)).toHaveLength(PEOPLE);

      // Okta is back: everyone is revoked within 60 s (fake time) of the recovery.
      await revokeAfterRecovery(s, 60_000);
      const revoked = await db.select().from(grants).where(eq(grants.state, 'revoked'));
      expect(revoked).toHaveLength(PEOPLE);
      for (const g of revoked) expect(g.revokedAt!.getTime() - recoveredAt).toBeLessThanOrEqual(60_000);
      expect(h.okta.memberLogins(OKTA_GROUP)).toEqual([]);
      console.log(`calls per minute during the outage: ${callsPerMinute.join(', ')}; last revoke ${Math.max(...revoked.map((g) => g.revokedAt!.getTime())) - recoveredAt} ms after recovery`);
    });
  });
}
