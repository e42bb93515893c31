import { EvidenceStory } from './evidence-story.ts';

/**
 * A known week of evidence for report.html: who held prod-db and prod-logs when, on every basis,
 * with hostile text where a requester or manager could type it. The expected bars follow.
 */

const HOUR = 3_600_000;
export const HOSTILE_REASON = `<script>window.__pwned = 1; alert('reason')</script> =HYPERLINK("http://evil.example/x","click") <img src=x onerror="alert('img')">`;
export const HOSTILE_RESPONSE = `<b>Accepted</b> =cmd|' /C calc'!A0 </td></tr><script>alert('response')</script>`;
export const REPORT_PERIOD = { from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-08T00:00:00Z') };
export const REPORT_NOW = new Date('2026-03-20T00:00:00Z');

/** Per resource, the bars the timeline must draw: [person label, basis], in order of lane then time. */
export const EXPECTED_BARS: Record<string, Array<[string, string]>> = {
  'prod-db': [
    ['mallory@example.com', 'unmanaged'],
    ['mallory@example.com', 'review_keep'],
    ['U0ALICE', 'grant'],
    ['U0SRE', 'emergency'],
  ],
  'prod-logs': [['stan@example.com', 'unmanaged']],
};

const observed = (at: string, resource: string, principal: string, previous: string | null) => ({
  kind: 'access.observed' as const,
  actor: 'breakglass',
  subject: principal,
  resource,
  details: { resource, provider: 'okta', principal, email: principal, person: null, basis_hint: 'unmanaged' as const, grant_id: null, source: 'drift', listed_at: at, previous_listing_at: previous },
});

export function reportStory(): EvidenceStory {
  const s = new EvidenceStory();
  s.config('2026-03-01T00:05:00Z');
  s.raw('2026-03-01T01:00:00Z', observed('2026-03-01T01:00:00.000Z', 'prod-logs', 'stan@example.com', null));
  s.raw('2026-03-02T06:00:00Z', observed('2026-03-02T06:00:00.000Z', 'prod-db', 'mallory@example.com', '2026-03-02T05:00:00.000Z'));
  const a = s.request('2026-03-02T08:55:00Z', { requester: 'U0ALICE', resource: 'prod-db', durationMs: 2 * HOUR, reason: HOSTILE_REASON, ticket: 'INC-7', approvers: ['U0BOB'] });
  s.approve('2026-03-02T09:00:00Z', a, 'U0BOB');
  s.revoke('2026-03-02T11:00:10Z', s.apply('2026-03-02T09:00:00Z', a));
  const e = s.request('2026-03-03T12:00:00Z', { requester: 'U0SRE', resource: 'prod-db', durationMs: HOUR / 2, reason: 'outage', approvers: ['U0LEAD'], kind: 'emergency' });
  s.selfGrant('2026-03-03T12:00:00Z', e);
  const grantE = s.apply('2026-03-03T12:00:00Z', e, { emergency: true });
  s.reviewEmergency('2026-03-03T13:00:00Z', grantE, 'U0LEAD', '2026-03-03T12:00:00Z');
  // Revoked an hour after its 30-minute end: late.
  s.revoke('2026-03-03T13:30:00Z', grantE);
  s.review('2026-03-04T08:00:00Z', { kind: 'review.started', actor: 'U0SEC', details: { campaign_id: 1, due_at: '2026-03-06T00:00:00.000Z', reviewers: 1, security_items: 0 } });
  s.review('2026-03-04T10:00:00Z', { kind: 'review.decided', actor: 'U0MGR', subject: 'mallory@example.com', resource: 'prod-db', details: { campaign_id: 1, decision: 'keep', principal: 'mallory@example.com', email: 'mallory@example.com' } });
  s.review('2026-03-04T11:00:00Z', { kind: 'review.signed_off', actor: 'U0MGR', subject: 'U0MGR', details: { campaign_id: 1, card_id: 1, reviewer: 'U0MGR' } });
  s.raw('2026-03-05T01:00:00Z', { kind: 'access.gone', actor: 'breakglass', subject: 'stan@example.com', resource: 'prod-logs', details: { resource: 'prod-logs', provider: 'okta', principal: 'stan@example.com', email: 'stan@example.com', person: null, first_seen_at: '2026-03-01T01:00:00.000Z', last_seen_at: '2026-03-05T00:00:00.000Z', source: 'drift', listed_at: '2026-03-05T01:00:00.000Z' } });
  const drift = s.alert('2026-03-05T02:00:00Z', { kind: 'drift', text: `Unmanaged access: <@U0X> ${HOSTILE_REASON}`, resource: 'prod-db', subject: 'mallory@example.com' });
  s.raw('2026-03-05T03:00:00Z', { kind: 'exception.responded', actor: 'U0CISO', details: { exception_id: `alert:${drift}`, response: HOSTILE_RESPONSE, alert_id: drift } });
  return s;
}
