import { existsSync } from 'node:fs';
import { startBot } from './bot.ts';
import { AccessConfigError, loadAccessConfig, type LoadedAccessConfig } from './config/access.ts';
import { EnvError, readEnv } from './config/env.ts';
import { DatabaseSetupError } from './db/client.ts';
import { DataDirBusyError } from './db/data-dir-lock.ts';
import { createLogger } from './logger.ts';
import { SigningKeyError } from './ledger/signing-key.ts';
import { ProviderSetupError } from './providers/from-env.ts';

const DEFAULT_ACCESS_CONFIG = './access.yml';

async function main(): Promise<void> {
  const env = readEnv(process.env);
  const logger = createLogger(env.LOG_LEVEL);
  // An explicitly named file must exist; the default may be absent on a first run.
  const accessPath = env.ACCESS_CONFIG ?? DEFAULT_ACCESS_CONFIG;
  const access: LoadedAccessConfig | undefined = env.ACCESS_CONFIG || existsSync(accessPath) ? loadAccessConfig(accessPath) : undefined;
  // Carrying on without the database would answer people and record nothing: exit, for the supervisor to restart.
  const bot = await startBot({ env, access, logger, onDatabaseLost: () => process.exit(1) });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing work in progress');
    bot.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // Reload access.yml now (it is also watched); an invalid one is refused and the old policy stays.
  process.on('SIGHUP', () => {
    bot.reloadPolicy('SIGHUP').catch((error: unknown) => logger.error({ err: error }, 'reloading access.yml failed; the policy in force stays'));
  });
}

main().catch((error: unknown) => {
  const known = error instanceof EnvError || error instanceof AccessConfigError || error instanceof DataDirBusyError || error instanceof DatabaseSetupError || error instanceof ProviderSetupError || error instanceof SigningKeyError;
  console.error(known ? `breakglass cannot start.\n${(error as Error).message}` : error);
  process.exit(1);
});
