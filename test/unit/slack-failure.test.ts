import { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError } from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import { classifySlackFailure } from '../../src/slack/slack-failure.ts';

const platform = (error: string, retryAfter?: number) => new WebAPIPlatformError({ ok: false, error, ...(retryAfter ? { response_metadata: { retryAfter } } : {}) });

describe('classifySlackFailure', () => {
  it('gives up on answers no retry can change, marking those an invite or access.yml fixes', () => {
    expect(classifySlackFailure(platform('user_not_found'))).toEqual({ permanent: true, code: 'user_not_found', channelProblem: false });
    expect(classifySlackFailure(platform('invalid_blocks'))).toEqual({ permanent: true, code: 'invalid_blocks', channelProblem: false });
    expect(classifySlackFailure(platform('not_in_channel'))).toEqual({ permanent: true, code: 'not_in_channel', channelProblem: true });
    expect(classifySlackFailure(platform('channel_not_found'))).toMatchObject({ permanent: true, channelProblem: true });
  });

  it("retries Slack's own trouble, honouring the wait it asks for", () => {
    expect(classifySlackFailure(platform('fatal_error'))).toEqual({ permanent: false, reason: 'fatal_error', retryAfterMs: undefined });
    expect(classifySlackFailure(platform('service_unavailable', 30))).toEqual({ permanent: false, reason: 'service_unavailable', retryAfterMs: 30_000 });
    expect(classifySlackFailure(platform('ratelimited'))).toMatchObject({ permanent: false });
    expect(classifySlackFailure(new WebAPIRateLimitedError(7))).toEqual({ permanent: false, reason: 'rate limited (429)', retryAfterMs: 7_000 });
    expect(classifySlackFailure(new WebAPIHTTPError(503, 'Service Unavailable', { 'retry-after': '12' }))).toEqual({ permanent: false, reason: 'HTTP 503', retryAfterMs: 12_000 });
    expect(classifySlackFailure(new WebAPIHTTPError(502, 'Bad Gateway', {}))).toEqual({ permanent: false, reason: 'HTTP 502', retryAfterMs: undefined });
  });

  it('retries network errors, timeouts and anything unknown', () => {
    expect(classifySlackFailure(new WebAPIRequestError(new Error('socket hang up')))).toMatchObject({ permanent: false });
    expect(classifySlackFailure(new Error('The operation was aborted due to timeout'))).toEqual({ permanent: false, reason: 'The operation was aborted due to timeout' });
    expect(classifySlackFailure('weird')).toEqual({ permanent: false, reason: 'weird' });
  });
});
