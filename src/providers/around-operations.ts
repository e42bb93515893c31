import type { AccessProvider, Providers } from '../ports.ts';

export type ProviderOperation = 'grant' | 'revoke' | 'listAccess';

/**
 * The same providers, every grant, revoke and listing of each passing through `around` (which
 * must call `call` to reach the provider). Anything else a provider has is reached as it is.
 */
export function aroundOperations(providers: Providers, around: <T>(provider: AccessProvider, operation: ProviderOperation, call: () => Promise<T>) => Promise<T>): Providers {
  const wrapped = new Map<AccessProvider, AccessProvider>();
  const wrap = (provider: AccessProvider): AccessProvider =>
    Object.assign(Object.create(provider) as AccessProvider, {
      grant: (...args: Parameters<AccessProvider['grant']>) => around(provider, 'grant', () => provider.grant(...args)),
      revoke: (...args: Parameters<AccessProvider['revoke']>) => around(provider, 'revoke', () => provider.revoke(...args)),
      listAccess: (...args: Parameters<AccessProvider['listAccess']>) => around(provider, 'listAccess', () => provider.listAccess(...args)),
    });
  return Object.assign(Object.create(providers) as Providers, {
    forTarget(target: Parameters<Providers['forTarget']>[0]) {
      const provider = providers.forTarget(target);
      let found = wrapped.get(provider);
      if (!found) wrapped.set(provider, (found = wrap(provider)));
      return found;
    },
  });
}
