/**
 * `npx breakglass export vanta`: an access review campaign as Vanta's Access File CSV, and its
 * upload (with the report PDF) to a Vanta document through Vanta's documents API, played by a
 * local server that checks each call against Vanta's published shape.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { reviewCampaigns, reviewItems } from '../../src/db/schema.ts';
import type { Db } from '../../src/db/client.ts';
import { runCli } from '../support/cli.ts';
import { cliDatabaseVariants, describeSideBySide, type CliDatabase } from '../support/cli-databases.ts';
import { VantaServer } from '../support/vanta-server.ts';

const at = (iso: string) => new Date(iso);
const HEADER = 'Account name,Account owner,Role,Status,Access Appropriate,Date created,Date deactivated';

/** Alice kept on two resources, Dave revoked (and seen removed), a hostile unmanaged account not yet decided. */
async function seedCampaign(db: Db): Promise<number> {
  const [campaign] = await db
    .insert(reviewCampaigns)
    .values({ period: '2026-Q1', scope: ['prod-db', 'prod-admin'], scopeKey: 'prod-admin,prod-db', trigger: 'manual', requestedBy: 'U0SEC', requestedAt: at('2026-03-01T09:00:00Z'), state: 'open', openedAt: at('2026-03-01T09:05:00Z') })
    .returning({ id: reviewCampaigns.id });
  const id = campaign!.id;
  const decided = { decidedBy: 'U0BOB', decidedAt: at('2026-03-02T10:00:00Z') };
  const keep = 'keep' as const;
  await db.insert(reviewItems).values([
    { campaignId: id, resource: 'prod-db', principal: 'alice@example.com', email: 'alice@example.com', personName: 'Alice Able', since: at('2025-11-20T08:00:00Z'), sinceSource: 'first_seen' as const, route: 'manager' as const, decision: keep, ...decided },
    { campaignId: id, resource: 'prod-admin', principal: 'alice@example.com', email: 'alice@example.com', personName: 'Alice Able', since: at('2026-01-05T08:00:00Z'), sinceSource: 'grant' as const, route: 'manager' as const, decision: keep, ...decided },
    { campaignId: id, resource: 'prod-db', principal: 'dave@example.com', email: 'dave@example.com', since: at('2026-02-01T08:00:00Z'), sinceSource: 'first_seen' as const, route: 'manager' as const, decision: 'revoke' as const, ...decided, revokeState: 'revoked' as const, revokedAt: at('2026-03-02T10:00:05Z'), revokeVerified: true },
    { campaignId: id, resource: 'prod-db', principal: '=HYPERLINK("http://evil.test")', since: null, route: 'security' as const, decision: null },
  ]);
  return id;
}

for (const variant of cliDatabaseVariants) {
  describeSideBySide(variant, `npx breakglass export vanta [${variant.kind}]`, () => {
    let database: CliDatabase;
    let campaign: number;
    const vanta = new VantaServer('vanta-test-token', ['access-reviews']);
    let vantaUrl: string;
    const dir = mkdtempSync(join(tmpdir(), 'breakglass-vanta-'));
    beforeAll(async () => {
      database = await variant.setup();
      const db = await database.open();
      campaign = await seedCampaign(db.db).finally(() => db.close());
      vantaUrl = await vanta.start();
    });
    afterAll(async () => {
      await vanta.stop();
      await database.cleanup();
    });

    it("writes one row per account in Vanta's Access File columns: roles, decision as Access Appropriate, UTC dates, no formula", async () => {
      const run = await runCli(['export', 'vanta', '--campaign', String(campaign)], database.env);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.startsWith(HEADER)).toBe(true);
      const rows = parse(run.stdout, { columns: true }) as Array<Record<string, string>>;
      expect(rows).toEqual([
        { 'Account name': `'=HYPERLINK("http://evil.test")`, 'Account owner': 'No owner', Role: 'prod-db', Status: 'Active', 'Access Appropriate': '', 'Date created': '', 'Date deactivated': '' },
        { 'Account name': 'alice@example.com', 'Account owner': 'alice@example.com', Role: 'prod-admin, prod-db', Status: 'Active', 'Access Appropriate': 'Yes', 'Date created': '2025-11-20', 'Date deactivated': '' },
        { 'Account name': 'dave@example.com', 'Account owner': 'dave@example.com', Role: 'prod-db', Status: 'Deactivated', 'Access Appropriate': 'No', 'Date created': '2026-02-01', 'Date deactivated': '2026-03-02' },
      ]);

      const one = await runCli(['export', 'vanta', '--campaign', String(campaign), '--resource', 'prod-admin', '--out', join(dir, 'admin.csv')], database.env);
      expect(one.code, one.stderr).toBe(0);
      expect(one.stderr).toContain(`Wrote 1 account(s) from 1 review line(s) of access review #${campaign}`);
      expect(readFileSync(join(dir, 'admin.csv'), 'utf8').trimEnd().split('\n')).toEqual([HEADER, 'alice@example.com,alice@example.com,prod-admin,Active,Yes,2026-01-05,']);
    });

    it('refuses an unknown campaign, a resource it did not review and an upload without a token, uploading nothing', async () => {
      const unknown = await runCli(['export', 'vanta', '--campaign', '999'], database.env);
      expect(unknown).toMatchObject({ code: 2, stdout: '' });
      expect(unknown.stderr).toContain('there is no access review #999');
      const resource = await runCli(['export', 'vanta', '--campaign', String(campaign), '--resource', 'figma'], database.env);
      expect(resource.stderr).toContain(`access review #${campaign} did not review "figma"; it covers prod-db, prod-admin`);
      const noToken = await runCli(['export', 'vanta', '--campaign', String(campaign), '--upload', 'access-reviews'], { ...database.env, VANTA_API_URL: vantaUrl });
      expect(noToken.code).toBe(2);
      expect(noToken.stderr).toContain('--upload needs VANTA_API_TOKEN');
      const notPdf = join(dir, 'report.html');
      writeFileSync(notPdf, '<html></html>');
      const badReport = await runCli(['export', 'vanta', '--campaign', String(campaign), '--upload', 'access-reviews', '--report', notPdf], { ...database.env, VANTA_API_URL: vantaUrl, VANTA_API_TOKEN: 'vanta-test-token' });
      expect(badReport.stderr).toContain('is not a PDF');
      expect(vanta.uploads).toEqual([]);
    });

    it('uploads the CSV and the report PDF to the Vanta document, riding out a 429, then submits it', async () => {
      const pdf = join(dir, 'report.pdf');
      writeFileSync(pdf, '%PDF-1.7\n% a report\n');
      vanta.throttleNext = 1;
      const env = { ...database.env, VANTA_API_URL: vantaUrl, VANTA_API_TOKEN: 'vanta-test-token' };
      const run = await runCli(['export', 'vanta', '--campaign', String(campaign), '--company', 'Acme', '--upload', 'access-reviews', '--report', pdf], env);
      expect(run.code, run.stderr).toBe(0);
      const mine = vanta.uploads.filter((u) => u.description === `breakglass access review #${campaign}`);
      expect(mine.map((u) => [u.fileName, u.mimeType])).toEqual([
        ['Access File - Acme - prod-db, prod-admin.csv', 'text/csv'],
        ['report.pdf', 'application/pdf'],
      ]);
      expect(mine[0]!.content.toString('utf8').startsWith(HEADER)).toBe(true);
      expect(mine[1]!.content.toString('latin1')).toBe('%PDF-1.7\n% a report\n');
      expect(vanta.submitted).toContain('access-reviews');
      expect(vanta.violations).toEqual([]);
      expect(run.stdout).toMatch(/^Uploaded Access File - Acme - prod-db, prod-admin\.csv \(Vanta file \d+\) and report\.pdf \(Vanta file \d+\) to Vanta document access-reviews and submitted it: 3 account\(s\) from 4 review line\(s\)/);

      const wrongDoc = await runCli(['export', 'vanta', '--campaign', String(campaign), '--upload', 'no-such-doc'], env);
      expect(wrongDoc.code).toBe(2);
      expect(wrongDoc.stderr).toContain("Vanta has no such document (404): copy the id from the document's URL in Vanta");
      const wrongToken = await runCli(['export', 'vanta', '--campaign', String(campaign), '--upload', 'access-reviews'], { ...env, VANTA_API_TOKEN: 'tok-0ld-SECRET' });
      expect(wrongToken.stderr).toContain('Vanta refused the token (401)');
      expect(wrongToken.stderr).not.toContain('tok-0ld-SECRET');
    });
  });
}
