import { z } from 'zod';
import { ProviderError } from '../../ports.ts';
import { ProviderSetupError, defineProvider, type ProviderSetup } from '../module.ts';
import { isPostgresTarget, type PostgresTarget } from './target.ts';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'name an environment variable, such as PROD_DB_ADMIN_URL (the URL itself never goes in access.yml)');

/** Membership of a PostgreSQL role, granted to the person's login role. */
export const postgresRole = defineProvider({
  grantKeys: ['postgres'],
  grantFields: {
    postgres: z
      .strictObject({ role: z.string().min(1), admin_url_env: envName, end_sessions: z.boolean().default(true) })
      .optional(),
  },
  toTarget: ({ postgres }): PostgresTarget => ({ kind: 'postgres_role', role: postgres!.role, adminUrlEnv: postgres!.admin_url_env, endSessions: postgres!.end_sessions }),
  owns: isPostgresTarget,

  personFields: { postgres_user: z.string().min(1).optional() },
  principalOf: (email, entry) => entry?.postgres_user ?? email?.split('@')[0],
  identity: { system: 'PostgreSQL', matchedBy: 'PostgreSQL login role (the email before the @, unless `people:` gives `postgres_user`)', onlyWhenUsed: true },

  // The admin URLs come from the variables each resource names, not from fixed settings.
  env: {},
  envHints: {},
  setupHint: 'set the environment variable its admin_url_env names to an admin connection URL',

  // A missing variable, a role that does not exist or an admin that may not grant it stop the start;
  // a database that does not answer is only logged.
  async setup({ variables, resources, logger, retry }): Promise<ProviderSetup | undefined> {
    if (resources.length === 0) return undefined;
    const missing = resources.filter((r) => !variables[r.target.adminUrlEnv]);
    if (missing.length > 0) {
      throw new ProviderSetupError(
        missing.map((r) => `access.yml resource ${r.name} takes its PostgreSQL admin URL from ${r.target.adminUrlEnv}, which is not set.`).join(' '),
      );
    }
    const { PostgresRoleProvider } = await import('./postgres-provider.ts');
    const provider = new PostgresRoleProvider({ variable: (name) => variables[name], retry });
    const problems: string[] = [];
    for (const { name, target } of resources) {
      try {
        problems.push(...(await provider.setupProblems(name, target)));
      } catch (error) {
        if (error instanceof ProviderError && error.transient) {
          logger.error({ resource: name, err: error.message }, 'PostgreSQL is unreachable; its grants will fail until it answers');
        } else problems.push(`${(error as Error).message} (resource ${name}, ${target.adminUrlEnv})`);
      }
    }
    if (problems.length > 0) {
      await provider.close();
      throw new ProviderSetupError(`${problems.join('; ')}.`);
    }
    return { provider, close: () => void provider.close() };
  },

  describe: (target) =>
    `membership of PostgreSQL role \`${target.role}\` (admin connection from \`${target.adminUrlEnv}\`)${
      target.endSessions
        ? ', ending the person’s open sessions at revoke'
        : '; sessions open at revoke are not ended (end_sessions: false) and keep a role they SET until they disconnect, however long after the grant'
    }`,
});
