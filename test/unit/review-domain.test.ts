import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAccessConfig } from '../../src/config/access.ts';
import { canonicalLine, clampPage, managerRef, pageCount, populationHash, quarterOf, reviewSchedule, samePerson, scheduleProblem, scopeKey } from '../../src/domain/review.ts';

describe('review schedule', () => {
  it('quarterly is 09:00 UTC on the first working day of January, April, July and October', () => {
    const q = reviewSchedule('quarterly');
    const runs: string[] = [];
    let at = new Date('2027-12-01T00:00:00Z');
    for (let i = 0; i < 4; i++) {
      at = q.next(at)!;
      runs.push(at.toISOString());
    }
    // 1 January 2028 is a Saturday and 1 October 2028 a Sunday: the Monday after.
    expect(runs).toEqual(['2028-01-03T09:00:00.000Z', '2028-04-03T09:00:00.000Z', '2028-07-03T09:00:00.000Z', '2028-10-02T09:00:00.000Z']);
    expect(q.periodOf(new Date(runs[1]!))).toBe('2028-Q2');
  });

  it('starts at the next occurrence, strictly after now', () => {
    const q = reviewSchedule('quarterly');
    expect(q.next(new Date('2026-04-01T09:00:00Z'))!.toISOString()).toBe('2026-07-01T09:00:00.000Z');
    expect(q.next(new Date('2026-04-01T08:59:59Z'))!.toISOString()).toBe('2026-04-01T09:00:00.000Z');
  });

  it('accepts cron expressions in UTC, with the occurrence as the period', () => {
    const weekly = reviewSchedule('0 9 * * 1');
    expect(weekly.next(new Date('2026-03-02T09:00:00Z'))!.toISOString()).toBe('2026-03-09T09:00:00.000Z');
    expect(weekly.periodOf(new Date('2026-03-09T09:00:00Z'))).toBe('2026-03-09T09:00Z');
    // An on-demand start belongs to the occurrence it follows.
    expect(weekly.currentPeriod(new Date('2026-03-11T15:00:00Z'))).toBe('2026-03-09T09:00Z');
    expect(reviewSchedule('quarterly').currentPeriod(new Date('2026-05-20T00:00:00Z'))).toBe('2026-Q2');
  });

  it('names what is wrong with a schedule, and access.yml reports it with its line', () => {
    expect(scheduleProblem('quarterly')).toBeUndefined();
    expect(scheduleProblem('0 9 1 */3 *')).toBeUndefined();
    expect(scheduleProblem('every quarter')).toMatch(/"every quarter" is neither "quarterly" nor a cron expression/);
    expect(scheduleProblem('0 9 30 2 *')).toBe('"0 9 30 2 *" never fires again');
    const yml = 'security_channel: C0SEC\nresources:\n  prod-db:\n    grant: { okta_group: 00g }\n    max_duration: 1h\n    approvers: { slack_users: [U0BOB] }\nreviews:\n  schedule: monthly\n';
    expect(() => parseAccessConfig(yml)).toThrow(/access\.yml:8:3 reviews\.schedule: "monthly" is neither "quarterly" nor a cron expression/);
  });

  it('labels quarters and scope keys', () => {
    expect(quarterOf(new Date('2026-12-31T23:59:59Z'))).toBe('2026-Q4');
    expect(scopeKey(['prod-db', 'prod-admin', 'prod-db'])).toBe('prod-admin,prod-db');
  });
});

describe('review routing helpers', () => {
  it('one human: any shared id, or the same email in any case', () => {
    expect(samePerson({ directoryId: '00u1' }, { directoryId: '00u1' })).toBe(true);
    expect(samePerson({ email: 'Bob@Example.com', directoryId: '00u1' }, { email: 'bob@example.com', directoryId: '00u2' })).toBe(true);
    expect(samePerson({ slackId: 'U0BOB' }, { slackId: 'U0BOB', email: 'other@example.com' })).toBe(true);
    expect(samePerson({ email: 'a@example.com' }, { email: 'b@example.com', slackId: 'U0B' })).toBe(false);
    expect(samePerson({}, {})).toBe(false);
  });

  it('reads the manager attribute whatever form it holds', () => {
    expect(managerRef(' 00u123 ')).toBe('00u123');
    expect(managerRef('')).toBeUndefined();
    expect(managerRef(null)).toBeUndefined();
    expect(managerRef(['boss@example.com'])).toBe('boss@example.com');
    expect(managerRef(42)).toBe('42');
  });

  it('pages', () => {
    expect(pageCount(0)).toBe(1);
    expect(pageCount(200)).toBe(10);
    expect(pageCount(201)).toBe(11);
    expect(clampPage(12, 200)).toBe(9);
    expect(clampPage(-1, 200)).toBe(0);
  });

  it('writes each population line exactly as RFC 8785 canonical JSON', () => {
    const text = fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: null });
    const id = fc.option(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { nil: null });
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), text, id, id, fc.string(), text, (resource, principal, email, grantId, requestId, route, reviewer) => {
        const l = { resource, principal, email, grantId, requestId, route, reviewer };
        expect(canonicalLine(l)).toBe(canonicalize({ resource, principal, email, grant_id: grantId, request_id: requestId, route, reviewer }));
      }),
    );
  });

  it('hashes a population independently of the order it was listed in, and notices any change', () => {
    const a = { resource: 'prod-db', principal: 'alice@example.com', email: 'alice@example.com', grantId: 1, requestId: 1, route: 'manager', reviewer: 'U0BOB' };
    const b = { resource: 'prod-admin', principal: 'Bob', email: null, grantId: null, requestId: null, route: 'security', reviewer: 'C0SEC' };
    expect(populationHash([a, b])).toBe(populationHash([b, a]));
    expect(populationHash([a, b])).not.toBe(populationHash([a, { ...b, reviewer: 'U0EVE' }]));
    expect(populationHash([a])).not.toBe(populationHash([a, b]));
  });
});
