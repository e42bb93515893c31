import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnCallUnavailable, PagerDutyOnCall } from '../../src/oncall/pagerduty.ts';
import { startPagerDutyServer, type PagerDutyTestServer } from '../support/pagerduty-server.ts';

describe('PagerDuty on-call client (against the spec-checked server)', () => {
  let pd: PagerDutyTestServer;
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();

  beforeAll(async () => {
    pd = await startPagerDutyServer();
    pd.users.push({ id: 'PUSER01', name: 'Zed', email: 'Zed@Example.com' });
    // More shifts than a page holds: the answer is read across pages.
    for (let i = 0; i < 120; i++) pd.oncalls.push({ userId: 'PUSER01', scheduleId: 'PSCHED1', escalationPolicyId: `PEP${i}`, escalationLevel: (i % 3) + 1, start: iso(now - 3_600_000), end: iso(now + 3_600_000) });
    // A permanent on-call: PagerDuty gives no start or end.
    pd.oncalls.push({ userId: 'PUSER01', scheduleId: 'PSCHED2', escalationPolicyId: 'PEPX', escalationLevel: 1, start: null, end: null });
  });
  afterAll(() => pd.close());

  it('finds the user by exact email (case-blind) and reads every page of their shifts', async () => {
    const client = new PagerDutyOnCall({ token: pd.token, baseUrl: pd.url });
    const found = await client.onCallNow('zed@example.com', ['PSCHED1', 'PSCHED2']);
    expect(found?.userId).toBe('PUSER01');
    expect(found?.shifts).toHaveLength(121);
    expect(found?.shifts.at(-1)).toEqual({ scheduleId: 'PSCHED2', escalationPolicyId: 'PEPX', escalationLevel: 1, start: null, end: null });
    expect(pd.requests.filter((r) => r.path === '/oncalls')).toHaveLength(2);
    expect(pd.violations).toEqual([]);
    expect(await client.onCallNow('nobody@example.com', ['PSCHED1'])).toBeUndefined();
  });

  it('a refused key, a 5xx and a timeout are failures, never an answer', async () => {
    await expect(new PagerDutyOnCall({ token: 'wrong', baseUrl: pd.url }).onCallNow('zed@example.com', ['PSCHED1'])).rejects.toThrow(/GET \/users answered 401: Unauthorized/);
    pd.failWith(503);
    await expect(new PagerDutyOnCall({ token: pd.token, baseUrl: pd.url }).onCallNow('zed@example.com', ['PSCHED1'])).rejects.toBeInstanceOf(OnCallUnavailable);
    pd.failWith(undefined);
    pd.delayMs(500);
    await expect(new PagerDutyOnCall({ token: pd.token, baseUrl: pd.url, timeoutMs: 100 }).onCallNow('zed@example.com', ['PSCHED1'])).rejects.toThrow(/timed out after 100 ms/);
    pd.delayMs(0);
  });
});
