import { describe, expect, it } from 'vitest';
import { EVENT_DETAILS, EVENT_KINDS, isOpaque, parseEvent, readDetails } from '../../src/domain/events.ts';
import type { EvidenceInput } from '../../src/ledger/event.ts';
import { EvidenceHistory } from '../../src/reports/history.ts';
import { EvidenceStory } from '../support/evidence-story.ts';
import { uncatalogued } from '../support/uncatalogued.ts';

/** What Ledger.append accepts, without a database: these lines are checked by tsc (npm test runs it first). */
const accepts = (input: EvidenceInput) => input;

describe('the event catalogue', () => {
  it('types what each kind writes: a misnamed, missing or mistyped detail does not compile', () => {
    accepts({ kind: 'request.expired', actor: 'breakglass', requestId: 1, details: { pending_until: '2026-03-02T09:00:00.000Z' } });
    // @ts-expect-error a misnamed field
    accepts({ kind: 'request.expired', actor: 'breakglass', details: { pending_untill: '2026-03-02T09:00:00.000Z' } });
    // @ts-expect-error a missing field
    accepts({ kind: 'emergency.reviewed', actor: 'U0LEAD', details: { grant_id: 1, granted_at: '2026-03-02T09:00:00.000Z' } });
    // @ts-expect-error a field of the wrong type
    accepts({ kind: 'alert.raised', actor: 'breakglass', details: { alert_id: '1', alert_kind: 'x', text: 'y', grant_id: null } });
    // @ts-expect-error details of another kind
    accepts({ kind: 'grant.extended', actor: 'breakglass', details: { pending_until: '2026-03-02T09:00:00.000Z' } });
    // @ts-expect-error a kind that does not exist
    accepts({ kind: 'grant.stolen', actor: 'breakglass', details: {} });
    // @ts-expect-error a misnamed field in a test story's event fails too
    new EvidenceStory().review('2026-03-02T00:00:00Z', { kind: 'review.started', actor: 'U0SEC', details: { campain_id: 1 } });
    expect(EVENT_KINDS).toContain('ledger.checkpoint');
  });

  it('reads back every event the story writes, one per kind the story covers, as the same values', () => {
    const s = new EvidenceStory();
    s.config('2026-03-02T00:00:00Z');
    const id = s.request('2026-03-02T09:00:00Z', { requester: 'U0ALICE', resource: 'prod-db', durationMs: 3_600_000, reason: 'INC-1', approvers: ['U0BOB'] });
    s.approve('2026-03-02T09:01:00Z', id, 'U0BOB');
    const grant = s.apply('2026-03-02T09:01:01Z', id);
    s.revoke('2026-03-02T10:01:02Z', grant);
    s.review('2026-03-02T11:00:00Z', { kind: 'review.started', actor: 'U0SEC', details: {} });
    for (const event of s.events()) {
      const parsed = parseEvent(event);
      expect(isOpaque(parsed), `${event.kind}: ${isOpaque(parsed) ? parsed.opaque : ''}`).toBe(false);
      expect(parsed.details).toEqual(event.details);
    }
  });

  it('reads details of either shape a kind has', () => {
    const selfGrant = { self_grant: true, policy: 'emergency_self_grant', approvals: ['U0SRE'], final: true, config_hash: 'a'.repeat(64) };
    expect(readDetails('request.approved', selfGrant)).toEqual(selfGrant);
    const reviewRevoke = {
      reason: 'review',
      campaign_id: 2,
      item_id: 9,
      principal: 'eve@example.com',
      grant_id: null,
      grants_ended: [],
      decided_at: null,
      revoked_at: '2026-03-02T10:00:00.000Z',
      attempts: 1,
      provider_call: 'revoked',
      verified: true,
    };
    expect(readDetails('grant.revoked', reviewRevoke)).toEqual(reviewRevoke);
  });

  it('never throws on what it cannot place: an unknown kind or details not of their shape come back opaque, saying why', () => {
    expect(parseEvent({ kind: 'grant.teleported', details: {} })).toEqual({ kind: 'grant.teleported', details: {}, opaque: 'unknown event kind grant.teleported' });
    const renamed = parseEvent({ kind: 'request.expired', details: { pending_untill: 'x' } });
    expect(isOpaque(renamed) && renamed.opaque).toMatch(/^details do not match request\.expired \(pending_until: /);
    for (const details of [null, 'a string', 42, [], { grant_id: 'seven' }]) {
      expect(isOpaque(parseEvent({ kind: 'grant.applied', details })), JSON.stringify(details)).toBe(true);
      expect(readDetails('grant.applied', details)).toBeUndefined();
    }
    expect(readDetails('no.such_kind', {})).toBeUndefined();
  });

  it('leaves the details it reads as they were (readers get a copy)', () => {
    const details = { pending_until: '2026-03-02T09:00:00.000Z', added_later: true };
    const before = JSON.stringify(details);
    expect(readDetails('request.expired', details)).toEqual({ pending_until: '2026-03-02T09:00:00.000Z' });
    expect(JSON.stringify(details)).toBe(before);
  });

  it('has a schema for every kind, and nothing else', () => {
    expect(Object.keys(EVENT_DETAILS).sort()).toEqual([...EVENT_KINDS].sort());
  });
});

describe('the history over events it cannot read', () => {
  it('folds what it can, lists the rest with the reason, and does not guess at their details', () => {
    const s = new EvidenceStory();
    const id = s.request('2026-03-02T09:00:00Z', { requester: 'U0ALICE', resource: 'prod-db', durationMs: 3_600_000, reason: 'INC-1', approvers: ['U0BOB'] });
    s.approve('2026-03-02T09:01:00Z', id, 'U0BOB');
    const grant = s.apply('2026-03-02T09:01:01Z', id);
    const bad = s.raw('2026-03-02T10:01:02Z', uncatalogued({ kind: 'grant.revoked', actor: 'breakglass', requestId: id, details: { grant_id: grant, reason: 'expired' } }));
    const unknown = s.raw('2026-03-02T10:02:00Z', uncatalogued({ kind: 'grant.teleported', actor: 'breakglass', details: { to: 'mars' } }));
    const history = EvidenceHistory.of(s.events());
    expect(history.count).toBe(5);
    expect(history.grants.get(String(grant))!.applied).not.toBeNull();
    expect(history.grants.get(String(grant))!.revocation).toBeNull();
    expect(history.unreadable.map((u) => [u.seq, u.kind])).toEqual([
      [bad, 'grant.revoked'],
      [unknown, 'grant.teleported'],
    ]);
    expect(history.unreadable[0]!.problem).toMatch(/^details do not match grant\.revoked/);
  });
});
