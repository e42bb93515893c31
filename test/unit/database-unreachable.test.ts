import { DrizzleQueryError } from 'drizzle-orm/errors';
import { describe, expect, it } from 'vitest';
import { isDatabaseUnreachable } from '../../src/db/unreachable.ts';
import { ProviderError } from '../../src/ports.ts';

const coded = (code: string) => Object.assign(new Error(code), { code });

describe('isDatabaseUnreachable', () => {
  it('knows a lost or refused connection and a server shutting down or starting, also inside drizzle’s error', () => {
    for (const code of ['CONNECTION_CLOSED', 'CONNECT_TIMEOUT', 'ECONNREFUSED', 'ECONNRESET', '57P01', '57P03', '08006']) {
      expect(isDatabaseUnreachable(coded(code))).toBe(true);
      expect(isDatabaseUnreachable(new DrizzleQueryError('select 1', [], coded(code)))).toBe(true);
    }
  });

  it('is not a query the database answered, nor a provider’s network trouble', () => {
    for (const code of ['23505', '40001', '42P01', 'ERR_INVALID_ARG_TYPE']) expect(isDatabaseUnreachable(coded(code))).toBe(false);
    expect(isDatabaseUnreachable(new Error('boom'))).toBe(false);
    expect(isDatabaseUnreachable(undefined)).toBe(false);
    expect(isDatabaseUnreachable(new ProviderError('okta unassignUserFromGroup failed', true, undefined, { cause: coded('ECONNRESET') }))).toBe(false);
  });
});
