/**
 * The logger's redaction, shape by shape: the fields the bot and its SDKs put secrets in never
 * reach the output, at the top level or one object down (the shapes `{ err }` and `{ config }`
 * take), while the rest of the line stays readable.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';

const SECRET = 'very-secret-value-1234567890';

function logged(write: (logger: ReturnType<typeof createLogger>) => void): string {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const logger = createLogger('debug', out);
  write(logger);
  logger.flush();
  return text;
}

describe('createLogger redaction', () => {
  it.each([
    ['a token field', { token: SECRET }],
    ['a nested token field', { client: { token: SECRET } }],
    ['a bot token', { botToken: SECRET }],
    ['a signing secret', { options: { signingSecret: SECRET } }],
    ['an authorization field', { authorization: `Bearer ${SECRET}` }],
    ['request headers', { request: { headers: { authorization: `SSWS ${SECRET}` } } }],
    ['request headers, capitalised', { request: { headers: { Authorization: `SSWS ${SECRET}` } } }],
    ['an HTTP client config (axios-style errors)', { err: { message: 'boom', config: { headers: { Authorization: `Bearer ${SECRET}` } } } }],
    ['SLACK_BOT_TOKEN', { SLACK_BOT_TOKEN: SECRET }],
    ['SLACK_SIGNING_SECRET', { SLACK_SIGNING_SECRET: SECRET }],
    ['SLACK_APP_TOKEN', { SLACK_APP_TOKEN: SECRET }],
    ['OKTA_API_TOKEN', { OKTA_API_TOKEN: SECRET }],
    ['LEDGER_SIGNING_KEY', { LEDGER_SIGNING_KEY: SECRET }],
    ['DATABASE_URL', { DATABASE_URL: `postgres://breakglass:${SECRET}@db/breakglass` }],
  ] as Array<[string, Record<string, unknown>]>)('removes %s', (_what, fields) => {
    const text = logged((logger) => logger.info(fields, 'something happened'));
    expect(text).toContain('something happened');
    expect(text).not.toContain(SECRET);
    expect(text).toContain('[redacted]');
  });

  it('keeps the parts of an error that help, without request headers', () => {
    const error = Object.assign(new Error('Okta HTTP 403 E0000006 You do not have permission'), { config: { headers: { Authorization: `SSWS ${SECRET}` }, url: 'https://example.okta.com/api/v1/groups/00g/users/00u' } });
    const text = logged((logger) => logger.error({ err: error }, 'grant failed'));
    expect(text).toContain('E0000006');
    expect(text).not.toContain(SECRET);
  });
});
