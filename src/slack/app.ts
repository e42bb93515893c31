import type { AddressInfo, Server } from 'node:net';
import { App, HTTPReceiver, type Authorize, type CustomRoute, type Logger as BoltLogger } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import type { Logger } from '../logger.ts';
import { boltLogger } from './bolt-logger.ts';

export interface SlackAppOptions {
  botToken: string;
  signingSecret?: string | undefined;
  /** Socket Mode when given; HTTP mode (POST /slack/events) otherwise. */
  appToken?: string | undefined;
  /** Web API base, e.g. https://slack.com/api/ (GovSlack and tests point elsewhere). */
  slackApiUrl?: string | undefined;
  port: number;
  logger: Logger;
  /** GET /healthz answers 200 when this resolves true, 503 otherwise. */
  healthCheck: () => Promise<boolean>;
}

export interface SlackApp {
  app: App;
  /** For the bot's own calls (workers, notifications): carries the bot token. */
  client: WebClient;
  start(): Promise<{ port: number }>;
  stop(): Promise<void>;
}

/**
 * The Bolt app, built so that booting needs no network: the bot's identity is learned from
 * auth.test in the background and cached, so a Slack outage at start is logged, not fatal.
 */
export function createSlackApp(options: SlackAppOptions): SlackApp {
  const logger = boltLogger(options.logger);
  const clientOptions = options.slackApiUrl ? { slackApiUrl: withApiSuffix(options.slackApiUrl) } : {};
  const client = new WebClient(options.botToken, { ...clientOptions, logger, retryConfig: { retries: 3 } });
  const identity = new BotIdentity(client, options.logger);

  const customRoutes: CustomRoute[] = [
    {
      path: '/healthz',
      method: ['GET'],
      handler: (_req, res) => {
        options.healthCheck().then(
          (healthy) => answer(res, healthy ? 200 : 503, { ok: healthy }),
          () => answer(res, 503, { ok: false }),
        );
      },
    },
  ];

  const authorize: Authorize<boolean> = async () => ({ botToken: options.botToken, ...(await identity.get()) });

  const app = options.appToken
    ? new App({ socketMode: true, appToken: options.appToken, authorize, clientOptions, logger, customRoutes, installerOptions: { port: options.port } })
    : new App({ receiver: httpReceiver(options.signingSecret ?? '', customRoutes, logger), authorize, clientOptions, logger });

  return {
    app,
    client,
    async start() {
      identity.learnInBackground();
      const started = (await app.start(options.port)) as unknown;
      const port = isServer(started) ? (started.address() as AddressInfo).port : options.port;
      return { port };
    },
    async stop() {
      await app.stop();
    },
  };
}

/** The bot's own ids from auth.test: only used so Bolt can ignore the bot's own events. */
class BotIdentity {
  private known: { botId?: string; botUserId?: string } | undefined;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly client: WebClient,
    private readonly logger: Logger,
  ) {}

  async get(): Promise<{ botId?: string; botUserId?: string }> {
    if (this.known) return this.known;
    this.learnInBackground();
    return {};
  }

  learnInBackground(): void {
    if (this.known || this.pending) return;
    this.pending = this.client.auth
      .test()
      .then((result) => {
        this.known = { ...(result.bot_id ? { botId: result.bot_id } : {}), ...(result.user_id ? { botUserId: result.user_id } : {}) };
        this.logger.info({ team: result.team, botUserId: result.user_id }, 'connected to Slack');
      })
      .catch((error: unknown) => {
        const code = (error as { data?: { error?: string } }).data?.error;
        this.logger.error(
          { err: code ?? (error as Error).message },
          code === 'invalid_auth' || code === 'not_authed' || code === 'account_inactive' || code === 'token_revoked'
            ? 'Slack refused SLACK_BOT_TOKEN: check the bot token (OAuth & Permissions → Bot User OAuth Token)'
            : 'Slack is unreachable; breakglass keeps running and will try again on the next request',
        );
      })
      .finally(() => {
        this.pending = undefined;
      });
  }
}

/** Slack requests are accepted only within five minutes of their timestamp, either side. */
const MAX_SKEW_SECONDS = 300;

/**
 * Bolt refuses stale timestamps but accepts any from the future, which would let a captured
 * request dated ahead be replayed for as long as that date is away; this refuses those too.
 */
function httpReceiver(signingSecret: string, customRoutes: CustomRoute[], logger: BoltLogger): HTTPReceiver {
  const receiver = new HTTPReceiver({ signingSecret, customRoutes, logger });
  const verified = receiver.requestListener;
  receiver.requestListener = (req, res) => {
    const stamp = Number(req.headers['x-slack-request-timestamp']);
    if (Number.isFinite(stamp) && stamp - Date.now() / 1000 > MAX_SKEW_SECONDS) {
      logger.warn('refused a Slack request dated in the future');
      res.writeHead(401).end();
      return;
    }
    verified(req, res);
  };
  return receiver;
}

function withApiSuffix(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function isServer(value: unknown): value is Server {
  return typeof value === 'object' && value !== null && typeof (value as Server).address === 'function';
}

function answer(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
