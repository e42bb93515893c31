import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whoFromLedger, whoHadAccess, whoToJson, whoToText } from '../../src/reports/access/who.ts';
import { whoAt, whoAtToJson } from '../../src/reports/access/access-render.ts';
import { whoAtToText } from '../../src/reports/access/access-text.ts';
import { buildTimeline } from '../../src/reports/access/timeline.ts';
import { runCli } from '../support/cli.ts';
import { cliDatabaseVariants, type CliDatabase, describeSideBySide } from '../support/cli-databases.ts';
import { EvidenceStory } from '../support/evidence-story.ts';

const DAY = '2026-03-02';
const t = (time: string) => `${DAY}T${time}Z`;
const HOUR = 3_600_000;

/**
 * prod-db on one day:
 *  grant 1 U0ALICE   09:02:00 → 11:02:00, two approvers, revoked exactly at its end
 *  grant 2 U0ZED     prod-admin (another resource), 09:31 → …
 *  grant 3 U0DAVE    13:00:45 → 14:00:45, extended at 13:55:01 to 15:00:45, revoked 15:00:46
 *  grant 4 U0FRAN    13:15 → 17:15, ended early at 13:45, revoked 13:45:01
 *  grant 5 U0GINA    16:01 → 17:01, never revoked
 */
function buildStory() {
  const s = new EvidenceStory();
  const seq: Record<string, number> = {};
  s.config(t('08:00:00'));
  seq.aCreated = s.nextSeq;
  const a = s.request(t('09:00:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: 2 * HOUR, reason: 'INC-1234 replication lag on primary', ticket: 'INC-1234', approvers: ['U0BOB', 'U0CAROL', 'U0DAN'], approvalsRequired: 2 });
  seq.aBob = s.approve(t('09:01:00'), a, 'U0BOB');
  seq.aCarol = s.approve(t('09:02:00'), a, 'U0CAROL');
  seq.aApplied = s.nextSeq;
  const grantA = s.apply(t('09:02:00'), a);
  const z = s.request(t('09:30:00'), { requester: 'U0ZED', resource: 'prod-admin', durationMs: HOUR, reason: 'rotate keys', approvers: ['U0BOB'] });
  s.approve(t('09:31:00'), z, 'U0BOB');
  s.apply(t('09:31:00'), z);
  seq.aRevoked = s.revoke(t('11:02:00'), grantA);

  const b = s.request(t('13:00:00'), { requester: 'U0DAVE', resource: 'prod-db', durationMs: HOUR, reason: 'deploy hotfix', ticket: 'CHG-77', approvers: ['U0BOB', 'U0CAROL'], approvalsRequired: 2 });
  s.approve(t('13:00:30'), b, 'U0CAROL');
  s.approve(t('13:00:40'), b, 'U0BOB');
  const grantB = s.apply(t('13:00:45'), b);

  const c = s.request(t('13:10:00'), { requester: 'U0FRAN', resource: 'prod-db', durationMs: 4 * HOUR, reason: 'debug slow queries', approvers: ['U0BOB', 'U0CAROL'], approvalsRequired: 2 });
  s.approve(t('13:12:00'), c, 'U0BOB');
  s.approve(t('13:14:00'), c, 'U0CAROL');
  const grantC = s.apply(t('13:15:00'), c);
  s.endNow(t('13:45:00'), grantC, 'U0FRAN');
  s.revoke(t('13:45:01'), grantC, { reason: 'ended', by: 'U0FRAN' });

  seq.extCreated = s.nextSeq;
  const ext = s.request(t('13:50:00'), { requester: 'U0DAVE', resource: 'prod-db', durationMs: HOUR, reason: 'Extension of #3: deploy hotfix', ticket: 'CHG-77', approvers: ['U0BOB', 'U0CAROL'], approvalsRequired: 2, kind: 'extension', extendsGrantId: grantB });
  s.approve(t('13:52:00'), ext, 'U0BOB');
  s.approve(t('13:55:00'), ext, 'U0CAROL');
  seq.extended = s.extend(t('13:55:01'), grantB, ext);
  s.revoke(t('15:00:46'), grantB);

  const d = s.request(t('16:00:00'), { requester: 'U0GINA', resource: 'prod-db', durationMs: HOUR, reason: 'data fix', approvers: ['U0BOB'], approvalsRequired: 1 });
  s.approve(t('16:00:30'), d, 'U0BOB');
  s.apply(t('16:01:00'), d);
  return { story: s, seq };
}

const { story, seq } = buildStory();
const events = story.events();
const who = (at: string, resource = 'prod-db') => whoHadAccess(events, resource, new Date(at));
const people = (at: string, resource = 'prod-db') => who(at, resource).holders.map((h) => h.person);

describe('who had access: the boundaries of a grant', () => {
  it('nobody before the grant starts, even once the request is approved', () => {
    expect(people(t('08:59:00'))).toEqual([]);
    expect(people(t('09:01:59.999'))).toEqual([]);
  });

  it('the holder from the exact start (inclusive)', () => {
    expect(people(t('09:02:00.000'))).toEqual(['U0ALICE']);
  });

  it('during: the request, both approvers, the reason and ticket, the times and the evidence', () => {
    const [alice, ...others] = who(t('10:00:00')).holders;
    expect(others).toEqual([]);
    expect(alice).toMatchObject({
      person: 'U0ALICE',
      resource: 'prod-db',
      grantId: '1',
      requestId: '1',
      requestKind: 'standard',
      reason: 'INC-1234 replication lag on primary',
      ticket: 'INC-1234',
      approvedBy: ['U0BOB', 'U0CAROL'],
      approvalsRequired: 2,
      selfGranted: false,
      status: 'active',
      endReason: 'expired',
    });
    expect(alice!.grantedAt.toISOString()).toBe(t('09:02:00.000'));
    expect(alice!.scheduledEndAt.toISOString()).toBe(t('11:02:00.000'));
    expect(alice!.endedAt?.toISOString()).toBe(t('11:02:00.000'));
    expect(alice!.evidence).toEqual([seq.aCreated, seq.aBob, seq.aCarol, seq.aApplied, seq.aRevoked]);
  });

  it('up to the last millisecond, and nobody from the end (exclusive) on', () => {
    expect(people(t('11:01:59.999'))).toEqual(['U0ALICE']);
    expect(people(t('11:02:00.000'))).toEqual([]);
    expect(people(t('12:00:00'))).toEqual([]);
  });

  it('only the resource asked about', () => {
    expect(people(t('10:00:00'), 'prod-admin')).toEqual(['U0ZED']);
    expect(who(t('10:00:00'), 'nope')).toMatchObject({ holders: [], grantsRecorded: 0 });
  });
});

describe('who had access: extended, ended early, never revoked', () => {
  it('an extended grant holds past its original end, under the extension request and its approvers', () => {
    const before = who(t('13:54:00')).holders.find((h) => h.person === 'U0DAVE')!;
    expect(before.scheduledEndAt.toISOString()).toBe(t('14:00:45.000'));
    expect(before.extensions).toEqual([]);

    const [dave, ...others] = who(t('14:30:00')).holders;
    expect(others).toEqual([]);
    expect(dave).toMatchObject({ person: 'U0DAVE', requestId: '3', approvedBy: ['U0CAROL', 'U0BOB'], status: 'active', ticket: 'CHG-77' });
    expect(dave!.scheduledEndAt.toISOString()).toBe(t('15:00:45.000'));
    expect(dave!.extensions).toEqual([{ requestId: '5', approvedBy: ['U0BOB', 'U0CAROL'], endsAt: new Date(t('15:00:45')), at: new Date(t('13:55:01')) }]);
    expect(dave!.evidence).toContain(seq.extCreated);
    expect(dave!.evidence).toContain(seq.extended);
    // At the original end it still holds; after the late-by-a-second revocation it does not.
    expect(people(t('14:00:45.000'))).toEqual(['U0DAVE']);
    expect(who(t('15:00:45.500')).holders[0]).toMatchObject({ person: 'U0DAVE', status: 'past_end' });
    expect(people(t('15:00:46.000'))).toEqual([]);
  });

  it('a grant ended early holds only until its revocation', () => {
    expect(people(t('13:30:00'))).toEqual(['U0DAVE', 'U0FRAN']);
    const fran = who(t('13:45:00.500')).holders.find((h) => h.person === 'U0FRAN')!;
    expect(fran).toMatchObject({ status: 'past_end', endReason: 'ended', endedBy: 'U0FRAN' });
    expect(fran.scheduledEndAt.toISOString()).toBe(t('13:45:00.000'));
    expect(people(t('13:50:00'))).toEqual(['U0DAVE']);
  });

  it('a grant past its end with no revocation recorded is still listed, as past_end', () => {
    expect(who(t('16:30:00')).holders[0]).toMatchObject({ person: 'U0GINA', status: 'active', endedAt: null });
    expect(who(t('23:00:00')).holders[0]).toMatchObject({ person: 'U0GINA', status: 'past_end', endedAt: null });
  });

  it('renders text and JSON', () => {
    const answer = who(t('14:30:00'));
    const text = whoToText(answer);
    expect(text).toContain('Access to prod-db at 2026-03-02T14:30:00.000Z (UTC): 1 person');
    expect(text).toMatch(/approved by: +U0CAROL, U0BOB \(2 required\)/);
    expect(text).toMatch(/extended: +to 2026-03-02T15:00:45.000Z at 2026-03-02T13:55:01.000Z under request #5, approved by U0BOB, U0CAROL/);
    expect(whoToText(who(t('12:00:00')))).toMatch(/^Nobody had access to prod-db at 2026-03-02T12:00:00.000Z \(UTC\) according to the evidence ledger \(4 grant\(s\)/);
    expect(whoToJson(answer)).toMatchObject({ resource: 'prod-db', at: t('14:30:00.000'), holders: [{ person: 'U0DAVE', approved_by: ['U0CAROL', 'U0BOB'], granted_at: t('13:00:45.000') }] });
  });
});

for (const variant of cliDatabaseVariants) {
  describeSideBySide(variant, `npx breakglass who [${variant.kind}]`, () => {
    let database: CliDatabase;

    beforeAll(async () => {
      database = await variant.setup();
      const db = await database.open();
      try {
        const stored = await story.writeTo(db.db);
        expect(stored).toEqual(events);
        // The ledger reader gives the same answers as the pure function.
        for (const at of [t('09:02:00'), t('11:02:00'), t('14:30:00'), t('23:00:00')]) {
          expect(await whoFromLedger(db.db, 'prod-db', new Date(at))).toEqual(who(at));
        }
      } finally {
        await db.close();
      }
    });
    afterAll(async () => database.cleanup());

    it('answers from the real CLI', async () => {
      // Each variant spawns once (a spawn costs about a second); the rendering itself is tested above.
      // The command answers from the access timeline (grants and every listing; see access-timeline.test.ts):
      // the same grants, with their basis, and, with no listing recorded, the warning that others may have held access.
      const timeline = buildTimeline(events, []);
      if (variant.kind === 'pglite') {
        const json = await runCli(['who', 'prod-db', '--at', t('14:30:00'), '--format', 'json'], database.env);
        expect(json.code, json.stderr).toBe(0);
        const answer = JSON.parse(json.stdout);
        expect(answer).toEqual(whoAtToJson(whoAt(timeline, 'prod-db', new Date(t('14:30:00')))));
        expect(answer).toMatchObject({ resource: 'prod-db', coverage: { known: false }, holders: [{ person: { id: 'U0DAVE' }, basis: { kind: 'grant', approved_by: ['U0CAROL', 'U0BOB'] }, from: t('13:00:45.000') }] });
        return;
      }
      const text = await runCli(['who', 'prod-db', '--at', t('10:00:00')], database.env);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toBe(whoAtToText(whoAt(timeline, 'prod-db', new Date(t('10:00:00')))));
      expect(text.stdout).toMatch(/U0ALICE\n  basis: +breakglass grant 1 under request #1 \(standard\)\n  reason: +INC-1234 replication lag on primary\n  ticket: +INC-1234\n  approved by: +U0BOB, U0CAROL \(2 required\)/);
      expect(text.stdout).toMatch(/INCOMPLETE: breakglass has never listed prod-db at its provider/);
    });
  });
}
