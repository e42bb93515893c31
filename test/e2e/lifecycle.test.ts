import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceEvents } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { startHarness, type Harness } from '../support/harness.ts';

const HOUR = 3_600_000;
const ACCESS = `security_channel: C0SEC
security: { slack_usergroup: S0SEC }
checkpoint_every: 1h
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`the bot records its own lifecycle [${database}]`, () => {
    let h: Harness;
    const clock = new FakeClock();
    const ledger = async () => h.bot.database.db.select().from(evidenceEvents).orderBy(evidenceEvents.seq);
    const heartbeats = async () => (await ledger()).filter((e) => e.kind === 'bot.heartbeat');
    /** Enough real time for every worker to tick many times (they tick every 25 ms). */
    const settle = () => sleep(500);

    beforeAll(async () => {
      h = await startHarness({ database, accessYml: ACCESS, clock, tickMs: 25, slack: { users: [{ id: 'U0BOB', name: 'bob', email: 'bob@example.com' }], usergroups: { S0SEC: ['U0BOB'] } } });
    });
    afterAll(async () => h?.stop());

    it('records bot.started at boot: the version, the host, the database and the policy in force', async () => {
      const events = await ledger();
      expect(events.map((e) => e.kind)).toEqual(['config.loaded', 'bot.started']);
      expect(events[1]).toMatchObject({
        actor: 'breakglass',
        occurredAt: clock.now(),
        details: { version: VERSION, host: hostname(), database, config_hash: (events[0]!.details as { config_hash: string }).config_hash },
      });
    });

    it('an idle hour yields exactly one heartbeat, and none before the hour is up', async () => {
      clock.advance(HOUR - 60_000);
      await settle();
      expect(await heartbeats()).toEqual([]);
      clock.advance(61_000);
      await h.slack.waitFor(async () => ((await heartbeats()).length > 0 ? true : undefined), 5_000, 'a heartbeat');
      await settle();
      const beats = await heartbeats();
      expect(beats).toHaveLength(1);
      expect(beats[0]!.details).toMatchObject({ host: hostname(), idle_since: (await ledger()).find((e) => e.kind === 'bot.started')!.occurredAt.toISOString() });
      // The hourly checkpoint is taken for the start, and is not taken again for a heartbeat alone.
      clock.advance(HOUR + 1_000);
      await h.slack.waitFor(async () => ((await heartbeats()).length > 1 ? true : undefined), 5_000, 'the second heartbeat');
      await settle();
      expect(await heartbeats()).toHaveLength(2);
      expect((await ledger()).filter((e) => e.kind === 'ledger.checkpoint')).toHaveLength(1);
    });

    it.skipIf(database === 'pglite')('replicas on one database write one heartbeat an hour between them', async () => {
      await h.replica();
      const before = (await heartbeats()).length;
      clock.advance(HOUR + 1_000);
      await h.slack.waitFor(async () => ((await heartbeats()).length > before ? true : undefined), 5_000, 'a heartbeat');
      await settle();
      expect(await heartbeats()).toHaveLength(before + 1);
    });

    it('a clean stop records bot.stopping, and the next start bot.started', async () => {
      const before = (await ledger()).length;
      await h.restart(() => clock.advance(3 * HOUR));
      const after = (await ledger()).slice(before).map((e) => e.kind);
      // A replica still running may record a heartbeat or a checkpoint while this one is stopped.
      expect(after[0]).toBe('bot.stopping');
      expect(after.filter((k) => k === 'bot.started')).toHaveLength(1);
      const stopping = (await ledger())[before]!;
      expect(stopping.details).toMatchObject({ version: VERSION, host: hostname(), started_at: expect.any(String) });
      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
    });
  });
}
