import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * report.pdf: report.html printed by a headless Chromium (Drata takes PDF evidence, not CSV).
 * Chromium is found on PATH (Debian's `chromium`); the pack does not depend on it: without it the
 * PDF is skipped and the reason returned, for the CLI to say.
 */

export type PdfOutcome = { written: true; how: string } | { written: false; why: string };
export type PdfPrinter = (htmlPath: string, pdfPath: string) => Promise<PdfOutcome>;

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
// Without these Chromium keeps trying to reach the internet (updates, field trials).
const QUIET = ['--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-gpu'];
// A busy quarter (3,000 grants: a 2.8 MB report, ~500 pages) took 100 s to print on 2 busy cores.
const TIMEOUT_MS = 600_000;

/** The first Chromium executable on `pathVariable` (the PATH), or null. */
export function findChromium(pathVariable: string | undefined): string | null {
  for (const dir of (pathVariable ?? '').split(delimiter).filter(Boolean)) {
    for (const name of NAMES) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return null;
}

/** Chromium refuses to start its sandbox as root (containers, CI); elsewhere the sandbox stays on. */
function launchArgs(): string[] {
  return [...QUIET, ...(process.getuid?.() === 0 ? ['--no-sandbox'] : [])];
}

/** A printer using `executable`, through playwright-core when it is installed, else Chromium's own --print-to-pdf. */
export function chromiumPrinter(executable: string | null): PdfPrinter {
  return async (htmlPath, pdfPath) => {
    if (!executable) return { written: false, why: 'no Chromium found on PATH (install it, e.g. `apt-get install chromium`)' };
    rmSync(pdfPath, { force: true });
    const playwright = await loadPlaywright();
    try {
      if (playwright) await printWithPlaywright(playwright, executable, htmlPath, pdfPath);
      else await printWithCli(executable, htmlPath, pdfPath);
    } catch (error) {
      return { written: false, why: `Chromium (${executable}) could not print it: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
    }
    if (!existsSync(pdfPath)) return { written: false, why: `Chromium (${executable}) wrote no PDF` };
    return { written: true, how: `printed by ${executable}${playwright ? ' (playwright-core)' : ''}` };
  };
}

interface PlaywrightCore {
  chromium: {
    launch(options: { executablePath: string; args: string[]; timeout: number }): Promise<{
      newPage(): Promise<{ goto(url: string, options: { waitUntil: 'load'; timeout: number }): Promise<unknown>; pdf(options: Record<string, unknown>): Promise<unknown> }>;
      close(): Promise<void>;
    }>;
  };
}

/** playwright-core when it is installed (it is optional: the CLI print below needs nothing). */
async function loadPlaywright(): Promise<PlaywrightCore | null> {
  const name = 'playwright-core';
  try {
    return (await import(name)) as PlaywrightCore;
  } catch {
    return null;
  }
}

async function printWithPlaywright(playwright: PlaywrightCore, executable: string, htmlPath: string, pdfPath: string): Promise<void> {
  const browser = await playwright.chromium.launch({ executablePath: executable, args: launchArgs(), timeout: TIMEOUT_MS });
  try {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(htmlPath).href, { waitUntil: 'load', timeout: TIMEOUT_MS });
    // The page size and margins are the report's own (@page), as Chromium's --print-to-pdf uses them.
    await page.pdf({ path: pdfPath, printBackground: true, preferCSSPageSize: true });
  } finally {
    await browser.close();
  }
}

function printWithCli(executable: string, htmlPath: string, pdfPath: string): Promise<void> {
  const args = ['--headless', ...launchArgs(), '--no-pdf-header-footer', `--print-to-pdf=${pdfPath}`, pathToFileURL(htmlPath).href];
  return new Promise((resolve, reject) => {
    execFile(executable, args, { timeout: TIMEOUT_MS }, (error) => (error ? reject(error) : resolve()));
  });
}
