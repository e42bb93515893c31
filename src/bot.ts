import { sql } from 'drizzle-orm';
import { recordConfigLoaded } from './app/record-config.ts';
import type { LoadedAccessConfig } from './config/access.ts';
import type { Env } from './config/env.ts';
import { openDatabase, type Database } from './db/client.ts';
import { formatDuration } from './domain/duration.ts';
import { Ledger } from './evidence/ledger.ts';
import { InFlight } from './in-flight.ts';
import type { Logger } from './logger.ts';
import { systemClock, type Clock } from './ports.ts';
import { createSlackApp } from './slack/app.ts';
import { helpText } from './slack/blocks/help.ts';
import { registerCommandListener } from './slack/listeners/command.ts';
import { registerActionListeners } from './slack/listeners/actions.ts';
import { commandHandlers } from './slack/listeners/command-handlers.ts';
import { homePublisher, registerHomeListener } from './slack/listeners/home.ts';
import { OutboxSender } from './slack/outbox-sender.ts';
import { SlackDirectory } from './slack/directory.ts';
import { WorkerLoop } from './workers/loop.ts';
import { providersFromEnv } from './providers/from-env.ts';
import type { AppDeps } from './app/deps.ts';
import { expireRequests } from './app/expire-requests.ts';
import { recoverGrants } from './app/recover-grants.ts';
import { revokeDueGrants } from './app/revoke-due-grants.ts';
import { escalateUnreviewedEmergencies } from './app/escalate-emergency.ts';

export interface BotOptions {
  env: Env;
  /** How often the workers look at the database without being woken (default 1 s). */
  tickMs?: number;
  /** Undefined when no access.yml exists yet: the bot runs and says so to whoever asks. */
  access: LoadedAccessConfig | undefined;
  logger: Logger;
  clock?: Clock;
}

export interface RunningBot {
  port: number;
  database: Database;
  stop(): Promise<void>;
}

/** Wires the adapters and use cases and starts serving. Reads nothing from process.env. */
export async function startBot(options: BotOptions): Promise<RunningBot> {
  const { env, access, logger } = options;
  const clock = options.clock ?? systemClock;
  const database = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    holder: 'the breakglass bot',
    onNotice: (message) => logger.debug({ notice: message }, 'postgres notice'),
  });
  logger.info({ database: database.kind, location: database.location }, 'database ready');
  const ledger = new Ledger(clock);

  if (access) {
    const changed = await recordConfigLoaded(database.db, ledger, { hash: access.hash, path: access.path, resources: Object.keys(access.config.resources) });
    logger.info({ config: access.path, hash: access.hash, recorded: changed }, 'access policy loaded');
  } else {
    logger.warn('no access.yml found: nothing can be requested until one exists (copy access.example.yml to access.yml)');
  }

  const providers = await providersFromEnv(env, access?.config, logger);
  const inFlight = new InFlight();
  const slack = createSlackApp({
    botToken: env.SLACK_BOT_TOKEN,
    signingSecret: env.SLACK_SIGNING_SECRET,
    appToken: env.SLACK_APP_TOKEN,
    slackApiUrl: env.SLACK_API_URL,
    port: env.PORT,
    logger,
    healthCheck: async () => {
      await database.db.execute(sql`select 1`);
      return true;
    },
  });

  const resources = Object.entries(access?.config.resources ?? {}).map(([name, r]) => ({
    name,
    description: r.description,
    maxDuration: formatDuration(r.max_duration),
    emergency: r.emergency_self_grant,
  }));
  const tickMs = options.tickMs ?? 1_000;
  const loops: WorkerLoop[] = [];
  if (access) {
    const wake = { grants: () => grantLoop.wake(), outbox: () => outboxLoop.wake() };
    const deps: AppDeps = { db: database.db, ledger, clock, access, providers: providers.registry, directory: new SlackDirectory(slack.client), logger, wake };
    const sender = new OutboxSender(deps, slack.client);
    const outboxLoop = new WorkerLoop('outbox', tickMs, async () => {
      while ((await sender.sendDue()) > 0);
    }, logger);
    const grantLoop = new WorkerLoop('grants', tickMs, async () => {
      await expireRequests(deps);
      await recoverGrants(deps);
      while ((await revokeDueGrants(deps)) > 0);
      await escalateUnreviewedEmergencies(deps);
    }, logger);
    loops.push(outboxLoop, grantLoop);
    const publishHome = homePublisher(deps, slack.client);
    registerCommandListener(slack.app, { help: () => helpText({ resources }), handlers: commandHandlers(deps), logger, track: inFlight.track });
    registerActionListeners(slack.app, deps, { track: inFlight.track, refreshHome: publishHome });
    registerHomeListener(slack.app, deps, publishHome);
  } else {
    registerCommandListener(slack.app, { help: () => helpText({ resources }), handlers: {}, logger, track: inFlight.track });
  }
  slack.app.error(async (error) => {
    logger.error({ err: error }, 'unhandled error in a Slack listener');
  });

  const { port } = await slack.start();
  logger.info({ port, mode: env.SLACK_APP_TOKEN ? 'socket' : 'http' }, 'breakglass is listening');
  for (const loop of loops) loop.start();

  return {
    port,
    database,
    async stop() {
      await slack.stop();
      await inFlight.drain(10_000);
      await Promise.all(loops.map((loop) => loop.stop()));
      providers.close();
      await database.close();
    },
  };
}
