import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { startBot, type RunningBot } from '../../src/bot.ts';
import { loadAccessConfig } from '../../src/config/access.ts';
import { readEnv } from '../../src/config/env.ts';
import { createLogger } from '../../src/logger.ts';
import type { Clock } from '../../src/ports.ts';
import { createPostgresDatabase, type DatabaseKind } from './databases.ts';
import { TEST_SIGNING_SECRET } from './slack-requests.ts';
import { startIamServer, type IamTestServer } from './iam-server.ts';
import { startOktaServer, type OktaTestServer } from './okta-server.ts';
import { startSlackServer, type SlackServer, type SlackServerOptions } from './slack-server.ts';

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
}

export interface Harness {
  bot: RunningBot;
  slack: SlackServer;
  okta: OktaTestServer;
  iam: IamTestServer;
  baseUrl: string;
  /** Everything the bot logged, for assertions (secrets must never appear here). */
  logs(): string;
  stop(): Promise<void>;
}

/** The whole bot in this process, on a real database, talking to wire-level Slack. */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const slack = await startSlackServer(options.slack);
  const okta = await startOktaServer();
  const iam = await startIamServer();
  // The AWS SDK's credential chain reads these; the bot itself never reads process.env outside main.ts.
  process.env.AWS_ACCESS_KEY_ID = iam.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = iam.credentials.secretAccessKey;
  const folder = mkdtempSync(join(tmpdir(), 'breakglass-e2e-'));
  const postgres = options.database === 'postgres' ? await createPostgresDatabase() : undefined;
  const env = readEnv({
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    PORT: '0',
    DATA_DIR: join(folder, 'data'),
    LOG_LEVEL: 'debug',
    ...(postgres ? { DATABASE_URL: postgres.url } : {}),
    ...(options.providers === false ? {} : { OKTA_ORG_URL: okta.url, OKTA_API_TOKEN: okta.token, AWS_ENDPOINT_URL_IAM: iam.url, AWS_ENDPOINT_URL_STS: iam.url }),
    ...options.env,
  });
  let access;
  if (options.accessYml !== undefined) {
    const path = join(folder, 'access.yml');
    writeFileSync(path, options.accessYml);
    access = loadAccessConfig(path);
  }
  const logStream = new PassThrough();
  let logText = '';
  logStream.on('data', (chunk: Buffer) => (logText += chunk.toString()));
  const bot = await startBot({ env, access, logger: createLogger('debug', logStream), tickMs: options.tickMs ?? 100, ...(options.clock ? { clock: options.clock } : {}) });
  return {
    bot,
    slack,
    okta,
    iam,
    baseUrl: `http://127.0.0.1:${bot.port}`,
    logs: () => logText,
    stop: async () => {
      await bot.stop();
      await slack.close();
      await okta.close();
      await iam.close();
      await postgres?.drop();
    },
  };
}
