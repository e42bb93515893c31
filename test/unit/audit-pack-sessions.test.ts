/** grants.csv says, on the grant's own line, whether its revoke also ended the sessions open then. */
import { expect, it } from 'vitest';
import { grantRows } from '../../src/reports/pack/audit-pack.ts';
import { EvidenceHistory } from '../../src/reports/history.ts';
import { EvidenceStory } from '../support/evidence-story.ts';

const HOUR = 3_600_000;
const t = (time: string) => `2026-03-02T${time}Z`;

it("shows the sessions a revoke ended in the grant's line, with the event behind it", () => {
  const s = new EvidenceStory();
  s.config(t('00:05:00'));
  const ended = s.request(t('09:00:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: HOUR, reason: 'INC-1', approvers: ['U0BOB'] });
  s.approve(t('09:01:00'), ended, 'U0BOB');
  const grant = s.apply(t('09:01:01'), ended);
  s.revoke(t('10:01:02'), grant);
  const sessions = s.raw(t('10:01:02'), { kind: 'grant.sessions_ended', actor: 'breakglass', subject: 'U0ALICE', resource: 'prod-db', requestId: ended, details: { grant_id: grant, provider: 'postgres', ended: 2, effective_at: t('10:01:02'), method: 'pg_terminate_backend' } });
  const other = s.request(t('11:00:00'), { requester: 'U0DAN', resource: 'prod-db', durationMs: HOUR, reason: 'INC-2', approvers: ['U0BOB'] });
  s.approve(t('11:01:00'), other, 'U0BOB');
  s.revoke(t('12:01:02'), s.apply(t('11:01:01'), other));

  const rows = grantRows(EvidenceHistory.of(s.events()), { from: new Date(t('00:00:00')), to: new Date('2026-03-03T00:00:00Z') });
  expect(rows[0]).toMatchObject({ person: 'U0ALICE', sessions_ended: '2 session(s) ended from 2026-03-02T10:01:02.000Z: pg_terminate_backend' });
  expect(String(rows[0]!.evidence_seqs).split(' ')).toContain(String(sessions));
  expect(rows[1]).toMatchObject({ person: 'U0DAN', sessions_ended: '' });
});
