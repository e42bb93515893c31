import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { learnPeople } from '../../src/app/learn-people.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { createLogger } from '../../src/logger.ts';
import { runCli } from '../support/cli.ts';
import { cliDatabaseVariants, type CliDatabase } from '../support/cli-databases.ts';
import { FakeClock } from '../support/clock.ts';
import { uncatalogued } from '../support/uncatalogued.ts';

/** The example: a leaver's events are recorded under their email, and the auditor has their Slack id. */
for (const variant of cliDatabaseVariants) {
  describe.skipIf(variant.skip)(`evidence export --user takes any alias [${variant.kind}]`, () => {
    let database: CliDatabase;
    beforeAll(async () => {
      database = await variant.setup();
      const opened = await database.open();
      const clock = new FakeClock('2026-03-02T09:00:00.000Z');
      const ledger = new Ledger(clock);
      await learnPeople({ db: opened.db, ledger, clock, logger: createLogger('silent') }, 'request', [
        { system: 'slack', aliases: [{ kind: 'slack', value: 'U0DAVE' }, { kind: 'slack_email', value: 'dave@example.com' }], name: 'Dave', status: 'active' },
      ]);
      for (const event of [
        { kind: 'offboarding.detected', actor: 'breakglass', subject: 'Dave@Example.com' },
        { kind: 'offboarding.completed', actor: 'breakglass', subject: 'dave@example.com' },
        { kind: 'request.created', actor: 'U0ERIN', subject: 'U0ERIN', resource: 'prod-db' },
      ] as const) {
        clock.advance(60_000);
        await opened.db.transaction((tx) => ledger.append(tx, uncatalogued(event)));
      }
      await opened.close();
    });
    afterAll(async () => database?.cleanup());

    it("finds the events recorded under the leaver's email from their Slack id, in any case", async () => {
      const result = await runCli(['evidence', 'export', '--from', '2026-03-01', '--to', '2026-03-31', '--format', 'jsonl', '--user', 'u0dave'], database.env);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { kind: string; subject: string });
      expect(events.map((e) => `${e.kind} ${e.subject}`)).toEqual([
        expect.stringMatching(/^person\.seen P-/),
        'offboarding.detected Dave@Example.com',
        'offboarding.completed dave@example.com',
      ]);
    });
  });
}
