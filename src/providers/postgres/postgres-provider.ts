import postgres, { type Sql } from 'postgres';
import { ProviderError, type AccessEntry, type AccessProvider, type GrantSpec, type GrantTarget, type Person, type RevokeOutcome, type SessionsEnded } from '../../ports.ts';
import { DEFAULT_RETRY, isTransientError, withRetry, type RetryOptions } from '../retry.ts';
import { isPostgresTarget, type PostgresTarget } from './target.ts';

/** The login role: the one `people:` gave (or a listing reported), else the local part of the email. */
export const loginOf = (person: Person): string => person.principal ?? person.email.split('@')[0]!;

/** A person with no login of that name: the message names the access.yml override that maps them. */
function unknownLogin(person: Person, login: string): string {
  const who = person.slackUserId ?? '<their Slack user id>';
  if (person.principal !== undefined) return `PostgreSQL has no login role "${login}"; correct postgres_user for ${who} under people: in access.yml`;
  return `PostgreSQL has no login role "${login}" (the part of ${person.email} before the @); if they log in as another role, add it to access.yml: people: { ${who}: { postgres_user: <their login role> } }`;
}

/** PostgreSQL's undefined_object (42704), under the retry's ProviderError: the login (or the role) does not exist. */
const isUndefinedRole = (error: unknown): boolean => error instanceof ProviderError && (error.cause as { code?: string } | undefined)?.code === '42704';

const TRANSIENT_CLIENT_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);

/** Connection loss, too many connections, a server shutting down, serialization or deadlock: worth trying again. */
function isTransientPostgresError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (TRANSIENT_CLIENT_CODES.has(code) || /^(08|53)/.test(code) || /^57P0[123]$/.test(code) || code === '40001' || code === '40P01') return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return false;
  }
  return isTransientError(err);
}

export interface PostgresRoleProviderOptions {
  /** The value of an environment variable (the admin URLs access.yml names). */
  variable: (name: string) => string | undefined;
  retry?: Partial<RetryOptions>;
}

/**
 * Membership of PostgreSQL roles, through an admin connection per `admin_url_env`. Identifiers are
 * always quoted by the driver. GRANT to a member and REVOKE from a non-member are no-ops; every
 * revoke is confirmed by listing the role's members, so a membership that is already gone (or a
 * login that no longer exists) counts as revoked only when PostgreSQL no longer lists it.
 */
export class PostgresRoleProvider implements AccessProvider {
  readonly name = 'postgres';
  private readonly clients = new Map<string, Sql>();

  constructor(private readonly options: PostgresRoleProviderOptions) {}

  supports(target: GrantTarget): boolean {
    return isPostgresTarget(target);
  }

  async grant(spec: GrantSpec): Promise<void> {
    const target = this.target(spec.target);
    const sql = this.sql(target);
    const login = loginOf(spec.person);
    try {
      await this.call(`PostgreSQL GRANT ${target.role} TO ${login}`, () => sql`grant ${sql(target.role)} to ${sql(login)}`);
    } catch (error) {
      if (!isUndefinedRole(error) || (await this.loginExists(sql, login))) throw error;
      throw new ProviderError(unknownLogin(spec.person, login), false, undefined, { cause: error });
    }
  }

  private async loginExists(sql: Sql, login: string): Promise<boolean> {
    // Not knowing keeps the grant's own error: only a login seen missing gets the override hint.
    return sql`select 1 from pg_roles where rolname = ${login}`.then((rows) => rows.length > 0, () => true);
  }

  async revoke(spec: GrantSpec): Promise<void | RevokeOutcome> {
    const target = this.target(spec.target);
    const sql = this.sql(target);
    const login = loginOf(spec.person);
    try {
      await this.call(`PostgreSQL REVOKE ${target.role} FROM ${login}`, () => sql`revoke ${sql(target.role)} from ${sql(login)}`);
    } catch (error) {
      // The login (or the role) no longer exists: the listing below says whether access remains.
      if (!isUndefinedRole(error)) throw error;
    }
    // Checked every time: a membership granted by another role survives this REVOKE.
    const listed = await this.listAccess(spec.resource, spec.target);
    if (listed.some((e) => e.principal === login)) {
      throw new ProviderError(`PostgreSQL still lists ${login} as a member of role ${target.role} after REVOKE: the membership was granted by another role, which must revoke it`, false);
    }
    return { listed, ...(target.endSessions ? { sessionsEnded: await this.terminate(spec) } : {}) };
  }

  /**
   * Terminates the login's backends. A session keeps a role it switched to with SET ROLE after the
   * membership is revoked, so ending access means ending the sessions too.
   */
  async endSessions(spec: GrantSpec): Promise<number> {
    return (await this.terminate(spec)).ended ?? 0;
  }

  /** How many backends were signalled, at the database's own time (the evidence is the server's word). */
  private async terminate(spec: GrantSpec): Promise<SessionsEnded> {
    const target = this.target(spec.target);
    const sql = this.sql(target);
    const login = loginOf(spec.person);
    const [row] = await this.call(`PostgreSQL pg_terminate_backend for ${login}`, () =>
      sql<Array<{ ended: number; at: Date }>>`
        select count(*) filter (where pg_terminate_backend(pid))::int as ended, clock_timestamp() as at
        from pg_stat_activity where usename = ${login} and pid <> pg_backend_pid()`,
    );
    return { ended: row!.ended, effectiveAt: row!.at, method: 'pg_terminate_backend' };
  }

  async listAccess(resource: string, target: GrantTarget): Promise<AccessEntry[]> {
    const t = this.target(target);
    const sql = this.sql(t);
    // The admin itself is left out: it may hold the role with ADMIN OPTION to manage it, and is nobody's access.
    const rows = await this.call(`PostgreSQL list members of ${t.role}`, () =>
      sql<Array<{ member: string }>>`
        select distinct m.rolname as member
        from pg_auth_members am join pg_roles r on r.oid = am.roleid join pg_roles m on m.oid = am.member
        where r.rolname = ${t.role} and m.rolname <> current_user
        order by 1`,
    );
    return rows.map((r) => ({ resource, principal: r.member }));
  }

  /** Problems that stop the start: a role that does not exist, or an admin that may not grant it or end sessions. */
  async setupProblems(resource: string, target: PostgresTarget): Promise<string[]> {
    const sql = this.sql(target);
    const [row] = await this.call(`PostgreSQL check of ${target.role}`, () =>
      sql<Array<{ role_exists: boolean; may_grant: boolean; may_signal: boolean }>>`
        select r.oid is not null as role_exists,
               coalesce(me.rolsuper or pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION')
                 or (me.rolcreaterole and current_setting('server_version_num')::int < 160000), false) as may_grant,
               me.rolsuper or pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') as may_signal
        from pg_roles me left join pg_roles r on r.rolname = ${target.role}
        where me.rolname = current_user`,
    );
    const where = `(resource ${resource}, ${target.adminUrlEnv})`;
    if (!row?.role_exists) return [`PostgreSQL role "${target.role}" does not exist ${where}`];
    const problems: string[] = [];
    if (!row.may_grant) problems.push(`the admin role may not grant "${target.role}" ${where}: it needs ADMIN OPTION on it (GRANT "${target.role}" TO <admin> WITH ADMIN OPTION) or CREATEROLE`);
    if (target.endSessions && !row.may_signal) problems.push(`the admin role may not end sessions ${where}: grant it pg_signal_backend, or set end_sessions: false`);
    return problems;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.end({ timeout: 1 })));
    this.clients.clear();
  }

  private sql(target: PostgresTarget): Sql {
    const existing = this.clients.get(target.adminUrlEnv);
    if (existing) return existing;
    const url = this.options.variable(target.adminUrlEnv);
    if (!url) throw new ProviderError(`${target.adminUrlEnv} is not set: it holds the admin URL for PostgreSQL role ${target.role}`, false);
    // fetch_types: see src/db/client.ts (an unawaited first query that a restart rejects unhandled).
    const client = postgres(url, { max: 2, idle_timeout: 60, connect_timeout: 10, fetch_types: false, onnotice: () => {} });
    this.clients.set(target.adminUrlEnv, client);
    return client;
  }

  private target(target: GrantTarget): PostgresTarget {
    if (!isPostgresTarget(target)) throw new ProviderError(`postgres provider cannot handle target kind ${target.kind}`, false);
    return target;
  }

  private call<T>(label: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, { ...DEFAULT_RETRY, isTransient: isTransientPostgresError, ...this.options.retry, label });
  }
}
