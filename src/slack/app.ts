import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { App, defaultBodyLimit, HTTPModuleFunctions, HTTPReceiver, isRawBodyError, isValidSlackRequest, SocketModeReceiver, type Authorize, type CustomRoute, type Logger as BoltLogger, type ReceiverEvent } from '@slack/bolt';
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
  /** The address to listen on; every interface when undefined. */
  host?: string | undefined;
  logger: Logger;
  /** GET /healthz answers 200 when this resolves true within HEALTH_TIMEOUT_MS, 503 otherwise. */
  healthCheck: () => Promise<boolean>;
  /** GET /metrics (Prometheus text) and how long each Slack request waited for its answer. */
  metrics?: { text(): Promise<{ contentType: string; body: string }>; slackAck(seconds: number): void } | undefined;
  /** The shared replay guard: true the first time a delivery (by its key) is seen. */
  firstDelivery: (key: string) => Promise<boolean>;
}

export interface SlackApp {
  app: App;
  /** For the bot's own calls (workers, notifications): carries the bot token. */
  client: WebClient;
  /**
   * For the outbox only: no retries inside a call and a bounded wait, because the outbox retries
   * durably with its own backoff. In-call retries would hold every queued message for seconds
   * during a Slack outage (budgets multiplying) and keep a claimed batch past its lease.
   */
  outboxClient: WebClient;
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
  const outboxClient = new WebClient(options.botToken, { ...clientOptions, logger, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: OUTBOX_CALL_TIMEOUT_MS });
  const identity = new BotIdentity(client, options.logger);

  const customRoutes: CustomRoute[] = [
    {
      path: '/healthz',
      method: ['GET'],
      handler: (_req, res) => {
        withTimeout(options.healthCheck(), HEALTH_TIMEOUT_MS).then(
          (healthy) => answer(res, healthy ? 200 : 503, { ok: healthy }),
          () => answer(res, 503, { ok: false }),
        );
      },
    },
    ...(options.metrics ? [metricsRoute(options.metrics, options.logger)] : []),
  ];

  const authorize: Authorize<boolean> = async () => ({ botToken: options.botToken, ...(await identity.get()) });

  // Socket Mode's own Web API client (apps.connections.open) gets the same SLACK_API_URL, and
  // few retries: SocketConnection keeps trying instead of one call waiting half an hour.
  const socket = options.appToken ? new SocketModeReceiver({ appToken: options.appToken, logger, customRoutes, installerOptions: { port: options.port, clientOptions: { ...clientOptions, retryConfig: { retries: 2 } } } }) : undefined;
  const app = new App({ receiver: socket ?? httpReceiver(options.signingSecret ?? '', customRoutes, logger, options.metrics?.slackAck.bind(options.metrics)), authorize, clientOptions, logger });
  acknowledgeUnhandled(app, options.logger, options.firstDelivery);
  const connection = socket ? new SocketConnection(socket, options.logger) : undefined;

  return {
    app,
    client,
    outboxClient,
    async start() {
      identity.learnInBackground();
      if (socket && connection) return { port: await connection.start(options.host) };
      const started = (await app.start(options.host === undefined ? options.port : { port: options.port, host: options.host })) as unknown;
      const port = isServer(started) ? (started.address() as AddressInfo).port : options.port;
      return { port };
    },
    async stop() {
      connection?.stop();
      await app.stop();
    },
  };
}

/** Slack's answers to apps.connections.open that no retry will change: the app token is wrong. */
const REFUSED_APP_TOKEN = new Set(['invalid_auth', 'not_authed', 'not_allowed_token_type', 'token_revoked', 'account_inactive', 'missing_scope']);
const RECONNECT_MS = 30_000;

/**
 * Socket Mode without making the bot wait for Slack: `start` resolves once /healthz listens, and
 * the WebSocket is opened in the background, again and again while Slack is unreachable, so
 * expiry and revocation never wait on Slack. A refused app token is said plainly, not thrown.
 */
class SocketConnection {
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly receiver: SocketModeReceiver,
    private readonly logger: Logger,
  ) {}

  async start(host: string | undefined): Promise<number> {
    const server = (this.receiver as unknown as { httpServer: Server }).httpServer;
    const port = (this.receiver as unknown as { httpServerPort: number }).httpServerPort;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host }, () => resolve());
    });
    this.connect();
    return (server.address() as AddressInfo).port;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }

  private connect(): void {
    this.receiver.client.start().then(
      () => this.logger.info('connected to Slack over Socket Mode'),
      (error: unknown) => {
        if (this.stopped) return;
        const code = (error as { data?: { error?: string } }).data?.error;
        if (code && REFUSED_APP_TOKEN.has(code)) {
          this.logger.error({ err: code }, 'Slack refused SLACK_APP_TOKEN: use an app-level token (xapp-…) with the connections:write scope (Basic Information → App-Level Tokens); breakglass keeps revoking expired access meanwhile');
          return;
        }
        this.logger.error({ err: code ?? (error as Error).message, retryInMs: RECONNECT_MS }, 'cannot connect to Slack over Socket Mode; trying again');
        this.retry = setTimeout(() => this.connect(), RECONNECT_MS);
        this.retry.unref();
      },
    );
  }
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

/**
 * A health check that has not answered by then counts as failed: a probe must get its 503 while the
 * database is unreachable, not hang until the driver's connect timeout.
 */
const HEALTH_TIMEOUT_MS = 2_000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The replay check waits at most this long for the database, within Slack's three seconds. */
const REPLAY_CHECK_TIMEOUT_MS = 1_000;

/** One Slack call from the outbox gives up after this; the message is retried later. */
const OUTBOX_CALL_TIMEOUT_MS = 10_000;

/** Slack requests are accepted only within five minutes of their timestamp, either side. */
const MAX_SKEW_SECONDS = 300;

/**
 * Bolt refuses stale timestamps but accepts any from the future, which would let a captured
 * request dated ahead be replayed for as long as that date is away; this refuses those too.
 */
function httpReceiver(signingSecret: string, customRoutes: CustomRoute[], logger: BoltLogger, onAnswered?: (seconds: number) => void): HTTPReceiver {
  const receiver = new HTTPReceiver({
    signingSecret,
    customRoutes,
    logger,
    // Read only after Bolt verified the signature, so a forged request can never mark a real one as seen.
    customPropertiesExtractor: (req) => ({ [SIGNATURE_PROPERTY]: req.headers['x-slack-signature'] }),
  });
  const verified = receiver.requestListener;
  receiver.requestListener = (req, res) => {
    if (onAnswered && req.method === 'POST') {
      const arrived = performance.now();
      res.once('finish', () => onAnswered((performance.now() - arrived) / 1000));
    }
    const stamp = Number(req.headers['x-slack-request-timestamp']);
    if (Number.isFinite(stamp) && stamp - Date.now() / 1000 > MAX_SKEW_SECONDS) {
      logger.warn('refused a Slack request dated in the future');
      res.writeHead(401).end();
      return;
    }
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/slack/events') {
      verified(req, res);
      return;
    }
    if (Number(req.headers['content-length']) > defaultBodyLimit) {
      refuseBody(req, res, 413);
      return;
    }
    // Bolt reads a property of the parsed body outside any error handler: a signed body of JSON
    // `null` (or `payload=null`) threw an unhandled rejection there and took the process down.
    // The body is buffered here first (Bolt reuses the buffer) so that one case is answered here.
    HTTPModuleFunctions.bufferIncomingMessage(req, defaultBodyLimit).then(
      (buffered) => {
        const body = buffered.rawBody.toString();
        if (!parsesToNull(body, req.headers['content-type'])) {
          verified(req, res);
          return;
        }
        const signature = String(req.headers['x-slack-signature'] ?? '');
        const valid = isValidSlackRequest({ signingSecret, body, headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': stamp } });
        res.writeHead(valid ? 200 : 401).end();
      },
      (error: unknown) => refuseBody(req, res, isRawBodyError(error) && error.statusCode === 413 ? 413 : 400),
    );
  };
  return receiver;
}

/** A refused body is still read (and dropped) for at most this long, so the sender sees the answer. */
const DRAIN_MS = 10_000;

/**
 * Answers without reading the body, then reads and drops the rest of it: a body left unread made
 * the sender stall until the keep-alive timeout reset the connection (6 s) instead of seeing 413.
 */
function refuseBody(req: IncomingMessage, res: ServerResponse, status: 400 | 413): void {
  res.writeHead(status).end();
  req.resume();
  setTimeout(() => {
    if (!req.complete) req.destroy();
  }, DRAIN_MS).unref();
}

/** Carries a verified request's signature from the receiver to acknowledgeUnhandled (HTTP mode only). */
const SIGNATURE_PROPERTY = 'slackRequestSignature';

/** Whether Bolt would parse this body to `null` (JSON, or a form whose payload is JSON). */
function parsesToNull(body: string, contentType: string | undefined): boolean {
  try {
    const json = contentType === 'application/x-www-form-urlencoded' ? new URLSearchParams(body).get('payload') : body;
    return json !== null && JSON.parse(json) === null;
  } catch {
    return false;
  }
}

/**
 * Every signed request gets its 200. One that no listener acknowledged (a payload type or view
 * nobody registered, a listener failing before its ack) is acknowledged empty as soon as Bolt is
 * done, instead of Bolt's 404 three seconds later; one Bolt itself cannot read (e.g. a payload
 * without `user` or `team`) is logged and acknowledged, instead of answered with a 500.
 * The very same signed bytes arriving again (a captured request replayed inside the signature's
 * five-minute window, to this replica or another, before or after a restart) are acknowledged and
 * ignored: a replayed slash command made a new request. Known by the signature over HTTP; in Socket
 * Mode (no signature, an authenticated connection) by the payload's digest, so a redelivered click
 * counts once. Should the database not answer within a second, the delivery is processed (it can
 * change nothing then), so Slack still gets its acknowledgement within three seconds.
 * A slash command is handed to its listener before the database has answered (see firstDeliveryOf):
 * its empty ack then waits on nothing, not on a queue of other requests' transactions.
 */
function acknowledgeUnhandled(app: App, logger: Logger, firstDelivery: (key: string) => Promise<boolean>): void {
  const processEvent = app.processEvent.bind(app);
  app.processEvent = async (event: ReceiverEvent) => {
    let acked = false;
    const ack: ReceiverEvent['ack'] = async (response) => {
      acked = true;
      await event.ack(response);
    };
    const signature: unknown = event.customProperties?.[SIGNATURE_PROPERTY];
    const key = typeof signature === 'string' ? signature : `sha256:${createHash('sha256').update(JSON.stringify(event.body)).digest('hex')}`;
    const first = replayVerdict(firstDelivery(key), logger);
    if (!isSlashCommand(event.body) && !(await first)) {
      await ack();
      return;
    }
    try {
      await processEvent({ ...event, ack, customProperties: { ...event.customProperties, [FIRST_DELIVERY_PROPERTY]: first } });
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'a signed Slack request could not be processed; acknowledged and ignored');
    }
    if (!acked) await ack();
  };
}

/** The replay guard's answer within REPLAY_CHECK_TIMEOUT_MS (true when the database is slower); never rejects. */
function replayVerdict(check: Promise<boolean>, logger: Logger): Promise<boolean> {
  return withTimeout(check, REPLAY_CHECK_TIMEOUT_MS).then(
    (first) => {
      if (!first) logger.warn('the same signed Slack request arrived again; ignored as a replay');
      return first;
    },
    (error: unknown) => {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not check a Slack request against the replay guard; processing it');
      return true;
    },
  );
}

/** Carries the replay guard's pending answer into a listener's context. */
const FIRST_DELIVERY_PROPERTY = 'slackFirstDelivery';

function isSlashCommand(body: unknown): boolean {
  return typeof body === 'object' && body !== null && typeof (body as { command?: unknown }).command === 'string';
}

/**
 * Whether this slash command is the first delivery of its bytes (false: a replay, to be ignored).
 * A slash command's listener gets it still pending, so that an ack carrying nothing can go at once;
 * the listener must wait for it before any answer with content and before any work. Other kinds of
 * request reach their listeners only once it is known to be true.
 */
export function firstDeliveryOf(context: Record<string, unknown>): Promise<boolean> {
  const pending = context[FIRST_DELIVERY_PROPERTY];
  return pending instanceof Promise ? (pending as Promise<boolean>) : Promise.resolve(true);
}

function withApiSuffix(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function isServer(value: unknown): value is Server {
  return typeof value === 'object' && value !== null && typeof (value as Server).address === 'function';
}

function metricsRoute(metrics: NonNullable<SlackAppOptions['metrics']>, logger: Logger): CustomRoute {
  return {
    path: '/metrics',
    method: ['GET'],
    handler: (_req, res) => {
      metrics.text().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType });
          res.end(body);
        },
        (error: unknown) => {
          logger.warn({ err: String(error) }, 'metrics could not be read (is the database reachable?)');
          answer(res, 503, { ok: false });
        },
      );
    },
  };
}

function answer(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
