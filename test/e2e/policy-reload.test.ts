/**
 * access.yml changes while the bot runs: a valid edit is recorded and used at once, an invalid one
 * is refused (once to the security channel) and the old policy stays; a replica whose own file did
 * not change picks up the recorded version at its next poll and never puts its old file back.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { accessRequests, alerts, evidenceEvents } from '../../src/db/schema.ts';
import { postgresAvailable } from '../support/databases.ts';
import { request, slash } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { textOf } from '../support/slack-server.ts';

vi.setConfig({ testTimeout: 30_000 });

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;
const STAGING = `${ACCESS}  staging-db:
    description: Staging Postgres
    grant: { okta_group: 00gSTAGING }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
`;
/** A typo on line 6: `max_duraton`. */
const MISSPELT = ACCESS.replace('max_duration: 4h', 'max_duraton: 4h');
const NEGATIVE = ACCESS.replace('max_duration: 4h', 'max_duration: forever');
const NO_PROVIDER = `${ACCESS}  warehouse:
    grant: { postgres: { role: analyst, admin_url_env: WAREHOUSE_ADMIN_URL } }
    max_duration: 1h
    approvers: { slack_users: [U0BOB] }
`;

/** The answer to a request the policy in force does not allow. */
const NOT_REQUESTABLE = /There is no resource `[\w-]+` you may request/;
const answerTo = async (h: Harness, text: string) => (await slash(h, 'U0ALICE', text)).reply();
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const USERS = ['U0ALICE', 'U0BOB'].map((id) => ({ id, name: id.slice(2).toLowerCase(), email: `${id.slice(2).toLowerCase()}@example.com` }));

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`changing access.yml while the bot runs [${database}]`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ database, accessYml: ACCESS, slack: { users: USERS } });
      h.okta.addUser({ login: 'alice@example.com', email: 'alice@example.com' });
    });
    afterAll(async () => h?.stop());

    const db = () => h.bot.database.db;
    const loadedHashes = async () =>
      (await db().select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'config.loaded')).orderBy(evidenceEvents.seq)).map((e) => e.details['config_hash']);
    const refusals = () => h.slack.messagesTo('C0SEC').filter((m) => textOf(m).includes('was refused'));

    it('a new resource becomes requestable without a restart, under a recorded config.loaded with the new hash', async () => {
      expect(await answerTo(h, 'staging-db 1h INC-1 before the edit')).toMatch(NOT_REQUESTABLE);

      writeFileSync(h.accessPath, STAGING);
      await h.slack.waitFor(async () => ((await loadedHashes()).includes(sha256(STAGING)) ? true : undefined), 5_000, 'config.loaded for the edited file');
      expect(await loadedHashes()).toEqual([sha256(ACCESS), sha256(STAGING)]);

      const { requestId } = await request(h, 'U0ALICE', 'staging-db 1h INC-2 after the edit');
      const [row] = await db().select().from(accessRequests).where(eq(accessRequests.id, requestId));
      expect(row!.configHash).toBe(sha256(STAGING));
      expect((await slash(h, 'U0ALICE', 'help')).ack).toContain('`staging-db` up to 2h');
    });

    it('an invalid edit is refused with its line, alerted once per distinct text, and the old policy stays', async () => {
      writeFileSync(h.accessPath, MISSPELT);
      const alert = await h.slack.waitFor(() => refusals()[0], 5_000, 'the refusal in the security channel');
      expect(textOf(alert)).toMatch(/access\.yml:6:5 resources\.prod-db\.max_duraton: unknown key/);
      expect(textOf(alert)).toContain(sha256(STAGING).slice(0, 12));
      expect(h.logs()).toContain('new access.yml version refused');

      // SIGHUP on the unchanged bad file, another bad text, then the first bad text again.
      expect((await h.bot.reloadPolicy('SIGHUP')).kind).toBe('unchanged');
      writeFileSync(h.accessPath, NEGATIVE);
      expect((await h.bot.reloadPolicy('SIGHUP')).kind).toBe('refused');
      writeFileSync(h.accessPath, MISSPELT);
      expect((await h.bot.reloadPolicy('SIGHUP')).kind).toBe('refused');
      await h.slack.waitFor(() => (refusals().length === 2 ? true : undefined), 5_000, 'the second distinct refusal');
      await new Promise((r) => setTimeout(r, 800));
      expect(refusals()).toHaveLength(2);
      expect(await db().select().from(alerts).where(eq(alerts.kind, 'policy_refused'))).toHaveLength(2);

      expect(await loadedHashes()).toEqual([sha256(ACCESS), sha256(STAGING)]);
      const { requestId } = await request(h, 'U0ALICE', 'prod-db 1h INC-3 still works');
      const [row] = await db().select().from(accessRequests).where(eq(accessRequests.id, requestId));
      expect(row!.configHash).toBe(sha256(STAGING));
    });

    it('a resource whose provider is not configured is refused like an invalid file, naming the fix', async () => {
      writeFileSync(h.accessPath, NO_PROVIDER);
      const outcome = await h.bot.reloadPolicy('SIGHUP');
      expect(outcome).toMatchObject({ kind: 'refused', problems: [expect.stringMatching(/resources\.warehouse: no access provider is configured for grant target "postgres_role".*restart/)] });
      await h.slack.waitFor(() => refusals().find((m) => textOf(m).includes('resources.warehouse')), 5_000, 'the provider refusal');
      expect(await answerTo(h, 'warehouse 1h INC-4 analysis')).toMatch(NOT_REQUESTABLE);
    });

    it('SIGHUP loads a fixed file at once, and rolling back to an earlier text is recorded again', async () => {
      // Let the watcher settle after the last test's write, so the SIGHUP below is what loads the file.
      await new Promise((r) => setTimeout(r, 800));
      writeFileSync(h.accessPath, ACCESS);
      expect(await h.bot.reloadPolicy('SIGHUP')).toEqual({ kind: 'loaded', hash: sha256(ACCESS) });
      expect(await loadedHashes()).toEqual([sha256(ACCESS), sha256(STAGING), sha256(ACCESS)]);
      expect(await answerTo(h, 'staging-db 1h INC-5 gone again')).toMatch(NOT_REQUESTABLE);
      // The watcher sees the same write later and finds nothing new.
      await new Promise((r) => setTimeout(r, 800));
      expect(await loadedHashes()).toHaveLength(3);
    });
  });
}

describe.skipIf(!postgresAvailable)('a replica whose own file did not change [postgres]', () => {
  let h: Harness;
  let replica: Awaited<ReturnType<Harness['replica']>>;
  beforeAll(async () => {
    h = await startHarness({ database: 'postgres', accessYml: ACCESS, slack: { users: USERS }, policyPollMs: 200 });
    replica = await h.replica({ ownAccessFile: true });
    h.okta.addUser({ login: 'alice@example.com', email: 'alice@example.com' });
  });
  afterAll(async () => h?.stop());

  it('adopts the version the first recorded within its poll, and never records its own older file again', async () => {
    const atReplica = { ...h, baseUrl: `http://127.0.0.1:${replica.port}` } as Harness;
    writeFileSync(h.accessPath, STAGING);
    const { requestId } = await h.slack.waitFor(
      () => request(atReplica, 'U0ALICE', 'staging-db 1h INC-6 through the replica').catch(() => undefined),
      5_000,
      'the replica accepting staging-db',
    );
    const [row] = await h.bot.database.db.select().from(accessRequests).where(eq(accessRequests.id, requestId));
    expect(row!.configHash).toBe(sha256(STAGING));

    // Its own file still holds the old text: a SIGHUP and several polls later, nothing is put back.
    expect((await replica.reloadPolicy('SIGHUP')).kind).toBe('unchanged');
    await new Promise((r) => setTimeout(r, 1_000));
    const loaded = await h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'config.loaded')).orderBy(evidenceEvents.seq);
    expect(loaded.map((e) => e.details['config_hash'])).toEqual([sha256(ACCESS), sha256(STAGING)]);
    expect(h.logs()).toContain('access policy changed to the version another replica recorded');
  });
});
