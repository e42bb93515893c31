/**
 * The rings of the design (README, Design): the domain knows no SDK or database; use cases, the
 * domain and the evidence never speak Slack; the ledger stands alone under the reports read from it.
 * A new import across a line fails here with its file, rather than in a review.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Each import of a folder's files, as `src/`-relative paths for our own modules or package names. */
function importsOf(folder: string): Array<{ file: string; target: string }> {
  return tsFiles(join(SRC, folder)).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map(([, spec]) => ({
      file: relative(SRC, file),
      target: spec!.startsWith('.') ? relative(SRC, resolve(dirname(file), spec!)) : spec!,
    })),
  );
}

function crossings(folders: string[], forbidden: RegExp): string[] {
  return folders.flatMap((folder) => importsOf(folder).filter(({ target }) => forbidden.test(target)).map(({ file, target }) => `${file} → ${target}`));
}

it('keeps the domain pure: no Slack, database, provider SDK, or outer ring', () => {
  expect(crossings(['domain'], /^(@slack|@okta|@aws-sdk|drizzle-orm|postgres|@electric-sql)|^(app|db|slack|providers|reports|ledger|cli|workers)\//)).toEqual([]);
});

it('keeps Slack out of the use cases, the domain, the ledger and the reports', () => {
  expect(crossings(['app', 'domain', 'ledger', 'reports'], /^@slack|^slack\//)).toEqual([]);
});

it('keeps the ledger apart from the reports and the use cases, and the reports apart from the use cases', () => {
  expect(crossings(['ledger'], /^(reports|app|cli|workers)\//)).toEqual([]);
  expect(crossings(['reports'], /^(app|cli|workers)\//)).toEqual([]);
});
