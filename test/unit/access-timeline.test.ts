import { describe, expect, it } from 'vitest';
import { whoAt, whoAtToJson } from '../../src/reports/access/access-render.ts';
import { whoAtToText } from '../../src/reports/access/access-text.ts';
import { buildTimeline, type ListingSpan } from '../../src/reports/access/timeline.ts';
import { EvidenceStory } from '../support/evidence-story.ts';

const t = (time: string) => `2026-03-05T${time}Z`;
const HOUR = 3_600_000;

function observed(s: EvidenceStory, at: string, principal: string, previous: string | null, person: string | null = null) {
  return s.raw(at, {
    kind: 'access.observed',
    actor: 'breakglass',
    subject: person ?? principal,
    resource: 'prod-db',
    details: { resource: 'prod-db', provider: 'okta', principal, email: principal, person, basis_hint: 'unmanaged', grant_id: null, source: 'drift', listed_at: new Date(at).toISOString(), previous_listing_at: previous ? new Date(previous).toISOString() : null },
  });
}

function gone(s: EvidenceStory, at: string, principal: string, firstSeen: string, lastSeen: string, person: string | null = null, source = 'drift') {
  return s.raw(at, {
    kind: 'access.gone',
    actor: 'breakglass',
    subject: person ?? principal,
    resource: 'prod-db',
    details: { resource: 'prod-db', provider: 'okta', principal, email: principal, person, first_seen_at: new Date(firstSeen).toISOString(), last_seen_at: new Date(lastSeen).toISOString(), source, listed_at: new Date(at).toISOString() },
  });
}

/** Access nobody granted, removed by breakglass under drift action `remove` (or only reported). */
function driftFound(s: EvidenceStory, at: string, principal: string, removed: boolean) {
  return s.raw(at, { kind: 'drift.detected', actor: 'breakglass', subject: principal, resource: 'prod-db', details: { drift: 'unmanaged', grant_id: null, action: removed ? 'remove' : 'report', removed } });
}

const spans = (to: string): ListingSpan[] => [{ resource: 'prod-db', from: new Date(t('00:00:00')), to: new Date(to), holders: [] }];

describe('the access timeline: how access ended', () => {
  it('a revoke that did not take: still listed after the revoke, the rest is unmanaged, then removed by hand', () => {
    const s = new EvidenceStory();
    const r = s.request(t('01:00:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: HOUR, reason: 'INC-1', approvers: ['U0BOB'] });
    s.approve(t('01:01:00'), r, 'U0BOB');
    const grant = s.apply(t('01:02:00'), r);
    observed(s, t('01:30:00'), 'alice@example.com', t('00:30:00'), 'U0ALICE');
    s.revoke(t('02:02:00'), grant);
    // Two listings after the revoke still show her; a hand removal is seen at 05:00.
    gone(s, t('05:00:00'), 'alice@example.com', t('01:30:00'), t('04:00:00'), 'U0ALICE');
    const timeline = buildTimeline(s.events(), spans(t('06:00:00')));

    expect(whoAt(timeline, 'prod-db', new Date(t('01:45:00'))).holders.map((h) => h.basis.kind)).toEqual(['grant']);
    const after = whoAtToJson(whoAt(timeline, 'prod-db', new Date(t('03:00:00'))));
    expect(after.holders).toEqual([
      expect.objectContaining({ person: { id: 'U0ALICE', label: 'alice@example.com' }, basis: { kind: 'unmanaged', note: 'still listed after breakglass revoked grant 1' }, from: t('02:02:00.000'), to: t('05:00:00.000'), ended: expect.objectContaining({ how: 'removed_outside_breakglass', last_seen_at: t('04:00:00.000') }) }),
    ]);
    expect(whoAt(timeline, 'prod-db', new Date(t('05:00:00'))).holders).toEqual([]);
    expect(whoAtToText(whoAt(timeline, 'prod-db', new Date(t('05:30:00'))))).toMatch(/^Nobody had access to prod-db at .*: listings at the provider covered this instant, and no breakglass grant held it\.\n$/);
  });

  it("a review's Revoke of unmanaged access ends it when carried out, seen gone at the next listing", () => {
    const s = new EvidenceStory();
    observed(s, t('01:00:00'), 'mallory@example.com', null);
    s.review(t('02:00:00'), { kind: 'review.decided', actor: 'U0MGR', subject: 'mallory@example.com', resource: 'prod-db', details: { decision: 'revoke', principal: 'mallory@example.com', email: 'mallory@example.com', granted_by: 'unmanaged' } });
    s.raw(t('02:00:05'), {
      kind: 'grant.revoked',
      actor: 'U0MGR',
      subject: 'mallory@example.com',
      resource: 'prod-db',
      details: { reason: 'review', campaign_id: 1, item_id: 1, principal: 'mallory@example.com', grant_id: null, grants_ended: [], decided_at: new Date(t('02:00:00')).toISOString(), revoked_at: new Date(t('02:00:05')).toISOString(), attempts: 1, provider_call: 'revoked', verified: true },
    });
    gone(s, t('03:00:00'), 'mallory@example.com', t('01:00:00'), t('02:00:00'));
    const timeline = buildTimeline(s.events(), spans(t('04:00:00')));
    const [interval, ...others] = timeline.between(new Date(t('00:00:00')), new Date(t('04:00:00')));
    expect(others).toEqual([]);
    expect(interval).toMatchObject({ basis: { kind: 'unmanaged' }, from: new Date(t('01:00:00')), to: new Date(t('02:00:05')), ended: { how: 'review_revoke', by: 'U0MGR', seenGoneAt: new Date(t('03:00:00')) } });
  });

  it("a revoked grant's end says when a listing saw it gone: the first access.gone after the revoke, else the revoke's own listing", () => {
    const s = new EvidenceStory();
    const listedWhileHeld = s.request(t('01:00:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: HOUR, reason: 'INC-1', approvers: ['U0BOB'] });
    s.approve(t('01:01:00'), listedWhileHeld, 'U0BOB');
    const alice = s.apply(t('01:02:00'), listedWhileHeld);
    observed(s, t('01:30:00'), 'alice@example.com', t('00:30:00'), 'U0ALICE');
    s.revoke(t('02:02:00'), alice, { listedAt: t('02:02:01') });
    const aliceGone = gone(s, t('02:02:01'), 'alice@example.com', t('01:30:00'), t('01:30:00'), 'U0ALICE', 'revoke');
    const neverListed = s.request(t('03:00:00'), { requester: 'U0DAVE', resource: 'prod-db', durationMs: HOUR, reason: 'INC-2', approvers: ['U0BOB'] });
    s.approve(t('03:01:00'), neverListed, 'U0BOB');
    const dave = s.apply(t('03:02:00'), neverListed);
    s.revoke(t('04:02:00'), dave, { listedAt: t('04:02:03') });
    const notSeen = s.request(t('05:00:00'), { requester: 'U0ERIN', resource: 'prod-db', durationMs: HOUR, reason: 'INC-3', approvers: ['U0BOB'] });
    s.approve(t('05:01:00'), notSeen, 'U0BOB');
    s.revoke(t('06:02:00'), s.apply(t('05:02:00'), notSeen));
    const ends = buildTimeline(s.events(), spans(t('07:00:00')))
      .between(new Date(t('00:00:00')), new Date(t('07:00:00')))
      .map((i) => [i.person.id, i.basis.kind, i.ended?.how, i.ended?.seenGoneAt?.toISOString() ?? null, i.ended?.lastSeenAt?.toISOString() ?? null, i.evidence.includes(aliceGone)]);
    expect(ends).toEqual([
      ['U0ALICE', 'grant', 'expired', t('02:02:01.000'), t('01:30:00.000'), true],
      ['U0DAVE', 'grant', 'expired', t('04:02:03.000'), null, false],
      ['U0ERIN', 'grant', 'expired', null, null, false],
    ]);
  });

  it('access nobody granted that breakglass removed ended by breakglass, also when the removal is recorded just after the listing that saw it gone', () => {
    const s = new EvidenceStory();
    // The drift pass removed it, and the next listing saw it gone.
    observed(s, t('01:00:00'), 'mallory@example.com', t('00:00:00'));
    driftFound(s, t('02:00:00'), 'mallory@example.com', true);
    gone(s, t('03:00:00'), 'mallory@example.com', t('01:00:00'), t('02:00:00'));
    // An offboarding's check removed it, listed (gone), then recorded the removal.
    observed(s, t('01:00:00'), 'dave@example.com', t('00:00:00'));
    gone(s, t('04:00:00'), 'dave@example.com', t('01:00:00'), t('03:00:00'), null, 'offboarding');
    driftFound(s, t('04:00:01'), 'dave@example.com', true);
    // Only reported, then removed by someone at the provider.
    observed(s, t('01:00:00'), 'erin@example.com', t('00:00:00'));
    driftFound(s, t('01:00:01'), 'erin@example.com', false);
    gone(s, t('05:00:00'), 'erin@example.com', t('01:00:00'), t('04:00:00'));
    const ends = buildTimeline(s.events(), spans(t('06:00:00')))
      .between(new Date(t('00:00:00')), new Date(t('06:00:00')))
      .map((i) => [i.principal, i.to?.toISOString(), i.ended?.how, i.ended?.by, i.ended?.reason, i.ended?.seenGoneAt?.toISOString()]);
    expect(ends).toEqual([
      ['dave@example.com', t('04:00:00.000'), 'revoked', 'breakglass', 'drift', t('04:00:00.000')],
      ['erin@example.com', t('05:00:00.000'), 'removed_outside_breakglass', null, null, t('05:00:00.000')],
      ['mallory@example.com', t('02:00:00.000'), 'revoked', 'breakglass', 'drift', t('03:00:00.000')],
    ]);
  });

  it('an emergency self-grant is its own basis, with its after-the-fact review', () => {
    const s = new EvidenceStory();
    const r = s.request(t('01:00:00'), { requester: 'U0ZED', resource: 'prod-db', durationMs: HOUR, reason: 'INC-9 outage', approvers: ['U0BOB'], kind: 'emergency' });
    s.selfGrant(t('01:00:01'), r);
    const grant = s.apply(t('01:00:02'), r, { emergency: true });
    s.reviewEmergency(t('01:30:00'), grant, 'U0BOB', t('01:00:02'));
    const json = whoAtToJson(whoAt(buildTimeline(s.events(), []), 'prod-db', new Date(t('01:45:00'))));
    expect(json).toMatchObject({ coverage: { state: 'never_listed', known: false }, holders: [{ basis: { kind: 'emergency_grant', self_granted: true, emergency_review: { by: 'U0BOB' } } }] });
  });
});
