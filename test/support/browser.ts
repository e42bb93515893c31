import { pathToFileURL } from 'node:url';
import { findChromium } from '../../src/reports/pack/report-pdf.ts';

/**
 * A real browser for the tests: Debian's `chromium` driven by playwright-core. Without either, the
 * browser tests are skipped with a notice (a newcomer's `npm test` still passes); with CI=true
 * that is an error, as for PostgreSQL (test/support/databases.ts). `.ci/run` installs chromium.
 */

export interface BrowserPage {
  goto(url: string, options?: { waitUntil?: 'load' }): Promise<unknown>;
  evaluate<T>(fn: () => T): Promise<T>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
  on(event: 'request', listener: (request: { url(): string }) => void): void;
  on(event: 'dialog', listener: (dialog: { message(): string; dismiss(): Promise<void> }) => void): void;
}

interface Browser {
  newPage(): Promise<BrowserPage>;
  close(): Promise<void>;
}

interface PlaywrightCore {
  chromium: { launch(options: { executablePath: string; args: string[] }): Promise<Browser> };
}

async function loadPlaywright(): Promise<PlaywrightCore | null> {
  // A variable name, so the type-check does not need the package's types to be installed.
  const name = 'playwright-core';
  try {
    return (await import(name)) as PlaywrightCore;
  } catch {
    return null;
  }
}

export const chromiumPath = findChromium(process.env.PATH);
const playwright = await loadPlaywright();
const missing = [chromiumPath ? null : 'Chromium (`apt-get install chromium`)', playwright ? null : 'playwright-core (a devDependency: `npm ci`)'].filter(Boolean);
export const browserAvailable = missing.length === 0;
if (!browserAvailable) {
  if (process.env.CI === 'true') throw new Error(`CI=true but the browser tests cannot run: ${missing.join(' and ')} not found`);
  console.warn(`\n*** ${missing.join(' and ')} not found: the browser tests of report.html are SKIPPED.\n*** Install them to run them.\n`);
}

export interface OpenedPage {
  page: BrowserPage;
  /** Console errors and uncaught page errors, in order. */
  errors: string[];
  /** Every URL the page asked for besides its own file. */
  requests: string[];
  /** Any alert/confirm/prompt a script raised (there must be none). */
  dialogs: string[];
  close(): Promise<void>;
}

/** Opens a file from disk in headless Chromium, recording errors, requests and dialogs. */
export async function openFile(path: string): Promise<OpenedPage> {
  const browser = await playwright!.chromium.launch({
    executablePath: chromiumPath!,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
  });
  const page = await browser.newPage();
  const opened: OpenedPage = { page, errors: [], requests: [], dialogs: [], close: () => browser.close() };
  const own = pathToFileURL(path).href;
  page.on('console', (message) => {
    if (message.type() === 'error') opened.errors.push(message.text());
  });
  page.on('pageerror', (error) => opened.errors.push(error.message));
  page.on('request', (request) => {
    if (request.url() !== own) opened.requests.push(request.url());
  });
  page.on('dialog', (dialog) => {
    opened.dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(own, { waitUntil: 'load' });
  return opened;
}
