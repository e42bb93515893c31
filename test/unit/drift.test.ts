import { describe, expect, it } from 'vitest';
import { explainAccess, type AccessHistory, type GrantFact, type ReviewLineFact } from '../../src/domain/drift.ts';

const SETTLE = 60_000;
const at = (minute: number) => new Date(Date.UTC(2026, 3, 1, 9) + minute * 60_000);
const now = at(50);

const line = (campaignId: number, decision: ReviewLineFact['decision'], minute?: number, revoked?: number): ReviewLineFact => ({
  campaignId,
  itemId: campaignId * 100,
  decision,
  decidedAt: minute === undefined ? null : at(minute),
  revokeState: decision === 'revoke' ? (revoked === undefined ? 'pending' : 'revoked') : null,
  revokedAt: revoked === undefined ? null : at(revoked),
});
const revokedGrant = (id: number, minute: number): GrantFact => ({ id, state: 'revoked', revokedAt: at(minute) });
const history = (reviews: AccessHistory['reviews'], grants: GrantFact[] = []): AccessHistory => ({ grants, reviews });

describe('explainAccess', () => {
  it('access nobody granted or reviewed is unmanaged', () => {
    expect(explainAccess(history([]), now, SETTLE)).toEqual({ drift: 'unmanaged' });
  });

  it('a live grant explains the access', () => {
    expect(explainAccess(history([], [{ id: 1, state: 'active', revokedAt: null }]), now, SETTLE)).toEqual({ drift: false, why: 'granted' });
  });

  it('a Keep explains the access, and still does while a later review has not decided the line yet', () => {
    expect(explainAccess(history([{ campaignId: 1, line: line(1, 'keep', 10) }]), now, SETTLE)).toEqual({ drift: false, why: 'kept' });
    expect(explainAccess(history([{ campaignId: 2, line: line(2, null) }, { campaignId: 1, line: line(1, 'keep', 10) }]), now, SETTLE)).toEqual({ drift: false, why: 'kept' });
  });

  it('a Keep lapses when a later review did not find the access: it went and came back', () => {
    expect(explainAccess(history([{ campaignId: 2, line: undefined }, { campaignId: 1, line: line(1, 'keep', 10) }]), now, SETTLE)).toEqual({ drift: 'unmanaged' });
  });

  it('a later review decides over an earlier Keep', () => {
    expect(explainAccess(history([{ campaignId: 2, line: line(2, 'revoke', 20, 21) }, { campaignId: 1, line: line(1, 'keep', 10) }]), now, SETTLE)).toEqual({
      drift: 'revoke_ineffective',
      reviewLine: { campaignId: 2, itemId: 200 },
    });
  });

  it('a grant breakglass revoked after the Keep ended the kept access', () => {
    expect(explainAccess(history([{ campaignId: 1, line: line(1, 'keep', 10) }], [revokedGrant(7, 30)]), now, SETTLE)).toEqual({ drift: 'revoke_ineffective', grantId: 7 });
    expect(explainAccess(history([{ campaignId: 1, line: line(1, 'keep', 10) }], [revokedGrant(7, 5)]), now, SETTLE)).toEqual({ drift: false, why: 'kept' });
  });

  it('a review Revoke in progress, or one that just finished, is not drift yet', () => {
    expect(explainAccess(history([{ campaignId: 1, line: line(1, 'revoke', 10) }]), now, SETTLE)).toEqual({ drift: false, why: 'being_revoked' });
    expect(explainAccess(history([{ campaignId: 1, line: line(1, 'revoke', 10, 49.5) }]), now, SETTLE)).toEqual({ drift: false, why: 'settling' });
  });

  it('names the review when its Revoke also ended the grant behind the line', () => {
    expect(explainAccess(history([{ campaignId: 1, line: line(1, 'revoke', 10, 11) }], [revokedGrant(7, 11)]), now, SETTLE)).toEqual({
      drift: 'revoke_ineffective',
      reviewLine: { campaignId: 1, itemId: 100 },
    });
  });
});
