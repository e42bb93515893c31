import { describe, expect, it } from 'vitest';
import { offboardingRows } from '../../src/reports/pack/audit-pack.ts';
import { EvidenceHistory } from '../../src/reports/history.ts';
import { EvidenceStory } from '../support/evidence-story.ts';

const t = (time: string) => `2026-03-04T${time}Z`;

describe('offboarding.csv', () => {
  it('an open offboarding says what the leaver still holds and since when; its completion says how each system ended', () => {
    const s = new EvidenceStory();
    const detected = s.raw(t('09:00:00'), { kind: 'offboarding.detected', actor: 'breakglass', subject: 'dave@example.com', details: { source: 'okta', slack_user: null, login: null, deactivated_at: t('08:59:00'), detail: 'Okta status DEPROVISIONED', sla: '1d' } });
    const held = [{ resource: 'prod-db', provider: 'okta', principal: 'dave@example.com', since: t('02:00:00'), basis: 'unmanaged' as const, removal: 'none' as const }];
    s.raw(t('09:00:05'), { kind: 'offboarding.access_held', actor: 'breakglass', subject: 'dave@example.com', details: { detected_seq: detected, held, checked_at: t('09:00:05'), next_check_at: t('10:00:05') } });
    const period = { from: new Date(t('00:00:00')), to: new Date(t('23:59:59')) };
    const open = offboardingRows(EvidenceHistory.of(s.events()), period);
    expect(open).toEqual([expect.objectContaining({ person: 'dave@example.com', completed_at: null, sla_met: null, systems: `prod-db (okta): still held by dave@example.com since ${t('02:00:00')}` })]);

    s.raw(t('11:00:10'), {
      kind: 'offboarding.completed',
      actor: 'breakglass',
      subject: 'dave@example.com',
      details: {
        detected_seq: detected,
        source: 'okta',
        deactivated_at: t('08:59:00'),
        access_ended_at: t('11:00:05'),
        completed_at: t('11:00:10'),
        sla: '1d',
        sla_met: true,
        took_ms: 7_325_000,
        systems: [{ resource: 'prod-db', provider: 'okta', outcome: 'gone', ended_at: t('11:00:05'), principals: ['dave@example.com'], last_seen_at: t('10:00:05') }],
        unmanaged_access: ['prod-db'],
      },
    });
    const done = offboardingRows(EvidenceHistory.of(s.events()), period);
    expect(done).toEqual([expect.objectContaining({ sla_met: true, systems: `prod-db (okta): gone at ${t('11:00:05')}`, unmanaged_access: 'prod-db' })]);
  });
});
