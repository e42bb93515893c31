import type { AccessConfig } from '../config/access-schema.ts';
import type { Env } from '../config/env.ts';
import type { Logger } from '../logger.ts';
import type { DeactivationFeed, IdentityDirectory } from '../ports.ts';
import type { ProviderModule, ProviderSetup } from './module.ts';
import { PROVIDER_MODULES, ProviderRegistry } from './registry.ts';

export { ProviderSetupError } from './module.ts';

/**
 * Builds the providers access.yml needs, and checks each can work before the bot takes requests:
 * a resource whose provider is not configured, or credentials the provider rejects, stop the start
 * with a message naming the fix. A passing outage (timeouts, 5xx) is only logged.
 */
export async function providersFromEnv(
  env: Env,
  config: AccessConfig | undefined,
  logger: Logger,
  /** How in-call retries wait (the bot's Clock); real time when absent. */
  sleep?: (ms: number) => Promise<void>,
): Promise<{ registry: ProviderRegistry; deactivations: DeactivationFeed | undefined; identities: IdentityDirectory | undefined; close(): void }> {
  const registry = new ProviderRegistry();
  const resources = Object.entries(config?.resources ?? {}).map(([name, r]) => ({ name, target: r.grant }));
  const retry = sleep ? { sleep } : {};
  const setups: ProviderSetup[] = [];
  const close = () => setups.forEach((s) => s.close?.());
  try {
    for (const module of PROVIDER_MODULES as readonly ProviderModule[]) {
      const setup = await module.setup({ env, variables: env.variables, resources: resources.filter((r) => module.owns(r.target)), logger, retry });
      if (!setup) continue;
      setups.push(setup);
      registry.register(setup.provider);
    }
  } catch (error) {
    close();
    throw error;
  }
  return {
    registry,
    deactivations: setups.find((s) => s.deactivations)?.deactivations,
    identities: setups.find((s) => s.identities)?.identities,
    close,
  };
}
