import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceEvents } from '../../src/db/schema.ts';
import { parseCheckpoint } from '../../src/ledger/checkpoint.ts';
import { checkLedgerAgainstCheckpoint } from '../../src/ledger/checkpoint-check.ts';
import { EXPORT_COLUMNS } from '../../src/reports/export/export.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { FakeClock } from '../support/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { post, slashCommand } from '../support/slack-requests.ts';
import { textOf } from '../support/slack-server.ts';

const ACCESS = `security_channel: C0SEC
security: { slack_usergroup: S0SEC }
checkpoint_every: 1h
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
  billing:
    grant: { okta_group: 00gBILLING }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`ledger checkpoints and /breakglass log [${database}]`, () => {
    let h: Harness;
    const clock = new FakeClock(new Date(Math.floor(Date.now() / 1000) * 1000));
    let n = 0;
    const command = async (userId: string, text: string) => {
      const name = `cmd-${++n}`;
      const answer = await post(h.baseUrl, slashCommand({ text, userId, responseUrl: h.slack.responseUrl(name) }));
      expect(answer.status).toBe(200);
      return name;
    };

    beforeAll(async () => {
      h = await startHarness({
        database,
        accessYml: ACCESS,
        clock,
        slack: {
          users: [
            { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
            { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
            { id: 'U0SEC', name: 'sam', email: 'sam@example.com' },
          ],
          usergroups: { S0SEC: ['U0SEC'] },
        },
      });
      const asked = await command('U0ALICE', 'prod-db 1h INC-7 replica lag');
      await h.slack.waitFor(() => h.slack.responses(asked)[0], 5_000, 'the request answered');
      const other = await command('U0ALICE', 'billing 1h INC-8 invoice rerun');
      await h.slack.waitFor(() => h.slack.responses(other)[0], 5_000, 'the second request answered');
    });
    afterAll(async () => h?.stop());

    it('posts a signed checkpoint to the security channel every checkpoint_every and records it', async () => {
      expect(h.slack.messagesTo('C0SEC').filter((m) => textOf(m).includes('breakglass-checkpoint'))).toEqual([]);
      clock.advance(60 * 60_000 + 1_000);
      const posted = await h.slack.waitFor(() => h.slack.messagesTo('C0SEC').find((m) => textOf(m).includes('breakglass-checkpoint v1')), 5_000, 'the checkpoint in C0SEC');
      const checkpoint = parseCheckpoint(textOf(posted));

      const db = h.bot.database.db;
      const [recorded] = await db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'ledger.checkpoint'));
      expect(recorded).toMatchObject({ seq: checkpoint.count + 1, actor: 'breakglass' });
      expect(recorded!.details).toMatchObject({ count: checkpoint.count, head: checkpoint.head, public_key: checkpoint.publicKey, signature: checkpoint.signature });
      expect(await checkLedgerAgainstCheckpoint(db, checkpoint, { publicKey: checkpoint.publicKey })).toMatchObject({ ok: true });
      expect(await verifyLedger(db)).toMatchObject({ ok: true });

      // Generated at first start and kept in DATA_DIR (beside the embedded data, or the bot's
      // own folder on PostgreSQL), readable by the owner only, never logged; its public key is.
      const keyFile = join(h.dataDir, 'ledger-signing-key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      expect(h.logs()).not.toContain(readFileSync(keyFile, 'utf8').trim());
      expect(h.logs()).toContain(checkpoint.publicKey);
      expect(h.slack.violations).toEqual([]);
    });

    it('uploads the CSV log to a security member as a DM file', async () => {
      const asked = await command('U0SEC', 'log prod-db 7');
      const answers = await h.slack.waitFor(() => (h.slack.responses(asked).length >= 2 ? h.slack.responses(asked) : undefined), 5_000, 'two answers');
      expect(answers[0]!.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/^Preparing the evidence log of `prod-db` for the last 7 day\(s\)/) });

      // The export records itself (`log.exported`, about prod-db) once it has read the log: the
      // file holds the events of prod-db up to the read, in ledger order. The bot's workers keep
      // recording meanwhile (the requests expire), so one may land between the read and the record.
      const ofProdDb = await h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.resource, 'prod-db')).orderBy(evidenceEvents.seq);
      const exportRecord = ofProdDb.find((e) => e.kind === 'log.exported');
      expect(exportRecord).toMatchObject({ actor: 'U0SEC' });
      const exported = (exportRecord!.details as { events: number }).events;
      const expected = ofProdDb.filter((e) => e.seq < exportRecord!.seq).slice(0, exported);
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBe(exported);
      expect(answers[1]!.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(new RegExp(`^Uploaded ${expected.length} event\\(s\\) of \`prod-db\``)) });

      const files = h.slack.filesTo('U0SEC');
      expect(files).toHaveLength(1);
      expect(files[0]!.filename).toMatch(/^breakglass-log-prod-db-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/);
      const lines = files[0]!.content!.toString('utf8').trimEnd().split('\n');
      expect(lines[0]).toBe(`\uFEFF${EXPORT_COLUMNS.join(',')}`);
      expect(lines.slice(1).map((line) => Number(line.split(',')[0]))).toEqual(expected.map((e) => e.seq));
      expect(lines.slice(1).every((line) => line.includes(',prod-db,'))).toBe(true);
      expect(h.slack.violations).toEqual([]);
    });

    it('refuses anyone outside the security audience and uploads nothing', async () => {
      const before = h.slack.files().length;
      const asked = await command('U0ALICE', 'log prod-db 7');
      const answer = await h.slack.waitFor(() => h.slack.responses(asked)[0], 5_000, 'the refusal');
      expect(answer.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/only for the security team .* you are not in it\. Nothing was exported/) });
      await new Promise((r) => setTimeout(r, 200));
      expect(h.slack.responses(asked)).toHaveLength(1);
      expect(h.slack.files()).toHaveLength(before);
      expect(h.slack.filesTo('U0ALICE')).toEqual([]);
      expect(h.slack.violations).toEqual([]);
    });
  });
}
