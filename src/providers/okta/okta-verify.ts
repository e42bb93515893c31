import type { Client } from '@okta/okta-sdk-nodejs';
import { ProviderError, type PushResult, type PushSent, type PushVerifier } from '../../ports.ts';
import { DEFAULT_RETRY, withRetry, type RetryOptions } from '../retry.ts';
import { oktaRetryAfterMs } from './okta-provider.ts';

const RESULTS: ReadonlySet<string> = new Set(['WAITING', 'SUCCESS', 'REJECTED', 'TIMEOUT']);

/** Okta's transaction id is the last segment of the poll link (…/factors/{factorId}/transactions/{transactionId}). */
function transactionOf(pollHref: string | undefined, factorId: string): string {
  const match = pollHref ? /\/factors\/([^/]+)\/transactions\/([^/?#]+)/.exec(new URL(pollHref).pathname) : null;
  if (!match || decodeURIComponent(match[1]!) !== factorId) throw new ProviderError(`Okta answered a push without a poll link for factor ${factorId}`, false);
  return decodeURIComponent(match[2]!);
}

function resultOf(value: unknown): PushResult {
  if (typeof value === 'string' && RESULTS.has(value)) return value as PushResult;
  // An answer breakglass does not know is not a SUCCESS.
  throw new ProviderError(`Okta answered a push with factorResult ${String(value)}`, false);
}

/** Okta Verify push via the SDK's UserFactorApi: listFactors, verifyFactor, getFactorTransactionStatus. */
export class OktaVerifyPush implements PushVerifier {
  constructor(
    private readonly client: Client,
    private readonly retry: Partial<RetryOptions> = {},
  ) {}

  async pushFactor(oktaUserId: string): Promise<string | undefined> {
    return this.call('okta listFactors', async () => {
      const factors = await this.client.userFactorApi.listFactors({ userId: oktaUserId });
      for await (const factor of factors) {
        if (factor?.factorType === 'push' && factor.provider === 'OKTA' && factor.status === 'ACTIVE' && factor.id) return factor.id;
      }
      return undefined;
    });
  }

  async sendPush(oktaUserId: string, factorId: string): Promise<PushSent> {
    const answer = await this.call('okta verifyFactor', () => this.client.userFactorApi.verifyFactor({ userId: oktaUserId, factorId }), { attempts: 1 });
    const links = (answer as { _links?: { poll?: { href?: string } } })._links;
    return { factorId, transactionId: transactionOf(links?.poll?.href, factorId), result: resultOf(answer.factorResult) };
  }

  async pushResult(oktaUserId: string, factorId: string, transactionId: string): Promise<PushResult> {
    const answer = await this.call('okta getFactorTransactionStatus', () => this.client.userFactorApi.getFactorTransactionStatus({ userId: oktaUserId, factorId, transactionId }));
    return resultOf(answer.factorResult);
  }

  private call<T>(label: string, fn: () => Promise<T>, options: Partial<RetryOptions> = {}): Promise<T> {
    return withRetry(fn, { ...DEFAULT_RETRY, retryAfterMs: oktaRetryAfterMs, ...this.retry, ...options, label });
  }
}
