import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { createPostgresDatabase, postgresAvailable } from './databases.ts';
import { seedPgliteDataDir } from './templates.ts';

/** A database the real CLI can open from another process: a PGlite folder, or a PostgreSQL database. */
export interface CliDatabase {
  /** The environment that points the CLI at it. */
  env: Record<string, string>;
  /** Opens it in this process (on PGlite, close it before running the CLI: one process at a time). */
  open(): Promise<Database>;
  cleanup(): Promise<void>;
}

export const cliDatabaseVariants: Array<{ kind: 'pglite' | 'postgres'; skip: boolean; setup(): Promise<CliDatabase> }> = [
  {
    kind: 'pglite',
    skip: false,
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'breakglass-cli-'));
      // Already migrated, as a bot would have left it.
      await seedPgliteDataDir(dir);
      return {
        env: { DATA_DIR: dir },
        open: () => openDatabase({ dataDir: dir, holder: 'test' }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    kind: 'postgres',
    skip: !postgresAvailable,
    async setup() {
      const created = await createPostgresDatabase({ migrated: true });
      return {
        env: { DATABASE_URL: created.url },
        open: () => openDatabase({ databaseUrl: created.url, dataDir: '', holder: 'test', onNotice: () => {} }),
        cleanup: created.drop,
      };
    },
  },
];

/**
 * A variant's suite, run side by side with the other variants' (declared the same way) while its
 * own tests still run in order: the CLI runs in child processes, so two at a time keep both cores
 * busy where one after the other left one idle. Variants share nothing: each has its own database,
 * folders and keys.
 */
export function describeSideBySide(variant: { skip: boolean }, title: string, suite: () => void): void {
  describe.skipIf(variant.skip)(title, { concurrent: true }, () => {
    describe.sequential('in order', suite);
  });
}
