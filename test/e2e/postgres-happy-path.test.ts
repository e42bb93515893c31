import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceEvents } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { createPostgresDatabase, postgresAvailable, TEST_DATABASE_URL } from '../support/databases.ts';
import { personFields } from '../support/flows.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { blockAction, post, slashCommand } from '../support/slack-requests.ts';
import { textOf } from '../support/slack-server.ts';

const tag = randomBytes(4).toString('hex');
const role = `prod_rw_${tag}`;
const admin = `bg_admin_${tag}`;
const alice = `alice_${tag}`;

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production database, read-write
    grant: { postgres: { role: ${role}, admin_url_env: PROD_DB_ADMIN_URL } }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

/** A database that plays production, with the role to hand out, a login role for Alice and the bot's admin role. */
describe.skipIf(!postgresAvailable)('break-glass through a PostgreSQL role', () => {
  let prod: { url: string; drop(): Promise<void> };
  let superuser: postgres.Sql;
  const urlAs = (user: string) => Object.assign(new URL(prod.url), { username: user }).toString();
  const isMember = async () =>
    (await superuser`select 1 from pg_auth_members am join pg_roles r on r.oid = am.roleid join pg_roles m on m.oid = am.member where r.rolname = ${role} and m.rolname = ${alice}`).length > 0;

  beforeAll(async () => {
    prod = await createPostgresDatabase();
    superuser = postgres(prod.url, { max: 1, onnotice: () => {} });
    await superuser`create role ${superuser(role)} nologin`;
    await superuser`create role ${superuser(alice)} login`;
    await superuser`create role ${superuser(admin)} login`;
    await superuser`grant ${superuser(role)} to ${superuser(admin)} with admin option`;
    await superuser`grant pg_signal_backend to ${superuser(admin)}`;
  });
  afterAll(async () => {
    if (!superuser) return;
    await superuser.end();
    await prod.drop();
    const cluster = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    for (const name of [alice, admin, role]) await cluster`drop role if exists ${cluster(name)}`;
    await cluster.end();
  });

  for (const database of ['pglite', 'postgres'] as const) {
    describe(`[${database}]`, () => {
      let h: Harness;
      beforeAll(async () => {
        h = await startHarness({
          database,
          accessYml: ACCESS,
          env: { PROD_DB_ADMIN_URL: urlAs(admin) },
          slack: {
            users: [
              { id: 'U0ALICE', name: 'alice', email: `${alice}@example.com` },
              { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
            ],
          },
        });
      });
      afterAll(async () => h?.stop());

      it('requests, approves, grants the role, ends early: revokes it and ends the open session, with evidence', async () => {
        await post(h.baseUrl, slashCommand({ text: 'prod-db 2h INC-77 fix a stuck migration', userId: 'U0ALICE', responseUrl: h.slack.responseUrl('request') }));
        const card = await h.slack.waitFor(() => h.slack.lastMessage('U0BOB'));
        expect(textOf(card)).toContain('INC-77');
        expect((await post(h.baseUrl, blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: card }))).status).toBe(200);

        await h.slack.waitFor(async () => (await isMember()) || undefined, 5_000, 'alice a member of the role');
        await h.slack.waitFor(() => h.slack.messagesTo('U0ALICE').find((m) => textOf(m).includes('is active until')));
        const session = postgres(urlAs(alice), { max: 1, onnotice: () => {} });
        try {
          await session.unsafe(`set role ${role}`);
          expect(await session`select current_user as who`).toEqual([{ who: role }]);

          const end = await post(h.baseUrl, slashCommand({ text: 'end 1', userId: 'U0ALICE', responseUrl: h.slack.responseUrl('end') }));
          expect(end.status).toBe(200);
          await h.slack.waitFor(async () => (!(await isMember()) ? true : undefined), 5_000, 'alice no longer a member');
          await h.slack.waitFor(() => h.slack.messagesTo('U0ALICE').find((m) => textOf(m).includes('has ended')));
          // The session that held the role is gone: the next query fails, or runs on a new connection without it.
          const after = await session<Array<{ who: string }>>`select current_user as who`.catch(() => [{ who: 'ended' }]);
          expect(after[0]!.who).not.toBe(role);
        } finally {
          await session.end({ timeout: 1 });
        }

        const events = await h.bot.database.db.select().from(evidenceEvents).orderBy(evidenceEvents.seq);
        // People met for the first time (the requester, the approver) are recorded as person.seen between these.
        const kinds = events.map((e) => e.kind).filter((k) => !k.startsWith('person.'));
        expect(kinds).toEqual(['config.loaded', 'bot.started', 'request.created', 'request.approved', 'grant.applied', 'grant.end_requested', 'grant.revoked', 'grant.sessions_ended']);
        const revoked = events.find((e) => e.kind === 'grant.revoked')!;
        expect(revoked.details).toMatchObject({ reason: 'ended', provider_call: 'revoked' });
        // The session ended is on the record, with the revoke, as the database counted it.
        const ended = events.find((e) => e.kind === 'grant.sessions_ended')!;
        expect(ended.details).toEqual({ grant_id: (revoked.details as { grant_id: number }).grant_id, provider: 'postgres', ended: 1, effective_at: expect.any(String), method: 'pg_terminate_backend', ...(await personFields(h, 'U0ALICE')) });
        expect(ended.seq).toBe(revoked.seq + 1);
        expect(Math.abs(Date.parse((ended.details as { effective_at: string }).effective_at) - revoked.occurredAt.getTime())).toBeLessThan(5_000);
        expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
        expect(h.logs()).not.toContain(urlAs(admin));
        expect(h.slack.violations).toEqual([]);
      });
    });
  }
});
