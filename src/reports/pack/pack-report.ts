import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gatherReport, type ReportInput } from './report-data.ts';
import { renderReportHtml } from './report-html.ts';
import type { PdfOutcome, PdfPrinter } from './report-pdf.ts';

export const REPORT_FILES = [
  {
    file: 'report.html',
    criteria: ['CC6.1', 'CC6.2', 'CC6.3', 'CC7.2', 'CC7.3', 'CC8.1'],
    checks: 'The report to read first (one self-contained file; open it in a browser, offline, or print it): the period and scope, the population counts, a section per control with its population, exceptions and files, the exceptions with management’s responses, who held access when (a timeline per resource, coloured by basis), review completion, offboarding time against the SLA and revoke lateness; every figure links to its rows, every row names its ledger events.',
  },
  {
    file: 'report.pdf',
    criteria: ['CC6.1', 'CC6.2', 'CC6.3', 'CC7.2', 'CC7.3', 'CC8.1'],
    checks: '`report.html` printed by headless Chromium, for tools that take PDF evidence (Drata, Vanta). Written only where Chromium is available and not skipped with `--no-pdf`.',
  },
];

/**
 * report.html in the pack, and report.pdf when a printer is given. A pack written again without
 * the PDF loses the old one: a stale PDF must not sit beside a new report.
 */
export async function writePackReport(outDir: string, input: ReportInput, printer: PdfPrinter | undefined): Promise<PdfOutcome> {
  const htmlPath = join(outDir, 'report.html');
  writeFileSync(htmlPath, renderReportHtml(gatherReport(input)));
  const pdfPath = join(outDir, 'report.pdf');
  if (!printer) {
    rmSync(pdfPath, { force: true });
    return { written: false, why: '--no-pdf was given' };
  }
  const outcome = await printer(htmlPath, pdfPath);
  if (!outcome.written) rmSync(pdfPath, { force: true });
  return outcome;
}
