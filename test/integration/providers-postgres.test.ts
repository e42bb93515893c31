import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessConfigError, parseAccessConfig } from '../../src/config/access.ts';
import { readEnv } from '../../src/config/env.ts';
import { renderPolicy } from '../../src/reports/policy/policy-doc.ts';
import { createLogger } from '../../src/logger.ts';
import type { GrantSpec } from '../../src/ports.ts';
import { providersFromEnv, ProviderSetupError } from '../../src/providers/from-env.ts';
import { PostgresRoleProvider } from '../../src/providers/postgres/postgres-provider.ts';
import type { PostgresTarget } from '../../src/providers/postgres/target.ts';
import { createPostgresDatabase, postgresAvailable, TEST_DATABASE_URL } from '../support/databases.ts';

const ACCESS = (grant: string) => `security_channel: C0SEC
resources:
  prod-rw:
    grant: ${grant}
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

describe('access.yml postgres grants', () => {
  it('reads a role, the variable naming its admin URL, and ends sessions unless told not to', () => {
    const config = parseAccessConfig(ACCESS('{ postgres: { role: prod_rw, admin_url_env: PROD_DB_ADMIN_URL } }'));
    expect(config.resources['prod-rw']!.grant).toEqual({ kind: 'postgres_role', role: 'prod_rw', adminUrlEnv: 'PROD_DB_ADMIN_URL', endSessions: true });
    const quiet = parseAccessConfig(ACCESS('{ postgres: { role: prod_rw, admin_url_env: PROD_DB_ADMIN_URL, end_sessions: false } }'));
    expect(quiet.resources['prod-rw']!.grant).toMatchObject({ endSessions: false });
  });

  it('prints the role and how people map to logins in the policy document, and nothing of the URL', () => {
    const doc = renderPolicy({ config: parseAccessConfig(ACCESS('{ postgres: { role: prod_rw, admin_url_env: PROD_DB_ADMIN_URL } }')), hash: 'h', path: 'access.yml' });
    expect(doc).toContain('| How access is granted | membership of PostgreSQL role `prod_rw` (admin connection from `PROD_DB_ADMIN_URL`), ending the person’s open sessions at revoke |');
    const quiet = renderPolicy({ config: parseAccessConfig(ACCESS('{ postgres: { role: prod_rw, admin_url_env: PROD_DB_ADMIN_URL, end_sessions: false } }')), hash: 'h', path: 'access.yml' });
    expect(quiet).toContain('sessions open at revoke are not ended (end_sessions: false) and keep a role they SET until they disconnect, however long after the grant |');
    expect(doc).toContain('People are matched across Slack, Okta, AWS and PostgreSQL by email (Slack profile email = Okta login or email = IAM user name = PostgreSQL login role');
  });

  it('refuses a URL where the variable name belongs, on its line', () => {
    let problems: AccessConfigError['problems'] = [];
    try {
      parseAccessConfig(ACCESS('{ postgres: { role: prod_rw, admin_url_env: "postgres://admin:pw@db/prod" } }'));
    } catch (error) {
      problems = (error as AccessConfigError).problems;
    }
    expect(problems).toEqual([expect.objectContaining({ line: 4, path: 'resources.prod-rw.grant.postgres.admin_url_env', message: expect.stringMatching(/name an environment variable/) })]);
  });
});

describe.skipIf(!postgresAvailable)('PostgreSQL role provider', () => {
  const tag = randomBytes(4).toString('hex');
  const role = `prod_rw_${tag}`;
  const odd = `prod "ro"; drop table t_${tag}; --`;
  const admin = `bg_admin_${tag}`;
  const weakAdmin = `bg_weak_${tag}`;
  const alice = `alice_${tag}`;
  const bob = `bob_${tag}`;
  let prod: { url: string; drop(): Promise<void> };
  let superuser: postgres.Sql;
  let adminUrl: string;
  let provider: PostgresRoleProvider;
  const target = (overrides: Partial<PostgresTarget> = {}): PostgresTarget => ({ kind: 'postgres_role', role, adminUrlEnv: 'PROD_DB_ADMIN_URL', endSessions: true, ...overrides });
  const spec = (t: PostgresTarget, person: GrantSpec['person']): GrantSpec => ({ grantId: '1', resource: 'prod-rw', target: t, person, expiresAt: new Date(Date.now() + 3_600_000) });
  const urlAs = (user: string) => {
    const url = new URL(prod.url);
    url.username = user;
    return url.toString();
  };
  const members = async (of: string) =>
    (await superuser<Array<{ member: string }>>`select m.rolname as member from pg_auth_members am join pg_roles r on r.oid = am.roleid join pg_roles m on m.oid = am.member where r.rolname = ${of}`).map((r) => r.member);

  beforeAll(async () => {
    prod = await createPostgresDatabase();
    superuser = postgres(prod.url, { max: 1, onnotice: () => {} });
    for (const name of [role, odd]) await superuser`create role ${superuser(name)} nologin`;
    for (const name of [admin, weakAdmin, alice, bob]) await superuser`create role ${superuser(name)} login`;
    await superuser`grant ${superuser(role)} to ${superuser(admin)} with admin option`;
    await superuser`grant ${superuser(odd)} to ${superuser(admin)} with admin option`;
    await superuser`grant pg_signal_backend to ${superuser(admin)}`;
    await superuser.unsafe(`create table t_${tag} (id int)`);
    adminUrl = urlAs(admin);
    provider = new PostgresRoleProvider({ variable: (name) => (name === 'PROD_DB_ADMIN_URL' ? adminUrl : undefined) });
  });
  afterAll(async () => {
    await provider?.close();
    if (superuser) {
      await superuser.end();
      await prod.drop();
      const cluster = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      for (const name of [alice, bob, admin, weakAdmin, role, odd]) await cluster`drop role if exists ${cluster(name)}`;
      await cluster.end();
    }
  });

  it('grants the role to the login named by the email, lists it, and granting again changes nothing', async () => {
    await provider.grant(spec(target(), { email: `${alice}@example.com` }));
    await provider.grant(spec(target(), { email: `${alice}@example.com` }));
    expect(await members(role)).toContain(alice);
    expect(await provider.listAccess('prod-rw', target())).toEqual([{ resource: 'prod-rw', principal: alice }]);
  });

  it('uses the login people: gives instead of the email', async () => {
    await provider.grant(spec(target(), { email: 'robert@example.com', principal: bob }));
    expect(await members(role)).toContain(bob);
    await provider.revoke(spec(target(), { email: 'robert@example.com', principal: bob }));
    expect(await members(role)).not.toContain(bob);
  });

  it('revokes, and a membership already gone or a login that no longer exists is confirmed by listing', async () => {
    await provider.revoke(spec(target(), { email: `${alice}@example.com` }));
    expect(await members(role)).not.toContain(alice);
    await provider.revoke(spec(target(), { email: `${alice}@example.com` }));
    await provider.revoke(spec(target(), { email: 'nobody-here@example.com' }));
    expect(await provider.listAccess('prod-rw', target())).toEqual([]);
  });

  it('refuses to grant to a login role that does not exist, saying which people: override maps the person', async () => {
    await expect(provider.grant(spec(target(), { email: 'nobody-here@example.com', slackUserId: 'U0NOBODY' }))).rejects.toMatchObject({
      transient: false,
      message:
        'PostgreSQL has no login role "nobody-here" (the part of nobody-here@example.com before the @); if they log in as another role, add it to access.yml: people: { U0NOBODY: { postgres_user: <their login role> } }',
    });
    await expect(provider.grant(spec(target(), { email: 'nobody-here@example.com', principal: 'nobody_x', slackUserId: 'U0NOBODY' }))).rejects.toMatchObject({
      message: 'PostgreSQL has no login role "nobody_x"; correct postgres_user for U0NOBODY under people: in access.yml',
    });
  });

  it('quotes identifiers, so a role name cannot run SQL', async () => {
    await provider.grant(spec(target({ role: odd }), { email: `${alice}@example.com` }));
    expect(await members(odd)).toContain(alice);
    expect(await superuser.unsafe(`select count(*)::int as n from t_${tag}`)).toEqual([{ n: 0 }]);
    await provider.revoke(spec(target({ role: odd }), { email: `${alice}@example.com` }));
    expect(await members(odd)).not.toContain(alice);
  });

  it('ends the login’s open sessions at revoke, which would otherwise keep the role they SET', async () => {
    await provider.grant(spec(target(), { email: `${alice}@example.com` }));
    const session = postgres(urlAs(alice), { max: 1, onnotice: () => {} });
    try {
      await session.unsafe(`set role ${role}`);
      expect(await session`select current_user as who`).toEqual([{ who: role }]);
      const outcome = await provider.revoke(spec(target(), { email: `${alice}@example.com` }));
      // What the evidence records (grant.sessions_ended): the count and the time are the database's.
      // With the members it listed to check the REVOKE took, which the caller records instead of listing again.
      expect(outcome).toEqual({ listed: expect.not.arrayContaining([expect.objectContaining({ principal: alice })]), sessionsEnded: { ended: 1, effectiveAt: expect.any(Date), method: 'pg_terminate_backend' } });
      expect(Math.abs((outcome as { sessionsEnded: { effectiveAt: Date } }).sessionsEnded.effectiveAt.getTime() - Date.now())).toBeLessThan(60_000);
      expect(await superuser`select pid from pg_stat_activity where usename = ${alice}`).toEqual([]);
      // The next query fails, or runs on a new connection without the role.
      const after = await session<Array<{ who: string }>>`select current_user as who`.catch(() => [{ who: 'ended' }]);
      expect(after[0]!.who).not.toBe(role);
    } finally {
      await session.end({ timeout: 1 });
    }
  });

  it('counts none when the login has no session open', async () => {
    await provider.grant(spec(target(), { email: `${bob}@example.com` }));
    expect(await provider.revoke(spec(target(), { email: `${bob}@example.com` }))).toMatchObject({ sessionsEnded: { ended: 0 } });
  });

  it('leaves sessions open with end_sessions: false', async () => {
    await provider.grant(spec(target({ endSessions: false }), { email: `${alice}@example.com` }));
    const session = postgres(urlAs(alice), { max: 1, onnotice: () => {} });
    try {
      await session`select 1`;
      expect(await provider.revoke(spec(target({ endSessions: false }), { email: `${alice}@example.com` }))).toEqual({ listed: expect.not.arrayContaining([expect.objectContaining({ principal: alice })]) });
      expect(await session`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await session.end({ timeout: 1 });
    }
  });

  describe('at start-up', () => {
    const start = async (grant: string, variables: Record<string, string>) => {
      let logs = '';
      const stream = new PassThrough();
      stream.on('data', (chunk: Buffer) => (logs += chunk.toString()));
      const env = readEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', ...variables });
      const logger = createLogger('debug', stream);
      try {
        const started = await providersFromEnv(env, parseAccessConfig(ACCESS(grant)), logger, async () => {});
        started.close();
        return { error: undefined, logs };
      } catch (error) {
        return { error: error as Error, logs };
      }
    };

    it('names the variable and the resource when the admin URL is not set', async () => {
      const { error } = await start('{ postgres: { role: prod_rw, admin_url_env: PROD_DB_ADMIN_URL } }', {});
      expect(error).toBeInstanceOf(ProviderSetupError);
      expect(error?.message).toBe('access.yml resource prod-rw takes its PostgreSQL admin URL from PROD_DB_ADMIN_URL, which is not set.');
    });

    it('stops on a role that does not exist', async () => {
      const { error } = await start(`{ postgres: { role: missing_${tag}, admin_url_env: PROD_DB_ADMIN_URL } }`, { PROD_DB_ADMIN_URL: adminUrl });
      expect(error).toBeInstanceOf(ProviderSetupError);
      expect(error?.message).toContain(`PostgreSQL role "missing_${tag}" does not exist (resource prod-rw, PROD_DB_ADMIN_URL)`);
    });

    it('stops on an admin that may neither grant the role nor end sessions, saying what it needs', async () => {
      const { error } = await start(`{ postgres: { role: ${role}, admin_url_env: PROD_DB_ADMIN_URL } }`, { PROD_DB_ADMIN_URL: urlAs(weakAdmin) });
      expect(error?.message).toMatch(/may not grant ".*" \(resource prod-rw, PROD_DB_ADMIN_URL\): it needs ADMIN OPTION on it .* or CREATEROLE; the admin role may not end sessions .*pg_signal_backend/);
    });

    it('starts with a working admin, and never logs the admin URL of a database that does not answer', async () => {
      expect((await start(`{ postgres: { role: ${role}, admin_url_env: PROD_DB_ADMIN_URL } }`, { PROD_DB_ADMIN_URL: adminUrl })).error).toBeUndefined();
      const down = await start(`{ postgres: { role: ${role}, admin_url_env: PROD_DB_ADMIN_URL } }`, { PROD_DB_ADMIN_URL: 'postgres://admin:s3cret-pw@127.0.0.1:1/prod' });
      expect(down.error).toBeUndefined();
      expect(down.logs).toContain('PostgreSQL is unreachable');
      expect(down.logs).not.toContain('s3cret-pw');
    });
  });
});
