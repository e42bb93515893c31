import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAccessConfig } from '../../src/config/access.ts';
import { writeAuditPack } from '../../src/reports/pack/audit-pack.ts';
import { chromiumPrinter } from '../../src/reports/pack/report-pdf.ts';
import { browserAvailable, chromiumPath, openFile, type OpenedPage } from '../support/browser.ts';
import { runCli } from '../support/cli.ts';
import { cliDatabaseVariants, type CliDatabase } from '../support/cli-databases.ts';
import { EXPECTED_BARS, HOSTILE_REASON, HOSTILE_RESPONSE, REPORT_NOW, REPORT_PERIOD, reportStory } from '../support/report-story.ts';

/**
 * report.html opened from disk in a real browser (Debian's chromium, driven by playwright-core),
 * and report.pdf printed by it. The pack's database side runs on both databases in
 * cli-audit-pack.test.ts; the page is the same whichever wrote it, so this runs on PGlite only.
 */

const ACCESS = resolve('access.example.yml');
const pglite = cliDatabaseVariants.find((v) => v.kind === 'pglite')!;

describe.skipIf(!browserAvailable)('report.html in Chromium', () => {
  let database: CliDatabase;
  let root: string;
  let opened: OpenedPage;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'breakglass-report-'));
    database = await pglite.setup();
    const db = await database.open();
    try {
      await reportStory().writeTo(db.db);
      const access = loadAccessConfig(ACCESS);
      await writeAuditPack({ db: db.db, ...REPORT_PERIOD, outDir: join(root, 'pack'), access, now: REPORT_NOW, pdf: chromiumPrinter(chromiumPath) });
    } finally {
      await db.close();
    }
    opened = await openFile(join(root, 'pack', 'report.html'));
  });
  afterAll(async () => {
    await opened?.close();
    rmSync(root, { recursive: true, force: true });
    await database?.cleanup();
  });

  it('opens from disk with no console error, no request and no dialog, and saves a screenshot', async () => {
    // Kept after the run (one file, replaced each time) for a person to look at.
    const shot = join(tmpdir(), 'breakglass-report.png');
    await opened.page.screenshot({ path: shot, fullPage: true });
    console.info(`report.html screenshot: ${shot}`);
    expect(opened.errors).toEqual([]);
    expect(opened.requests).toEqual([]);
    expect(opened.dialogs).toEqual([]);
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });

  it('draws a timeline per resource with the expected bars, coloured by basis', async () => {
    const drawn = await opened.page.evaluate(() =>
      [...document.querySelectorAll('svg.timeline')].map((svg) => ({
        resource: svg.getAttribute('data-resource'),
        bars: [...svg.querySelectorAll('rect.bar')].map((rect) => ({
          basis: rect.getAttribute('data-basis'),
          fill: getComputedStyle(rect).fill,
          width: rect.getBoundingClientRect().width,
          person: document.getElementById(rect.getAttribute('data-row') ?? '')?.children[1]?.textContent ?? null,
        })),
      })),
    );
    const expected = Object.entries(EXPECTED_BARS).map(([resource, bars]) => ({ resource, bars: bars.map(([person, basis]) => ({ person, basis })) }));
    expect(drawn.map((t) => ({ resource: t.resource, bars: t.bars.map(({ person, basis }) => ({ person, basis })) }))).toEqual(expected);
    const colours = new Map(drawn.flatMap((t) => t.bars.map((b) => [b.basis, b.fill] as const)));
    expect(colours.get('grant')).toBe('rgb(43, 108, 176)');
    expect(colours.get('emergency')).toBe('rgb(197, 48, 48)');
    expect(colours.get('review_keep')).toBe('rgb(47, 133, 90)');
    expect(colours.get('unmanaged')).toBe('rgb(128, 90, 213)');
    for (const bar of drawn.flatMap((t) => t.bars)) expect(bar.width).toBeGreaterThan(0);
  });

  it('shows hostile reasons and responses as text, and runs none of it', async () => {
    const seen = await opened.page.evaluate(() => ({
      text: document.body.innerText,
      scripts: document.querySelectorAll('script').length,
      images: document.querySelectorAll('img').length,
      bold: document.querySelectorAll('td b').length,
      pwned: (window as unknown as { __pwned?: number }).__pwned ?? null,
    }));
    expect(seen).toMatchObject({ scripts: 0, images: 0, bold: 0, pwned: null });
    expect(seen.text).toContain(HOSTILE_REASON);
    expect(seen.text).toContain(HOSTILE_RESPONSE);
  });

  it('links every bar to its row, and every row names its ledger seq', async () => {
    const links = await opened.page.evaluate(() =>
      [...document.querySelectorAll('svg a')].map((a) => {
        const id = (a.getAttribute('href') ?? '').slice(1);
        return { id, seq: document.getElementById(id)?.querySelector('.seq')?.textContent ?? null };
      }),
    );
    expect(links.length).toBeGreaterThanOrEqual(5);
    for (const link of links) expect(link.seq, link.id).toMatch(/^\d+(, \d+)*$/);
  });

  it('prints report.pdf beside it, listed in SHA256SUMS', () => {
    const pdf = readFileSync(join(root, 'pack', 'report.pdf'));
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(readFileSync(join(root, 'pack', 'SHA256SUMS'), 'utf8')).toMatch(/^[0-9a-f]{64} {2}report\.pdf$/m);
  });

  it('the CLI prints the PDF, and without Chromium on PATH still writes report.html and says why there is no PDF', async () => {
    const env = { ...database.env, ACCESS_CONFIG: ACCESS };
    const args = ['audit-pack', '--from', '2026-03-01', '--to', '2026-03-07'];
    const printed = await runCli([...args, '--out', join(root, 'cli')], env);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toContain(`report.html and report.pdf (printed by ${chromiumPath}`);
    expect(existsSync(join(root, 'cli', 'report.pdf'))).toBe(true);

    const bare = await runCli([...args, '--out', join(root, 'cli')], { ...env, PATH: '/nonexistent' });
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout).toContain('report.html written; report.pdf skipped: no Chromium found on PATH (install it, e.g. `apt-get install chromium`).');
    expect(existsSync(join(root, 'cli', 'report.pdf'))).toBe(false);
    expect(readFileSync(join(root, 'cli', 'README.md'), 'utf8')).toContain('`report.pdf` was not written: no Chromium found on PATH');
  });
});
