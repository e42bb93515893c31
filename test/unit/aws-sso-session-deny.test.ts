import { describe, expect, it } from 'vitest';
import { INLINE_POLICY_LIMIT, sessionDenySid, sessionDenyStatement, sessionSeconds, withSessionDeny } from '../../src/providers/aws-sso/session-deny.ts';

const USER = '9067ab12cd-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

describe('the Identity Center session deny', () => {
  it("reads the permission set's session duration, and assumes AWS's maximum when it cannot", () => {
    expect(sessionSeconds('PT1H')).toBe(3_600);
    expect(sessionSeconds('PT8H30M')).toBe(30_600);
    expect(sessionSeconds('PT90M')).toBe(5_400);
    expect(sessionSeconds(undefined)).toBe(43_200);
    expect(sessionSeconds('P1D')).toBe(43_200);
  });

  it('denies the user in the account for sessions issued before the revoke (rounded up to the second) until the duration and 5 minutes have passed', () => {
    const { statement, issuedBefore, until } = sessionDenyStatement({ userId: USER, accountId: '222222222222', issuedBefore: new Date('2026-03-02T09:00:00.250Z'), sessionSeconds: 3_600 });
    expect(issuedBefore.toISOString()).toBe('2026-03-02T09:00:01.000Z');
    expect(until.toISOString()).toBe('2026-03-02T10:05:01.000Z');
    expect(statement).toEqual({
      Sid: sessionDenySid(USER, '222222222222'),
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: {
        StringEquals: { 'identitystore:userId': USER, 'aws:PrincipalAccount': '222222222222' },
        DateLessThan: { 'aws:TokenIssueTime': '2026-03-02T09:00:01Z', 'aws:CurrentTime': '2026-03-02T10:05:01Z' },
      },
    });
    expect(String(statement['Sid'])).toMatch(/^[0-9A-Za-z]+$/);
    expect(sessionDenySid(USER, '333333333333')).not.toBe(statement['Sid']);
  });

  it('refuses to write over an inline policy that is not JSON, or one that would not fit', () => {
    const { statement } = sessionDenyStatement({ userId: USER, accountId: '222222222222', issuedBefore: new Date(), sessionSeconds: 3_600 });
    expect(() => withSessionDeny('{not json', statement, new Date())).toThrow();
    const big = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'x'.repeat(INLINE_POLICY_LIMIT) }] });
    expect(() => withSessionDeny(big, statement, new Date())).toThrow(/would be \d+ characters with the session deny; Identity Center allows 32768/);
    expect(JSON.parse(withSessionDeny(undefined, statement, new Date()))).toEqual({ Version: '2012-10-17', Statement: [statement] });
  });
});
