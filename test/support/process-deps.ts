import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppDeps } from '../../src/app/deps.ts';
import { loadAccessConfig } from '../../src/config/access.ts';
import { Ledger } from '../../src/evidence/ledger.ts';
import { createLogger } from '../../src/logger.ts';
import type { AccessProvider, Clock } from '../../src/ports.ts';
import type { Harness } from './harness.ts';

/**
 * What the use cases of another process on the harness's database would get: a replica with its
 * own clock, or a process about to die, whose provider never answers (what the database sees of a
 * crash mid-call). It sends no Slack messages itself; the harness's bot delivers what it queues.
 */
export function otherProcessDeps(h: Harness, input: { accessYml: string; clock: Clock; provider: Partial<AccessProvider> }): AppDeps {
  const folder = mkdtempSync(join(tmpdir(), 'breakglass-other-process-'));
  writeFileSync(join(folder, 'access.yml'), input.accessYml);
  const never = () => new Promise<void>(() => {});
  const provider: AccessProvider = { name: 'other-process', supports: () => true, grant: never, revoke: never, listAccess: async () => [], ...input.provider };
  return {
    db: h.bot.database.db,
    ledger: new Ledger(input.clock),
    clock: input.clock,
    access: loadAccessConfig(join(folder, 'access.yml')),
    providers: { forTarget: () => provider },
    directory: { user: async () => undefined, usergroupMembers: async () => [], userByEmail: async () => undefined },
    logger: createLogger('silent'),
    wake: { grants: () => {}, outbox: () => {} },
  };
}
