import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { startBot, type RunningBot } from '../../src/bot.ts';
import { loadAccessConfig, type LoadedAccessConfig } from '../../src/config/access.ts';
import { readEnv } from '../../src/config/env.ts';
import { createLogger } from '../../src/logger.ts';
import type { Clock } from '../../src/ports.ts';
import { createPostgresDatabase, type DatabaseKind } from './databases.ts';
import { seedPgliteDataDir } from './templates.ts';
import { TEST_SIGNING_SECRET } from './slack-requests.ts';
import { startIamServer, type IamTestServer } from './iam-server.ts';
import { startOktaServer, type OktaTestServer } from './okta-server.ts';
import { startSlackServer, type SlackServer, type SlackServerOptions } from './slack-server.ts';
import { SocketModeLink } from './slack-socket-mode.ts';

export interface HarnessOptions {
  database: DatabaseKind;
  /** Start wire-level Okta and IAM servers and point the bot at them (default true). */
  providers?: boolean;
  tickMs?: number;
  /** access.yml text; none means the bot runs with no policy. */
  accessYml?: string;
  slack?: SlackServerOptions;
  clock?: Clock;
  env?: Record<string, string>;
  /** The bot's log level (default debug, so tests can read everything; benchmarks use the production default, info). */
  logLevel?: 'debug' | 'info';
  /** Run the bot in Socket Mode (SLACK_APP_TOKEN) against the fake Slack's WebSocket. */
  socketMode?: boolean;
  /** The bot's DATABASE_URL, given the test database's: e.g. routed through a proxy a test can cut. */
  routeDatabase?: (url: string) => string;
  /** How often each bot looks for a policy version another replica recorded (the bot's default is 30 s). */
  policyPollMs?: number;
  /** An Okta Verify step-up's polling and give-up (the bot's default: every 2 s, for 60 s). */
  stepUp?: { pollMs: number; timeoutMs: number };
}

export interface Harness {
  bot: RunningBot;
  slack: SlackServer;
  okta: OktaTestServer;
  iam: IamTestServer;
  /** The Socket Mode link, when started with `socketMode: true`. */
  socket: SocketModeLink | undefined;
  baseUrl: string;
  /** The bot's DATA_DIR (the embedded database, and a generated ledger signing key). */
  dataDir: string;
  /** The access.yml the bot watches: rewrite it to change the policy while the bot runs. */
  accessPath: string;
  /** Everything the bot logged, for assertions (secrets must never appear here). */
  logs(): string;
  /**
   * Stops the bot and starts a new one on the same database and servers, as after a restart.
   * `whileStopped` runs in between (e.g. to move a fake clock while no process is running);
   * `accessYml` replaces access.yml for the new process, as an operator editing it would.
   */
  restart(whileStopped?: () => unknown, options?: { accessYml?: string }): Promise<void>;
  /** Stops the bot for the rest of the test, leaving the servers and the database to look at (stop() then skips it). */
  stopBot(): Promise<void>;
  /**
   * A second bot process on the same database (Postgres only): a replica. Stopped with the harness.
   * With `ownAccessFile`, it reads a copy of access.yml in its own folder (returned as accessPath), as on another host.
   */
  replica(options?: { ownAccessFile?: boolean }): Promise<RunningBot & { accessPath: string }>;
  stop(): Promise<void>;
}

/** The whole bot in this process, on a real database, talking to wire-level Slack. */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const slack = await startSlackServer(options.slack);
  const socket = options.socketMode ? new SocketModeLink(slack) : undefined;
  const okta = await startOktaServer();
  const iam = await startIamServer();
  // The AWS SDK's credential chain reads these; the bot itself never reads process.env outside main.ts.
  process.env.AWS_ACCESS_KEY_ID = iam.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = iam.credentials.secretAccessKey;
  const folder = mkdtempSync(join(tmpdir(), 'breakglass-e2e-'));
  // The database breakglass already migrated once (what a restart finds): initdb and the
  // migrations are the same for every test and were checked when the template was built.
  const postgres = options.database === 'postgres' ? await createPostgresDatabase({ migrated: true }) : undefined;
  if (!postgres) await seedPgliteDataDir(join(folder, 'data'));
  const env = readEnv({
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    PORT: '0',
    DATA_DIR: join(folder, 'data'),
    LOG_LEVEL: options.logLevel ?? 'debug',
    ...(postgres ? { DATABASE_URL: options.routeDatabase?.(postgres.url) ?? postgres.url } : {}),
    ...(options.providers === false ? {} : { OKTA_ORG_URL: okta.url, OKTA_API_TOKEN: okta.token, AWS_ENDPOINT_URL_IAM: iam.url, AWS_ENDPOINT_URL_STS: iam.url }),
    ...(socket ? { SLACK_APP_TOKEN: socket.appToken } : {}),
    ...options.env,
  });
  const accessPath = join(folder, 'access.yml');
  const writeAccess = (yml: string | undefined, path = accessPath): LoadedAccessConfig | undefined => {
    if (yml === undefined) return undefined;
    writeFileSync(path, yml);
    return loadAccessConfig(path);
  };
  let access = writeAccess(options.accessYml);
  const logStream = new PassThrough();
  let logText = '';
  logStream.on('data', (chunk: Buffer) => (logText += chunk.toString()));
  const boot = (envOverride: Partial<typeof env> = {}, accessOverride = access) =>
    startBot({
      env: { ...env, ...envOverride },
      access: accessOverride,
      logger: createLogger(options.logLevel ?? 'debug', logStream),
      tickMs: options.tickMs ?? 100,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.policyPollMs ? { policyPollMs: options.policyPollMs } : {}),
      ...(options.stepUp ? { stepUp: options.stepUp } : {}),
    });
  const replicas: RunningBot[] = [];
  let botRunning = true;
  const harness: Harness = {
    bot: await boot(),
    slack,
    okta,
    iam,
    socket,
    baseUrl: '',
    dataDir: env.DATA_DIR,
    accessPath,
    logs: () => logText,
    restart: async (whileStopped, restartOptions = {}) => {
      await harness.stopBot();
      await whileStopped?.();
      // A new process reads access.yml as it is now, including edits made while the bot ran.
      access = restartOptions.accessYml !== undefined ? writeAccess(restartOptions.accessYml) : access && loadAccessConfig(accessPath);
      harness.bot = await boot();
      botRunning = true;
      harness.baseUrl = `http://127.0.0.1:${harness.bot.port}`;
    },
    stopBot: async () => {
      if (!botRunning) return;
      botRunning = false;
      await harness.bot.stop();
    },
    replica: async (replicaOptions = {}) => {
      if (!postgres) throw new Error('replicas need PostgreSQL: PGlite allows one process');
      const ownPath = join(mkdtempSync(join(tmpdir(), 'breakglass-replica-')), 'access.yml');
      const replicaAccess = replicaOptions.ownAccessFile && access ? writeAccess(access.text, ownPath) : access;
      const replica = await boot({ PORT: 0 }, replicaAccess);
      replicas.push(replica);
      return Object.assign(replica, { accessPath: replicaAccess?.path ?? accessPath });
    },
    stop: async () => {
      for (const replica of replicas) await replica.stop();
      await harness.stopBot();
      socket?.close();
      await slack.close();
      await okta.close();
      await iam.close();
      await postgres?.drop();
      // The embedded database's folder is about 40 MB: a full run left 4 GB of them in the temp folder.
      rmSync(folder, { recursive: true, force: true });
    },
  };
  harness.baseUrl = `http://127.0.0.1:${harness.bot.port}`;
  return harness;
}
