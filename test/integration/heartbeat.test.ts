import { eq } from 'drizzle-orm';
import { afterEach, expect, it } from 'vitest';
import { heartbeatIfIdle, recordBotStarted } from '../../src/app/lifecycle.ts';
import { takeCheckpointIfDue } from '../../src/app/take-checkpoint.ts';
import { parseAccessConfig } from '../../src/config/access.ts';
import { evidenceEvents, outbox } from '../../src/db/schema.ts';
import { generateSigningKey } from '../../src/ledger/checkpoint.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { wipeLedger } from '../support/tamper.ts';

const HOUR = 3_600_000;
const access = {
  config: parseAccessConfig(`security_channel: C0SEC
checkpoint_every: 1h
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`),
  hash: 'test',
  text: '',
  path: 'access.yml',
};

describeEachDatabase('heartbeats', (ctx) => {
  const clock = new FakeClock('2026-03-02T09:00:00.000Z');
  const ledger = new Ledger(clock);
  const signer = generateSigningKey().signer;
  const deps = () => ({ db: ctx.database.db, ledger, clock, access, wake: { grants() {}, outbox() {} } });
  const ofKind = async (kind: string) => ctx.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, kind));

  afterEach(async () => {
    await wipeLedger(ctx.database.db);
    await ctx.database.db.delete(outbox);
    clock.set('2026-03-02T09:00:00.000Z');
  });

  it('writes one heartbeat after an idle hour, however many replicas ask at once', async () => {
    await recordBotStarted(deps(), { version: '0.1.0', host: 'bot-1' }, { database: ctx.kind, configHash: 'test' });
    clock.advance(HOUR - 1_000);
    expect((await heartbeatIfIdle(deps(), 'bot-1')).toISOString()).toBe('2026-03-02T10:00:00.000Z');
    expect(await ofKind('bot.heartbeat')).toEqual([]);
    clock.advance(1_000);
    await Promise.all(['bot-1', 'bot-2', 'bot-3', 'bot-4'].map((host) => heartbeatIfIdle(deps(), host)));
    const beats = await ofKind('bot.heartbeat');
    expect(beats).toHaveLength(1);
    expect(beats[0]!.details).toMatchObject({ idle_since: '2026-03-02T09:00:00.000Z' });
  });

  it('a checkpoint does not put off a heartbeat, and heartbeats alone do not make a checkpoint due before the daily one', async () => {
    await recordBotStarted(deps(), { version: '0.1.0', host: 'bot-1' }, { database: ctx.kind, configHash: 'test' });
    clock.advance(HOUR);
    expect((await takeCheckpointIfDue(deps(), signer)).taken).toBeDefined();
    await heartbeatIfIdle(deps(), 'bot-1');
    expect(await ofKind('bot.heartbeat')).toHaveLength(1);
    for (let hour = 2; hour <= 24; hour++) {
      clock.advance(HOUR);
      await heartbeatIfIdle(deps(), 'bot-1');
      expect((await takeCheckpointIfDue(deps(), signer)).taken).toBeUndefined();
    }
    expect(await ofKind('bot.heartbeat')).toHaveLength(24);
    clock.advance(HOUR);
    expect((await takeCheckpointIfDue(deps(), signer)).taken).toBeDefined();
    expect(await ofKind('ledger.checkpoint')).toHaveLength(2);
  });
});
