import type { AccessConfig } from '../config/access-schema.ts';
import type { Env } from '../config/env.ts';
import type { Logger } from '../logger.ts';
import { ProviderError, type DeactivationFeed } from '../ports.ts';
import { AwsIamProvider } from './aws-iam.ts';
import { OktaProvider } from './okta.ts';
import { ProviderRegistry } from './registry.ts';

export class ProviderSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderSetupError';
  }
}

/**
 * Builds the providers access.yml needs, and checks each can work before the bot takes requests:
 * a resource whose provider is not configured, or AWS credentials AWS rejects, stop the start
 * with a message naming the fix. A passing outage (timeouts, 5xx) is only logged.
 */
export async function providersFromEnv(
  env: Env,
  config: AccessConfig | undefined,
  logger: Logger,
  /** How in-call retries wait (the bot's Clock); real time when absent. */
  sleep?: (ms: number) => Promise<void>,
): Promise<{ registry: ProviderRegistry; deactivations: DeactivationFeed | undefined; close(): void }> {
  const registry = new ProviderRegistry();
  const kinds = new Set(Object.values(config?.resources ?? {}).map((r) => r.grant.kind));
  let deactivations: DeactivationFeed | undefined;
  const retry = sleep ? { sleep } : {};
  if (env.OKTA_ORG_URL && env.OKTA_API_TOKEN) {
    const okta = new OktaProvider({ orgUrl: env.OKTA_ORG_URL, token: env.OKTA_API_TOKEN }, { retry });
    registry.register(okta);
    deactivations = {
      listDeactivatedSince: async (since) =>
        (await okta.listDeactivatedSince(since)).map((u) => ({ email: u.email ?? u.login, login: u.login, status: u.status ?? 'UNKNOWN', deactivatedAt: u.statusChanged })),
    };
  } else if (kinds.has('okta_group')) {
    const names = Object.entries(config?.resources ?? {}).filter(([, r]) => r.grant.kind === 'okta_group').map(([n]) => n);
    throw new ProviderSetupError(`access.yml grants Okta groups (${names.join(', ')}) but OKTA_ORG_URL and OKTA_API_TOKEN are not set.`);
  }
  let aws: AwsIamProvider | undefined;
  if (kinds.has('aws_iam_group') || kinds.has('aws_iam_policy')) {
    aws = new AwsIamProvider({
      region: env.AWS_REGION,
      retry,
      ...(env.AWS_ENDPOINT_URL_IAM ? { iamEndpoint: env.AWS_ENDPOINT_URL_IAM } : {}),
      ...(env.AWS_ENDPOINT_URL_STS ? { stsEndpoint: env.AWS_ENDPOINT_URL_STS } : {}),
    });
    registry.register(aws);
    try {
      const identity = await aws.checkIdentity();
      logger.info({ account: identity.account, arn: identity.arn }, 'AWS credentials work');
    } catch (error) {
      if (error instanceof ProviderError && error.transient) logger.error({ err: error.message }, 'AWS STS is unreachable; AWS grants will fail until it answers');
      else throw new ProviderSetupError(`${(error as Error).message}. Give the bot AWS credentials (the standard credential chain) with the policy \`npx breakglass iam-policy\` prints.`);
    }
  }
  return { registry, deactivations, close: () => aws?.destroy() };
}
