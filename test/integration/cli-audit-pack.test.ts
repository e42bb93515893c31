import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAccessConfig } from '../../src/config/access.ts';
import { CSV_COLUMNS, PACK_FILES, writeAuditPack, type AuditPackResult } from '../../src/reports/pack/audit-pack.ts';
import { generateSigningKey, keyFingerprint } from '../../src/ledger/checkpoint.ts';
import { EvidenceHistory } from '../../src/reports/history.ts';
import { renderPolicy } from '../../src/reports/policy/policy-doc.ts';
import { assessReadiness, type ReadinessReport } from '../../src/reports/readiness/readiness.ts';
import { runCli } from '../support/cli.ts';
import { cliDatabaseVariants, type CliDatabase, describeSideBySide } from '../support/cli-databases.ts';
import { EvidenceStory } from '../support/evidence-story.ts';
import { reviewCampaigns, reviewItems } from '../../src/db/schema.ts';
import type { Db } from '../../src/db/client.ts';
import { populationHash } from '../../src/domain/review.ts';
import { tamper } from '../support/tamper.ts';

const HOUR = 3_600_000;
const t = (time: string, day = '2026-03-02') => `${day}T${time}Z`;
const TRICKY = 'INC-7, "urgent": replica lag\nsecond line, with comma';
const ACCESS = resolve('access.example.yml');
const CRITERIA = ['CC6.1', 'CC6.2', 'CC6.3', 'CC7.2', 'CC7.3', 'CC8.1'];
const KEY = generateSigningKey();
const SIGNER = KEY.signer;

/** Campaign 1's population as the reviewer saw it: Alice's grant, and an account nobody granted with a hostile name. */
const REVIEW_LINES = [
  { resource: 'prod-db', principal: 'alice@example.com', email: 'alice@example.com', grantId: 1, requestId: 1, route: 'manager' as const },
  { resource: 'prod-db', principal: '=cmd|calc', email: null, grantId: null, requestId: null, route: 'security' as const },
];

async function storeCampaign(db: Db): Promise<void> {
  await db.insert(reviewCampaigns).values({ id: 1, period: '2026-Q1', scope: ['prod-db'], scopeKey: 'prod-db', trigger: 'manual', requestedBy: 'U0SEC', requestedAt: new Date(t('07:59:00')), state: 'closed', openedAt: new Date(t('08:00:00')), closedAt: new Date(t('15:00:00')) });
  await db.insert(reviewItems).values([
    { ...REVIEW_LINES[0]!, campaignId: 1, personName: 'Alice Able', personSlack: 'U0ALICE', since: new Date(t('09:02:00')), sinceSource: 'grant', decision: 'keep', decidedBy: 'U0MGR', decidedAt: new Date(t('10:00:00')) },
    { ...REVIEW_LINES[1]!, campaignId: 1, since: new Date(t('06:00:00')), sinceSource: 'first_seen' },
  ]);
}

function buildStory(): EvidenceStory {
  const s = new EvidenceStory();
  s.config(t('00:05:00'), loadAccessConfig(ACCESS).hash);
  s.review(t('08:00:00'), { kind: 'review.started', actor: 'U0SEC', details: { campaign_id: 1, period: '2026-Q1', due_at: '2026-03-10T00:00:00.000Z', reviewers: 1, security_items: 0, population_sha256: populationHash(REVIEW_LINES.map((l) => ({ ...l, reviewer: null }))) } });
  const a = s.request(t('09:00:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: 2 * HOUR, reason: TRICKY, ticket: 'INC-7', approvers: ['U0BOB', 'U0CAROL'], approvalsRequired: 2 });
  s.approve(t('09:01:00'), a, 'U0BOB');
  s.approve(t('09:02:00'), a, 'U0CAROL');
  const grantA = s.apply(t('09:02:00'), a);
  const d = s.request(t('09:10:00'), { requester: 'U0DAVE', resource: 'prod-db', durationMs: HOUR, reason: 'look around', approvers: ['U0BOB'] });
  s.deny(t('09:15:00'), d, 'U0BOB', 'not during the freeze, "really"');
  s.review(t('10:00:00'), { kind: 'review.decided', actor: 'U0MGR', subject: 'U0ALICE', resource: 'prod-db', details: { campaign_id: 1, period: '2026-Q1', item_id: 1, decision: 'keep', reviewer: '' } });
  s.revoke(t('11:02:03'), grantA);
  const e = s.request(t('12:00:00'), { requester: 'U0SRE', resource: 'prod-logs', durationMs: HOUR / 2, reason: 'outage', approvers: ['U0LEAD'], kind: 'emergency' });
  s.selfGrant(t('12:00:00'), e);
  const alert = s.alert(t('12:00:00'), { kind: 'emergency_grant', text: 'U0SRE self-granted prod-logs', requestId: e, grantId: 2 });
  const grantE = s.apply(t('12:00:01'), e, { emergency: true });
  s.acknowledge(t('12:05:00'), alert, 'U0SEC', t('12:00:00'), 'emergency_grant', e);
  s.revoke(t('12:30:02'), grantE);
  s.reviewEmergency(t('13:00:00'), grantE, 'U0LEAD', t('12:00:01'));
  s.review(t('15:00:00'), { kind: 'review.signed_off', actor: 'U0MGR', subject: 'U0MGR', details: { campaign_id: 1, period: '2026-Q1', card_id: 1, audience: 'manager', reviewer: 'U0MGR', lines: 1, kept: 1, revoked: 0, overdue: false } });
  const detected = s.raw(t('16:00:00'), { kind: 'offboarding.detected', actor: 'breakglass', subject: 'left@example.com', details: { source: 'okta', slack_user: 'U0LEFT', login: null, deactivated_at: t('15:59:00.000'), detail: null, sla: '1d' } });
  s.raw(t('16:10:00'), {
    kind: 'offboarding.completed',
    actor: 'breakglass',
    subject: 'left@example.com',
    details: {
      detected_seq: detected,
      source: 'okta',
      deactivated_at: t('15:59:00.000'),
      access_ended_at: t('16:09:00.000'),
      completed_at: t('16:10:00.000'),
      sla: '1d',
      sla_met: true,
      took_ms: 600_000,
      systems: [
        { resource: 'prod-db', provider: 'okta', outcome: 'revoked', ended_at: t('16:09:00.000') },
        { resource: 'prod-admin', provider: 'aws-iam', outcome: 'no_access', ended_at: null },
      ],
      unmanaged_access: [],
    },
  });
  s.alert(t('20:00:00'), { kind: 'revoke_failed', text: 'Revoking failed, "503"', resource: 'prod-db', subject: 'U0ALICE' });
  s.checkpoint(t('23:00:00'), SIGNER);
  s.checkpoint(t('00:00:00', '2026-03-03'), SIGNER);
  return s;
}

/** RFC 4180, enough to read back what csv-stringify wrote. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += c;
  }
  if (field !== '' || row.length > 0) row.push(field), rows.push(row);
  return rows;
}

function records(dir: string, file: keyof typeof CSV_COLUMNS): Array<Record<string, string>> {
  const [header, ...rows] = parseCsv(readFileSync(join(dir, file), 'utf8').replace(/^\uFEFF/, ''));
  expect(header).toEqual([...CSV_COLUMNS[file]]);
  for (const row of rows) expect(row).toHaveLength(header!.length);
  return rows.map((row) => Object.fromEntries(header!.map((h, i) => [h, row[i]!])));
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** Every file of the pack; report.pdf only where Chromium prints it (test/integration/report-browser.test.ts). */
const WRITTEN = PACK_FILES.map((f) => f.file).filter((f) => f !== 'report.pdf').sort();
const story = buildStory();
const events = story.events();
const access = loadAccessConfig(ACCESS);

for (const variant of cliDatabaseVariants) {
  describeSideBySide(variant, `npx breakglass audit-pack [${variant.kind}]`, () => {
    let database: CliDatabase;
    let root: string;
    let dir: string;
    let quiet: string;
    let first: Record<string, string>;
    let second: Record<string, string>;
    let result: AuditPackResult;

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), 'breakglass-pack-'));
      dir = join(root, 'pack', 'q1'); // does not exist yet: created
      quiet = join(root, 'quiet');
      database = await variant.setup();
      const db = await database.open();
      try {
        await story.writeTo(db.db);
        await storeCampaign(db.db);
        const options = { db: db.db, from: new Date(t('00:00:00')), to: new Date(t('00:00:00', '2026-03-03')), outDir: dir, access, now: new Date('2026-03-20T00:00:00Z'), signer: SIGNER };
        result = await writeAuditPack(options);
        first = snapshot(dir);
        await writeAuditPack({ ...options, now: new Date('2026-03-21T00:00:00Z') });
        second = snapshot(dir);
        await writeAuditPack({ ...options, from: new Date(t('00:00:00', '2026-03-03')), to: new Date(t('00:00:00', '2026-03-04')), outDir: quiet });
      } finally {
        await db.close();
      }
    });
    afterAll(async () => {
      rmSync(root, { recursive: true, force: true });
      await database.cleanup();
    });

    it('writes every part, and nothing else (no report.pdf without a printer)', () => {
      expect(Object.keys(first).sort()).toEqual(WRITTEN);
      expect(result.files.sort()).toEqual(WRITTEN);
      expect(result.pdf).toEqual({ written: false, why: '--no-pdf was given' });
      expect(first['README.md']).toContain('`report.pdf` was not written: --no-pdf was given.');
    });

    it('writes CSVs with headers, RFC 4180 escaping and the grant/revoke facts', () => {
      // A byte order mark first, so Excel reads the file as UTF-8.
      expect(first['grants.csv']!.split('\n')[0]).toBe(
        '\uFEFFrequest_id,grant_id,person,resource,emergency,approved_by,reason,ticket,granted_at,ends_at,extensions,revoked_at,revoked_by,revoke_reason,late_by_ms,late_by,sessions_ended,evidence_seqs',
      );
      expect(first['grants.csv']).toContain('"INC-7, ""urgent"": replica lag\nsecond line, with comma"');
      const grants = records(dir, 'grants.csv');
      expect(grants).toHaveLength(2);
      expect(grants[0]).toMatchObject({
        request_id: '1',
        grant_id: '1',
        person: 'U0ALICE',
        resource: 'prod-db',
        emergency: 'false',
        approved_by: 'U0BOB U0CAROL',
        reason: TRICKY,
        ticket: 'INC-7',
        granted_at: t('09:02:00.000'),
        ends_at: t('11:02:00.000'),
        revoked_at: t('11:02:03.000'),
        revoked_by: 'breakglass',
        revoke_reason: 'expired',
        late_by_ms: '3000',
        late_by: '3s',
        evidence_seqs: '3 4 5 6 10',
      });
      expect(grants[1]).toMatchObject({ person: 'U0SRE', emergency: 'true', approved_by: 'U0SRE' });

      const approvals = records(dir, 'approvals.csv');
      expect(approvals.map((r) => [r.request_id, r.decision, r.decided_by, r.final, r.decided_by_requester])).toEqual([
        ['1', 'approved', 'U0BOB', 'false', 'false'],
        ['1', 'approved', 'U0CAROL', 'true', 'false'],
        ['2', 'denied', 'U0BOB', 'true', 'false'],
        ['3', 'approved', 'U0SRE', 'true', 'true'],
      ]);
      expect(approvals[2]!.deny_reason).toBe('not during the freeze, "really"');
      expect(records(dir, 'emergency.csv')).toEqual([
        expect.objectContaining({ person: 'U0SRE', reviewed_by: 'U0LEAD', reviewed_after: '59m 59s', reviewed_within_24h: 'yes', alert_acknowledged_by: 'U0SEC' }),
      ]);
      // Details as readable text, not JSON.
      expect(records(dir, 'reviews.csv')[1]!.details).toBe('by_assigned_reviewer: true; campaign_id: 1; decision: keep; email: alice@example.com; granted_by: request #1; item_id: 1; keep_all_remaining: false; new_since_last_review: false; period: 2026-Q1; principal: alice@example.com; reviewer: ; route: manager');
      // The review population: each line as the reviewer saw it, its decision, and whether the lines still hash to what review.started recorded.
      expect(records(dir, 'review-lines.csv').map((r) => [r.campaign_id, r.person, r.principal, r.granted_by, r.since, r.decision, r.decided_by, r.decided_at, r.population_matches_ledger])).toEqual([
        ['1', "'=cmd|calc", "'=cmd|calc", 'unmanaged', t('06:00:00.000'), '', '', '', 'yes'],
        ['1', 'Alice Able', 'alice@example.com', 'request #1', t('09:02:00.000'), 'keep', 'U0MGR', t('10:00:00.000'), 'yes'],
      ]);
      expect(readFileSync(join(quiet, 'review-lines.csv'), 'utf8')).toBe(`\uFEFF${CSV_COLUMNS['review-lines.csv'].join(',')}\n`);
      expect(records(dir, 'reviews.csv').map((r) => [r.kind, r.campaign_id, r.actor, r.reviewer, r.decision])).toEqual([
        ['review.started', '1', 'U0SEC', '', ''],
        ['review.decided', '1', 'U0MGR', '', 'keep'],
        ['review.signed_off', '1', 'U0MGR', 'U0MGR', ''],
      ]);
      expect(records(dir, 'offboarding.csv')).toEqual([
        {
          person: 'left@example.com',
          slack_user: 'U0LEFT',
          source: 'okta',
          deactivated_at: t('15:59:00.000'),
          detected_at: t('16:00:00.000'),
          completed_at: t('16:10:00.000'),
          access_ended_at: t('16:09:00.000'),
          took: '10m',
          sla: '1d',
          sla_met: 'true',
          systems: `prod-db (okta): revoked at ${t('16:09:00.000')}; prod-admin (aws-iam): no_access`,
          unmanaged_access: '',
          detected_seq: '19',
          completed_seq: '20',
        },
      ]);
      expect(records(dir, 'alerts.csv').map((r) => [r.alert_id, r.alert_kind, r.acknowledged_by, r.acknowledged_after, r.text])).toEqual([
        ['1', 'emergency_grant', 'U0SEC', '5m', 'U0SRE self-granted prod-logs'],
        ['2', 'revoke_failed', '', '', 'Revoking failed, "503"'],
      ]);
    });

    it('includes the policy, the readiness report, the verification and the raw evidence', () => {
      expect(first['policy.md']).toBe(renderPolicy(access));
      const readiness = JSON.parse(first['readiness.json']!) as ReadinessReport;
      expect(readiness.ledger.checkpoint).toMatchObject({ ok: true, seq: 23 });
      const history = EvidenceHistory.of(events);
      const expected = assessReadiness(history, {
        from: new Date(t('00:00:00')),
        to: new Date(t('00:00:00', '2026-03-03')),
        now: new Date('2026-03-20T00:00:00Z'),
        verify: { ok: true, count: events.length, headHash: events.at(-1)!.hash },
        checkpoint: readiness.ledger.checkpoint!,
      });
      expect(readiness).toEqual(JSON.parse(JSON.stringify(expected)));
      expect(readiness.gaps.map((g) => [g.kind, g.seqs])).toEqual([['unacknowledged_alert', [21]]]);
      expect(first['readiness.md']).toMatch(/## Security alerts never acknowledged \(1\)/);

      expect(JSON.parse(first['verification.json']!)).toEqual({
        ok: true,
        count: events.length,
        head_hash: events.at(-1)!.hash,
        problem: null,
        checkpoints_ok: true,
        head_row: { seq: events.length, hash: events.at(-1)!.hash },
        head_row_problem: null,
        checkpoints: [
          {
            seq: 22,
            occurred_at: t('23:00:00.000'),
            count: 21,
            head: events[20]!.hash,
            at: t('23:00:00.000'),
            key: keyFingerprint(SIGNER.publicKey),
            signature_valid: true,
            head_matches: true,
            problem: null,
          },
        ],
      });
      const exported = first['evidence.jsonl']!.trim().split('\n').map((line) => JSON.parse(line) as { seq: number; hash: string });
      expect(exported.map((e) => e.seq)).toEqual(events.slice(0, 22).map((e) => e.seq));
      expect(exported.at(-1)!.hash).toBe(events[21]!.hash);
    });

    it('indexes every file with its SOC 2 criteria', () => {
      const index = first['README.md']!;
      for (const { file, criteria } of PACK_FILES) {
        const row = index.split('\n').find((line) => line.startsWith(`| \`${file}\` |`));
        expect(row, file).toBeDefined();
        for (const criterion of criteria) expect(row).toContain(criterion);
      }
      for (const criterion of CRITERIA) expect(index).toContain(`**${criterion}**`);
      expect(index).toContain(`\`${access.hash}\` from ${t('00:05:00.000')} (event 1) — the version rendered in \`policy.md\``);
    });

    it('writes SHA256SUMS that match the files', () => {
      const lines = first['SHA256SUMS']!.trim().split('\n');
      expect(lines.map((l) => l.slice(66))).toEqual(WRITTEN.filter((f) => f !== 'SHA256SUMS' && f !== 'SHA256SUMS.sig'));
      for (const line of lines) {
        const [, hash, file] = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line)!;
        expect(createHash('sha256').update(first[file!]!, 'utf8').digest('hex'), file).toBe(hash);
      }
    });

    it('notes a part with nothing in the period, and leaves that CSV with its header only', () => {
      expect(readFileSync(join(quiet, 'reviews.csv'), 'utf8')).toBe(`\uFEFF${CSV_COLUMNS['reviews.csv'].join(',')}\n`);
      expect(readFileSync(join(quiet, 'README.md'), 'utf8')).toContain('`reviews.csv` has only its header: no access-review events (`review.*`) are recorded in this period.');
    });

    it('is deterministic: a second run, and the real CLI into the same folder, change only the generation time', async () => {
      const sameExceptGenerated = (a: Record<string, string>, b: Record<string, string>) => {
        const strip = (files: Record<string, string>) => ({
          ...files,
          'README.md': files['README.md']!.replace(/^- \*\*Generated:\*\* \S+/m, 'GENERATED'),
          'report.html': files['report.html']!.replace(/Generated \S+ by breakglass/, 'GENERATED'),
          'SHA256SUMS': files['SHA256SUMS']!.replace(/^\S+ {2}README\.md$/m, 'README').replace(/^\S+ {2}report\.html$/m, 'REPORT'),
          // Signs SHA256SUMS, so it changes with README.md's line.
          'SHA256SUMS.sig': 'SIGNATURE',
        });
        expect(strip(b)).toEqual(strip(a));
      };
      expect(second['README.md']).not.toBe(first['README.md']);
      sameExceptGenerated(first, second);

      const cli = await runCli(['audit-pack', '--from', '2026-03-02', '--to', '2026-03-02', '--out', dir, '--no-pdf'], { ...database.env, ACCESS_CONFIG: ACCESS, LEDGER_SIGNING_KEY: KEY.encoded });
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toBe(
        `Wrote 22 files to ${dir}: 22 event(s) in the period; ledger intact (${events.length} event(s) verified); 1 readiness gap(s), see readiness.md.\nreport.html written; report.pdf skipped: --no-pdf was given.\n`,
      );
      sameExceptGenerated(first, snapshot(dir));
    });

    it('shows progress with counts on stderr when asked (as on a terminal), and a summary either way', async () => {
      const period = story.events().filter((e) => e.occurredAt >= new Date(t('00:00:00')) && e.occurredAt < new Date(t('00:00:00', '2026-03-03'))).length;
      const out = join(root, 'progress');
      const cli = await runCli(['audit-pack', '--from', '2026-03-02', '--to', '2026-03-02', '--out', out, '--progress', '--no-pdf'], { ...database.env, ACCESS_CONFIG: ACCESS, LEDGER_SIGNING_KEY: KEY.encoded });
      expect(cli.code, cli.stderr).toBe(0);
      const lines = cli.stderr.trim().split('\n');
      for (const line of [`verifying the evidence ledger… ${events.length} events`, `reading the evidence… ${events.length} events`, `exporting the evidence of the period… ${period} events`, 'done']) {
        expect(lines).toContain(line);
      }
      expect(lines.at(-1)).toMatch(new RegExp(`^audit-pack: ${events.length} event\\(s\\) verified, ${events.length} read, ${period} exported, in \\d+\\.\\d s$`));
      // Not a terminal and not asked: the summary alone.
      const plain = await runCli(['audit-pack', '--from', '2026-03-02', '--to', '2026-03-02', '--out', out, '--no-pdf'], { ...database.env, ACCESS_CONFIG: ACCESS, LEDGER_SIGNING_KEY: KEY.encoded });
      expect(plain.stderr).toMatch(/^audit-pack: .* exported, in \d+\.\d s\n$/);
    });

    it('still writes the pack when the ledger does not verify, says so, and exits 1', async () => {
      const db = await database.open();
      await tamper(db.db, sql`update evidence_events set details = '{"reason":"nothing to see"}'::jsonb where seq = 5`).finally(() => db.close());
      const out = join(root, 'broken');
      const cli = await runCli(['audit-pack', '--from', '2026-03-02', '--to', '2026-03-02', '--out', out, '--no-pdf'], { ...database.env, ACCESS_CONFIG: ACCESS, LEDGER_SIGNING_KEY: KEY.encoded });
      expect(cli.code).toBe(1);
      expect(cli.stdout).toMatch(/ledger BROKEN \(4 event\(s\) verified\)/);
      expect(cli.stderr).toMatch(/breakglass: the evidence ledger does not verify: event 5: its content does not match its hash: it was changed after it was written\. The pack was written and records this in verification\.json/);
      expect(JSON.parse(readFileSync(join(out, 'verification.json'), 'utf8'))).toMatchObject({ ok: false, problem: { seq: 5 } });
      expect(readdirSync(out).sort()).toEqual(WRITTEN);
    });
  });
}
