import type { AccessConfig } from '../config/access-schema.ts';
import type { Env } from '../config/env.ts';
import type { Logger } from '../logger.ts';
import type { DeactivationFeed, IdentityDirectory, PushVerifier } from '../ports.ts';
import { ProviderSetupError, type ProviderModule, type ProviderSetup } from './module.ts';
import { PROVIDER_MODULES, ProviderRegistry } from './registry.ts';

export { ProviderSetupError };

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
): Promise<{ registry: ProviderRegistry; deactivations: DeactivationFeed | undefined; identities: IdentityDirectory | undefined; pushVerifier: PushVerifier | undefined; close(): void }> {
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
    const pushVerifier = setups.find((s) => s.pushVerifier)?.pushVerifier;
    const unverifiable = pushVerifier ? [] : resourcesWithStepUp(config);
    if (unverifiable.length > 0) {
      throw new ProviderSetupError(
        `access.yml requires an Okta Verify push from the approvers of ${unverifiable.join(', ')} (approval: { step_up: okta_verify }) but Okta is not configured: set OKTA_ORG_URL and OKTA_API_TOKEN, or remove step_up.`,
      );
    }
  } catch (error) {
    close();
    throw error;
  }
  return {
    registry,
    deactivations: setups.find((s) => s.deactivations)?.deactivations,
    identities: setups.find((s) => s.identities)?.identities,
    pushVerifier: setups.find((s) => s.pushVerifier)?.pushVerifier,
    close,
  };
}

/** The resources whose approvals need an Okta Verify push that nothing configured can send, each with the fix. */
export function stepUpWithoutVerifier(config: AccessConfig, verifier: PushVerifier | undefined): string[] {
  if (verifier) return [];
  return resourcesWithStepUp(config).map((name) => `resources.${name}.approval.step_up: okta_verify sends an Okta Verify push to each approver, but Okta is not configured; set OKTA_ORG_URL and OKTA_API_TOKEN (an API token that may read users and verify their factors), or remove step_up (provider settings are read at start: set them and restart to add it)`);
}

const resourcesWithStepUp = (config: AccessConfig | undefined): string[] =>
  Object.entries(config?.resources ?? {})
    .filter(([, resource]) => resource.approval?.step_up === 'okta_verify')
    .map(([name]) => name);
