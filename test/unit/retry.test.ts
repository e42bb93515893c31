import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/ports.ts';
import { DEFAULT_RETRY, isTransientError, withRetry } from '../../src/providers/retry.ts';

const awsError = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
const netError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

function failing(errors: unknown[], value = 'ok') {
  let calls = 0;
  const fn = async () => {
    const err = errors[calls++];
    if (err !== undefined) throw err;
    return value;
  };
  return { fn, calls: () => calls };
}

function recordSleeps() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

describe('isTransientError', () => {
  it.each([
    ['HTTP 429', { status: 429 }],
    ['HTTP 500', { status: 500 }],
    ['HTTP 503 (AWS metadata)', awsError('ServiceUnavailable', 503)],
    ['AWS Throttling (400)', awsError('Throttling', 400)],
    ['AWS ThrottlingException (400)', awsError('ThrottlingException', 400)],
    ['AWS RequestLimitExceeded', awsError('RequestLimitExceeded', 400)],
    ['AWS ConcurrentModification (409)', awsError('ConcurrentModificationException', 409)],
    ['AWS ServiceUnavailable code', Object.assign(new Error('x'), { Code: 'ServiceUnavailable' })],
    ['ECONNREFUSED', netError('ECONNREFUSED')],
    ['ECONNRESET', netError('ECONNRESET')],
    ['ETIMEDOUT', netError('ETIMEDOUT')],
    ['network error as cause', new Error('fetch failed', { cause: netError('ECONNRESET') })],
    ['node-fetch timeout', Object.assign(new Error('timeout'), { type: 'request-timeout' })],
    ['Okta ApiException code', { code: 502 }],
  ])('%s is transient', (_label, err) => {
    expect(isTransientError(err)).toBe(true);
  });

  it.each([
    ['HTTP 400 ValidationError', awsError('ValidationError', 400)],
    ['HTTP 401', { status: 401 }],
    ['HTTP 403 AccessDenied', awsError('AccessDenied', 403)],
    ['HTTP 404 NoSuchEntity', awsError('NoSuchEntityException', 404)],
    ['IAM LimitExceeded (409)', awsError('LimitExceededException', 409)],
    ['a plain Error', new Error('bug')],
    ['ENOTFOUND (a wrong host name)', netError('ENOTFOUND')],
    ['a string', 'nope'],
  ])('%s is not transient', (_label, err) => {
    expect(isTransientError(err)).toBe(false);
  });
});

describe('withRetry', () => {
  it('returns at once when the call succeeds', async () => {
    const { sleep, delays } = recordSleeps();
    await expect(withRetry(async () => 42, { sleep })).resolves.toBe(42);
    expect(delays).toEqual([]);
  });

  it('retries a transient failure and returns the later success', async () => {
    const f = failing([{ status: 500 }, awsError('Throttling', 400)]);
    const { sleep, delays } = recordSleeps();
    await expect(withRetry(f.fn, { attempts: 4, baseMs: 100, maxMs: 1000, sleep })).resolves.toBe('ok');
    expect(f.calls()).toBe(3);
    expect(delays).toHaveLength(2);
  });

  it('backs off exponentially with full jitter, capped at maxMs', async () => {
    const errors = Array.from({ length: 6 }, () => ({ status: 503 }));
    const top = recordSleeps();
    await expect(withRetry(failing(errors).fn, { attempts: 6, baseMs: 100, maxMs: 500, sleep: top.sleep, random: () => 0.999999 })).rejects.toThrow();
    expect(top.delays).toEqual([100, 200, 400, 500, 500]);

    const half = recordSleeps();
    await expect(withRetry(failing(errors).fn, { attempts: 4, baseMs: 100, maxMs: 500, sleep: half.sleep, random: () => 0.5 })).rejects.toThrow();
    expect(half.delays).toEqual([50, 100, 200]);

    const zero = recordSleeps();
    await expect(withRetry(failing(errors).fn, { attempts: 3, baseMs: 100, maxMs: 500, sleep: zero.sleep, random: () => 0 })).rejects.toThrow();
    expect(zero.delays).toEqual([0, 0]);
  });

  it('turns an exhausted budget into ProviderError(transient=true) with status and cause', async () => {
    const last = awsError('ServiceFailure', 500);
    const f = failing([{ status: 500 }, { status: 500 }, last]);
    const { sleep } = recordSleeps();
    const err = await withRetry(f.fn, { attempts: 3, baseMs: 1, maxMs: 1, sleep, label: 'IAM AddUserToGroup' }).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ transient: true, status: 500 });
    expect(err.message).toMatch(/^IAM AddUserToGroup failed after 3 attempts: ServiceFailure/);
    expect(err.cause).toBe(last);
    expect(f.calls()).toBe(3);
  });

  it('fails at once with ProviderError(transient=false) on a definitive answer', async () => {
    const f = failing([awsError('AccessDenied', 403)]);
    const { sleep, delays } = recordSleeps();
    const err = await withRetry(f.fn, { sleep, label: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ transient: false, status: 403 });
    expect(f.calls()).toBe(1);
    expect(delays).toEqual([]);
  });

  it('passes a ProviderError through untouched and does not retry it', async () => {
    const inner = new ProviderError('already retried elsewhere', true, 503);
    const f = failing([inner]);
    const { sleep } = recordSleeps();
    await expect(withRetry(f.fn, { sleep })).rejects.toBe(inner);
    expect(f.calls()).toBe(1);
  });

  it('waits at least what the server asked for, but never more than maxMs', async () => {
    const asked = recordSleeps();
    await withRetry(failing([{ status: 429 }]).fn, { baseMs: 10, maxMs: 1000, random: () => 0, retryAfterMs: () => 300, sleep: asked.sleep });
    expect(asked.delays).toEqual([300]);

    const capped = recordSleeps();
    await withRetry(failing([{ status: 429 }]).fn, { baseMs: 10, maxMs: 1000, random: () => 0, retryAfterMs: () => 60_000, sleep: capped.sleep });
    expect(capped.delays).toEqual([1000]);
  });

  it('uses a small default budget (the expiry worker retries again later)', async () => {
    expect(DEFAULT_RETRY).toMatchObject({ attempts: 4, baseMs: 200, maxMs: 5000 });
    const f = failing(Array.from({ length: 10 }, () => ({ status: 500 })));
    const { sleep, delays } = recordSleeps();
    await expect(withRetry(f.fn, { sleep })).rejects.toMatchObject({ transient: true });
    expect(f.calls()).toBe(4);
    expect(Math.max(...delays)).toBeLessThanOrEqual(800);
  });
});
