/** access.yml `grant: { postgres: { role, admin_url_env, end_sessions } }`: membership of a PostgreSQL role. */
export interface PostgresTarget {
  kind: 'postgres_role';
  role: string;
  /** The environment variable holding the admin connection URL; the URL itself never appears in access.yml. */
  adminUrlEnv: string;
  /** Terminate the login's open sessions at revoke (default on). */
  endSessions: boolean;
}

export const isPostgresTarget = (target: { kind: string }): target is PostgresTarget => target.kind === 'postgres_role';
