import { ProviderError, type AccessProvider, type GrantTarget } from '../ports.ts';

/** What to set so that a provider for this target kind gets configured. */
const SETUP_HINT: Record<GrantTarget['kind'], string> = {
  okta_group: 'set OKTA_ORG_URL and OKTA_API_TOKEN',
  aws_iam_group: 'make AWS credentials available (the standard AWS credential chain) and AWS_REGION',
  aws_iam_policy: 'make AWS credentials available (the standard AWS credential chain) and AWS_REGION',
};

/** A configuration mistake, not an outage: retrying does not help. */
export class NoProviderError extends ProviderError {
  constructor(readonly kind: GrantTarget['kind']) {
    super(`no access provider is configured for grant target "${kind}": ${SETUP_HINT[kind] ?? 'check the configuration'}`, false);
    this.name = 'NoProviderError';
  }
}

/** The configured providers; each target kind is served by the first provider that supports it. */
export class ProviderRegistry {
  private readonly providers: AccessProvider[];

  constructor(providers: Iterable<AccessProvider> = []) {
    this.providers = [...providers];
  }

  register(provider: AccessProvider): this {
    this.providers.push(provider);
    return this;
  }

  /** @throws NoProviderError (transient=false) when nothing configured supports the target. */
  forTarget(target: GrantTarget): AccessProvider {
    const provider = this.providers.find((p) => p.supports(target));
    if (!provider) throw new NoProviderError(target.kind);
    return provider;
  }

  has(target: GrantTarget): boolean {
    return this.providers.some((p) => p.supports(target));
  }

  all(): readonly AccessProvider[] {
    return this.providers;
  }
}
