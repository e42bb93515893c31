/**
 * `evidence export --format ocsf`: the ledger as OCSF 1.1 JSON Lines for a SIEM. Group
 * memberships are Group Management (3006), other grants User Access Management (3005), drift and
 * readiness findings Compliance Findings (2003); each line traces back to its ledger seq and hash.
 */
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { exportEvents } from '../../src/reports/export/export.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { EvidenceStory } from '../support/evidence-story.ts';
import { runCli } from '../support/cli.ts';
import { cliDatabaseVariants } from '../support/cli-databases.ts';

const HOUR = 3_600_000;
const t = (time: string) => `2026-03-02T${time}Z`;
const PERIOD = { from: new Date('2026-03-02T00:00:00Z'), to: new Date('2026-03-03T00:00:00Z') };

function story() {
  const s = new EvidenceStory();
  s.config(t('00:05:00'));
  const a = s.request(t('09:00:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: HOUR, reason: 'INC-1 lag', approvers: ['U0BOB'] });
  s.approve(t('09:01:00'), a, 'U0BOB');
  const grant = s.apply(t('09:01:01'), a);
  // Revoked ten minutes late: a readiness finding.
  const revoked = s.revoke(t('10:11:01'), grant);
  const policyGrant = s.raw(t('11:00:00'), {
    kind: 'grant.applied',
    actor: 'breakglass',
    subject: 'U0DAN',
    resource: 'prod-logs',
    requestId: 77,
    details: { grant_id: 77, provider: 'aws-iam', target: { kind: 'aws_iam_policy', policy: { Version: '2012-10-17', Statement: [] } }, starts_at: t('11:00:00'), ends_at: t('11:30:00'), provider_expiry: t('11:30:00'), emergency: false },
  });
  const drift = s.raw(t('12:00:00'), { kind: 'drift.detected', actor: 'breakglass', subject: 'eve@example.com', resource: 'prod-db', details: { drift: 'unmanaged', grant_id: null, action: 'report', removed: false } });
  return { s, grant, revoked, policyGrant, drift };
}

async function ocsfLines(db: Parameters<typeof exportEvents>[0]): Promise<Array<Record<string, any>>> {
  const chunks: string[] = [];
  const sink = new Writable({ write: (chunk, _encoding, done) => (chunks.push(String(chunk)), done()) });
  await exportEvents(db, PERIOD, 'ocsf', sink);
  return chunks.join('').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
}

describeEachDatabase('evidence export --format ocsf', (ctx) => {
  it('maps memberships, other grants, drift and readiness findings to their OCSF classes, each traced to the ledger', async () => {
    const { s, revoked, policyGrant, drift } = story();
    const stored = await s.writeTo(ctx.database.db);
    const lines = await ocsfLines(ctx.database.db);
    const bySeq = (seq: number) => lines.find((l) => l.metadata?.sequence === seq)!;

    // One line per event, in order, each with its seq and hash, then the period's readiness findings.
    const eventLines = lines.filter((l) => l.metadata.log_name === 'evidence_events');
    expect(eventLines.map((l) => l.unmapped.ledger.seq)).toEqual(stored.map((e) => e.seq));
    expect(eventLines.map((l) => l.unmapped.ledger.hash)).toEqual(stored.map((e) => e.hash));
    for (const line of lines) {
      expect(line.type_uid).toBe(line.class_uid * 100 + line.activity_id);
      expect(line.metadata).toMatchObject({ version: '1.1.0', product: { name: 'breakglass' } });
      expect(typeof line.time).toBe('number');
    }

    const added = lines.find((l) => l.class_uid === 3006 && l.activity_id === 3)!;
    expect(added).toMatchObject({ category_uid: 3, group: { name: '00gPRODDB', type: 'Okta group' }, user: { uid: 'U0ALICE' }, resource: { name: 'prod-db' } });
    // The revoke names the group its grant.applied recorded.
    expect(bySeq(revoked)).toMatchObject({ class_uid: 3006, activity_id: 4, type_uid: 300604, group: { name: '00gPRODDB' }, user: { uid: 'U0ALICE' } });
    expect(bySeq(policyGrant)).toMatchObject({ class_uid: 3005, activity_id: 1, user: { uid: 'U0DAN' }, privileges: ['AWS IAM inline policy'], resources: [{ name: 'prod-logs' }] });
    expect(bySeq(drift)).toMatchObject({ class_uid: 2003, category_uid: 2, compliance: { standards: ['SOC 2'], status_id: 3 }, finding_info: { uid: `drift:${drift}` } });
    // Everything else is kept whole as a base event.
    expect(bySeq(1)).toMatchObject({ class_uid: 0, unmapped: { ledger: { kind: 'config.loaded' } } });

    const findings = lines.filter((l) => l.metadata.log_name === 'readiness');
    expect(findings.map((f) => f.finding_info.title)).toContain('late_revoke');
    const late = findings.find((f) => f.finding_info.title === 'late_revoke')!;
    expect(late).toMatchObject({ class_uid: 2003, type_uid: 200301, finding_info: { uid: `late_revoke:${late.unmapped.ledger[0].seq}` } });
    expect(late.unmapped.ledger).toContainEqual({ seq: revoked, hash: stored.find((e) => e.seq === revoked)!.hash });
  });
});

const pglite = cliDatabaseVariants.find((v) => v.kind === 'pglite')!;
it('is offered by the CLI as --format ocsf', async () => {
  const database = await pglite.setup();
  try {
    const db = await database.open();
    await story().s.writeTo(db.db).finally(() => db.close());
    const result = await runCli(['evidence', 'export', '--from', '2026-03-02', '--to', '2026-03-02', '--format', 'ocsf'], database.env);
    expect(result.code, result.stderr).toBe(0);
    const classes = result.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { class_uid: number }).class_uid);
    expect(new Set(classes)).toEqual(new Set([0, 3006, 3005, 2003]));
  } finally {
    await database.cleanup();
  }
});
