import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppDeps } from '../../src/app/deps.ts';
import { loadAccessConfig } from '../../src/config/access.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { createLogger } from '../../src/logger.ts';
import type { Db } from '../../src/db/client.ts';
import type { AccessProvider, ChatDirectory, Clock } from '../../src/ports.ts';
import type { Harness } from './harness.ts';

/**
 * What the use cases of another process on the harness's database would get: a replica with its
 * own clock, or a process about to die, whose provider never answers (what the database sees of a
 * crash mid-call). It sends no Slack messages itself; the harness's bot delivers what it queues.
 */
export function otherProcessDeps(h: Harness, input: { accessYml: string; clock: Clock; provider: Partial<AccessProvider> }): AppDeps {
  const never = () => new Promise<void>(() => {});
  const provider: AccessProvider = { name: 'other-process', supports: () => true, grant: never, revoke: never, listAccess: async () => [], ...input.provider };
  return useCaseDeps(h.bot.database.db, { ...input, provider });
}

/**
 * What a use case gets when a test calls it in its own process: the access.yml text loaded as the
 * bot loads its file, one provider for every resource, a Slack directory that knows nobody unless
 * one is given, and no Slack messages sent.
 */
export function useCaseDeps(db: Db, input: { accessYml: string; clock: Clock; provider: AccessProvider; directory?: ChatDirectory }): AppDeps {
  const folder = mkdtempSync(join(tmpdir(), 'breakglass-use-case-'));
  writeFileSync(join(folder, 'access.yml'), input.accessYml);
  return {
    db,
    ledger: new Ledger(input.clock),
    clock: input.clock,
    access: loadAccessConfig(join(folder, 'access.yml')),
    providers: { forTarget: () => input.provider },
    directory: input.directory ?? { user: async () => undefined, usergroupMembers: async () => [], userByEmail: async () => undefined, channelMembers: async () => [], channel: async () => ({ found: false }) },
    logger: createLogger('silent'),
    wake: { grants: () => {}, outbox: () => {} },
  };
}
