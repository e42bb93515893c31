import { join, resolve } from 'node:path';
import { sql } from 'drizzle-orm';
import { recordConfigLoaded } from './app/record-config.ts';
import { describePolicySource } from './config/policy-source.ts';
import type { LoadedAccessConfig } from './config/access.ts';
import { watchFile } from './config/watch-file.ts';
import { PolicyInForce } from './app/policy-in-force.ts';
import { checkApprovalChannels } from './app/approval-channels.ts';
import type { AccessConfig } from './config/access-schema.ts';
import { PolicyReloader, resourcesWithoutProvider, type ReloadOutcome } from './app/reload-policy.ts';
import type { Env } from './config/env.ts';
import { openDatabase, type Database } from './db/client.ts';
import { BOT_HOLDER } from './db/data-dir-lock.ts';
import { holdLeaseKey, takeOverGoneLeases, TAKEOVER_CONFIRM_MS, type LeaseHolder } from './db/lease-holder.ts';
import { SlackDeliveries } from './db/slack-deliveries.ts';
import { Ledger } from './ledger/ledger.ts';
import { resolveSigningKey, SIGNING_KEY_FILE } from './ledger/signing-key.ts';
import { checkpointTicker } from './workers/checkpoints.ts';
import { heartbeatTicker } from './workers/heartbeat.ts';
import { botIdentity, recordBotStarted, recordBotStopping } from './app/lifecycle.ts';
import { InFlight } from './in-flight.ts';
import { countedProviders, PrometheusMetrics } from './metrics.ts';
import { guardedProviders } from './providers/circuit.ts';
import type { Logger } from './logger.ts';
import { systemClock, type Clock } from './ports.ts';
import { createSlackApp, type SlackApp } from './slack/app.ts';
import { helpText } from './slack/blocks/help.ts';
import { registerCommandListener } from './slack/listeners/command.ts';
import { registerActionListeners } from './slack/listeners/actions.ts';
import { commandHandlers } from './slack/listeners/command-handlers.ts';
import { registerRequestFormListeners } from './slack/listeners/request-form.ts';
import { registerExtendFormListener } from './slack/listeners/extend-form.ts';
import { homePublisher, registerHomeListener } from './slack/listeners/home.ts';
import { OutboxSender } from './slack/outbox-sender.ts';
import { SlackDirectory } from './slack/directory.ts';
import { WorkerLoop } from './workers/loop.ts';
import { watchSuspiciousPatterns } from './app/monitors/watch-patterns.ts';
import { providersFromEnv, stepUpWithoutVerifier } from './providers/from-env.ts';
import { StepUp } from './app/step-up.ts';
import { onCallFromEnv, onCallProblems } from './oncall/from-env.ts';
import type { OnCallDirectory } from './ports.ts';
import { reviewTicker } from './workers/reviews.ts';
import type { AppDeps } from './app/deps.ts';
import { expireRequests } from './app/expire-requests.ts';
import { requestableBy } from './app/requestable.ts';
import { remindEndingAccess, remindPendingApprovers } from './app/remind-due.ts';
import { recoverGrants } from './app/recover-grants.ts';
import { remindHumanTasks } from './app/remind-human-tasks.ts';
import { msUntilNextExpiry, revokeDueGrants } from './app/revoke-due-grants.ts';
import { escalateUnreviewedEmergencies } from './app/escalate-emergency.ts';
import { completeOffboardings } from './app/offboard-person.ts';
import { pollDeactivations } from './app/poll-deactivations.ts';
import { reconcileDrift } from './app/reconcile-drift.ts';
import { registerUserChangeListener } from './slack/listeners/user-change.ts';

/** How long /breakglass help waits for Slack's user groups; its answer goes in the 3-second ack. */
const HELP_LOOKUP_MS = 1_500;

const NOT_CONFIGURED = 'breakglass is running but has no access policy yet, so nothing can be requested and nothing was changed. An administrator creates access.yml (start from access.example.yml, see the README) and restarts the bot.';

export interface BotOptions {
  env: Env;
  /** How often the workers look at the database without being woken (default 1 s). */
  tickMs?: number;
  /** Undefined when no access.yml exists yet: the bot runs and says so to whoever asks. */
  access: LoadedAccessConfig | undefined;
  logger: Logger;
  clock?: Clock;
  /** How often a replica looks for a policy version another replica recorded (default 30 s). */
  policyPollMs?: number;
  /** An Okta Verify step-up's polling and give-up (default every 2 s, for 60 s). */
  stepUp?: { pollMs: number; timeoutMs: number };
  /** The embedded database's thread died: nothing more can be stored. main.ts ends the process. */
  onDatabaseLost?: (error: Error) => void;
}

export interface RunningBot {
  port: number;
  database: Database;
  /** Loads access.yml again if it changed (what SIGHUP does); an invalid version is refused. */
  reloadPolicy(trigger?: string): Promise<ReloadOutcome>;
  stop(): Promise<void>;
}

type Providers = Awaited<ReturnType<typeof providersFromEnv>>;

/** What serving a policy adds to the bot: its workers, and what reloads and watches access.yml. */
interface Wiring {
  loops: WorkerLoop[];
  /** Started one drift interval after boot rather than at once. */
  driftLoop?: WorkerLoop;
  reloader?: PolicyReloader;
  stopWatching: () => void;
}

/** What the configured bot's wiring is built from. */
interface Parts {
  options: BotOptions;
  database: Database;
  ledger: Ledger;
  clock: Clock;
  providers: Providers;
  onCall: OnCallDirectory | undefined;
  metrics: PrometheusMetrics;
  slack: SlackApp;
  inFlight: InFlight;
  tickMs: number;
  leaseHolder: LeaseHolder;
}

/** Wires the adapters and use cases and starts serving. Reads nothing from process.env. */
export async function startBot(options: BotOptions): Promise<RunningBot> {
  const { env, access, logger } = options;
  const clock = options.clock ?? systemClock;
  // Before the database opens: a policy PagerDuty cannot serve here stops the start with nothing to undo.
  const onCall = onCallFromEnv(env, access?.config);
  const database = await openBotDatabase(env, logger, options.onDatabaseLost);
  const ledger = new Ledger(clock);
  await recordPolicyLoaded(database, ledger, clock, access, logger);
  const identity = botIdentity();
  const startedAt = await recordBotStarted({ db: database.db, ledger, clock }, identity, { database: database.kind, configHash: access?.hash ?? null });
  const leaseHolder = await holdLeaseKey(database);

  const providers = await providersFromEnv(env, access?.config, logger, clock.sleep?.bind(clock));
  const metrics = new PrometheusMetrics(database.db, clock);
  const inFlight = new InFlight();
  const slack = slackAppFor(env, logger, metrics, database);
  const tickMs = options.tickMs ?? 1_000;
  const heartbeat = new WorkerLoop('heartbeat', tickMs, heartbeatTicker({ db: database.db, ledger, clock }, identity.host), logger);
  const parts: Parts = { options, database, ledger, clock, providers, onCall, metrics, slack, inFlight, tickMs, leaseHolder };
  const wiring = access ? wireConfigured(parts, new PolicyInForce(access)) : wireUnconfigured(slack, logger, inFlight);
  slack.app.error(async (error) => {
    logger.error({ err: error }, 'unhandled error in a Slack listener');
  });

  const { port } = await slack.start();
  logger.info({ port, mode: env.SLACK_APP_TOKEN ? 'socket' : 'http' }, 'breakglass is listening');
  const loops = [heartbeat, ...wiring.loops];
  for (const loop of loops) loop.start(loop === wiring.driftLoop ? access!.config.drift.every : 0);

  return {
    port,
    database,
    async reloadPolicy(trigger = 'SIGHUP') {
      if (wiring.reloader) return wiring.reloader.reloadFile(trigger);
      logger.warn({ trigger }, 'breakglass started without access.yml; restart it to load one');
      return { kind: 'unchanged' };
    },
    async stop() {
      wiring.stopWatching();
      await slack.stop();
      await inFlight.drain(10_000);
      await Promise.all(loops.map((loop) => loop.stop()));
      await wiring.reloader?.idle();
      await recordBotStopping({ db: database.db, ledger, clock }, identity, startedAt).catch((error: unknown) => logger.error({ err: error }, 'could not record bot.stopping'));
      providers.close();
      await database.close();
    },
  };
}

async function openBotDatabase(env: Env, logger: Logger, onLost: ((error: Error) => void) | undefined): Promise<Database> {
  const database = await openDatabase({
    databaseUrl: env.DATABASE_URL,
    migrationUrl: env.DATABASE_MIGRATION_URL,
    dataDir: env.DATA_DIR,
    holder: BOT_HOLDER,
    onNotice: (message) => logger.debug({ notice: message }, 'postgres notice'),
    onLost: (error) => {
      logger.fatal({ err: error }, 'the embedded database stopped; nothing more can be stored or evidenced');
      onLost?.(error);
    },
  });
  logger.info({ database: database.kind, location: database.location }, 'database ready');
  return database;
}

/** Records the access policy the bot starts with (an evidence event when it changed), or warns that there is none. */
async function recordPolicyLoaded(database: Database, ledger: Ledger, clock: Clock, access: LoadedAccessConfig | undefined, logger: Logger): Promise<void> {
  if (!access) {
    logger.warn('no access.yml found: nothing can be requested until one exists (copy access.example.yml to access.yml)');
    return;
  }
  const source = await describePolicySource(access.path);
  const changed = await recordConfigLoaded(database.db, ledger, { hash: access.hash, path: access.path, resources: Object.keys(access.config.resources), text: access.text, source, now: clock.now() });
  logger.info({ config: access.path, hash: access.hash, recorded: changed }, 'access policy loaded');
}

function slackAppFor(env: Env, logger: Logger, metrics: PrometheusMetrics, database: Database): SlackApp {
  const deliveries = new SlackDeliveries(database.db);
  return createSlackApp({
    botToken: env.SLACK_BOT_TOKEN,
    signingSecret: env.SLACK_SIGNING_SECRET,
    appToken: env.SLACK_APP_TOKEN,
    slackApiUrl: env.SLACK_API_URL,
    port: env.PORT,
    host: env.HOST,
    logger,
    metrics,
    healthCheck: async () => {
      await database.db.execute(sql`select 1`);
      return true;
    },
    firstDelivery: (key) => deliveries.first(key),
  });
}

/** Without access.yml the bot only answers, to whoever asks, that it has no policy yet. */
function wireUnconfigured(slack: SlackApp, logger: Logger, inFlight: InFlight): Wiring {
  registerCommandListener(slack.app, { help: async () => helpText({ resources: [] }), handlers: {}, unconfigured: NOT_CONFIGURED, logger, track: inFlight.track });
  return { loops: [], stopWatching: () => undefined };
}

/** The use cases' dependencies, the workers that run them, the policy's reload and the Slack listeners. */
function wireConfigured(parts: Parts, policy: PolicyInForce): Wiring {
  const { options, database, ledger, clock, providers, onCall, metrics, slack, tickMs } = parts;
  const { env, logger } = options;
  const woken: { grants?: WorkerLoop; outbox?: WorkerLoop } = {};
  const wake = { grants: () => woken.grants!.wake(), outbox: () => woken.outbox!.wake() };
  const directory = new SlackDirectory(slack.client);
  // The identity directory (Okta) access reviews ask for people's status and managers.
  const identities = providers.identities;
  const deps: AppDeps = { db: database.db, ledger, clock, access: policy, providers: guardedProviders(countedProviders(providers.registry, metrics), () => clock.now()), directory, identities, onCall, logger, metrics, wake, leaseHolder: parts.leaseHolder.key };
  if (providers.pushVerifier) deps.stepUp = new StepUp(providers.pushVerifier, options.stepUp);
  const sender = new OutboxSender(deps, slack.outboxClient);
  woken.outbox = new WorkerLoop('outbox', tickMs, async () => {
    while ((await sender.sendDue()) > 0);
  }, logger);
  woken.grants = grantWorker(deps, tickMs);
  const loops = [woken.outbox, woken.grants];
  parts.inFlight.track(takeOverLeases(deps, parts.leaseHolder, database.kind));
  // Access reviews: the schedule, building requested campaigns, review revokes, reminders, closing.
  // The CLI cannot open the embedded database beside the bot, so it leaves `review start` in its folder for this worker.
  const mailbox = database.kind === 'pglite' && database.location !== 'memory://' ? database.location : undefined;
  loops.push(new WorkerLoop('reviews', tickMs, reviewTicker(deps, { mailbox }), logger));
  // Signed ledger checkpoints to the security channel; a generated key is kept in DATA_DIR on the embedded database.
  const signer = resolveSigningKey({ configured: env.LEDGER_SIGNING_KEY, keyFile: join(database.kind === 'pglite' ? database.location : resolve(env.DATA_DIR), SIGNING_KEY_FILE), logger });
  loops.push(new WorkerLoop('checkpoints', tickMs, checkpointTicker(deps, signer), logger));
  // Suspicious patterns are found after the fact; a few seconds late is soon enough.
  loops.push(new WorkerLoop('monitors', tickMs * 5, async () => {
    while ((await watchSuspiciousPatterns(deps)) > 0);
  }, logger));
  const feed = providers.deactivations;
  const driftLoop = new WorkerLoop('drift', () => policy.config.drift.every, () => reconcileDrift(deps), logger);
  loops.push(driftLoop);
  if (feed) loops.push(new WorkerLoop('okta-deactivations', () => policy.config.offboarding.poll_every, () => pollDeactivations(deps, feed), logger));
  // Approval channels are checked with Slack in the background: a Slack outage must not hold the start or a reload.
  const checkChannels = (config: AccessConfig, when: string) => parts.inFlight.track(checkApprovalChannels(deps, config, when).catch((error: unknown) => logger.error({ err: error, when }, 'checking the approval channels failed')));
  checkChannels(policy.config, 'start');
  const reloader = new PolicyReloader(deps, policy, { path: policy.path, problemsRunning: (config) => [...resourcesWithoutProvider(config, providers.registry), ...stepUpWithoutVerifier(config, providers.pushVerifier), ...onCallProblems(env, config)], onLoaded: (config) => checkChannels(config, 'reload') });
  loops.push(new WorkerLoop('policy', options.policyPollMs ?? 30_000, () => reloader.adoptRecorded(), logger));
  const stopWatching = watchFile(policy.path, 300, () => void reloader.reloadFile('file changed').catch((error: unknown) => logger.error({ err: error }, 'reloading access.yml failed; the policy in force stays')), logger);
  registerSlackListeners(slack, deps, directory, parts.inFlight);
  return { loops, driftLoop, reloader, stopWatching };
}

/**
 * What a process that is gone left leased (a crash, kill -9) is finished now, not once its lease
 * runs out: up to 30 s in which an expired grant kept its access. In the background, since on
 * PostgreSQL a holder is confirmed gone over a few seconds (lease-holder.ts).
 */
async function takeOverLeases(deps: AppDeps, me: LeaseHolder, kind: Database['kind']): Promise<void> {
  try {
    const taken = await takeOverGoneLeases(deps.db, deps.clock, me, { confirmAfterMs: kind === 'pglite' ? 0 : TAKEOVER_CONFIRM_MS });
    if (Object.values(taken).every((ids) => ids.length === 0)) return;
    deps.logger.info(taken, 'took over the leases of a process that is gone');
    // The reviews worker looks at every tick; grants and offboarding checks are the grants worker's.
    deps.wake.grants();
  } catch (error) {
    deps.logger.warn({ err: error }, 'could not take over the leases of processes that are gone; they run out by time');
  }
}

/** Requests, reminders, recovery, revokes, escalations and offboardings: whatever falls due on grants. */
function grantWorker(deps: AppDeps, tickMs: number): WorkerLoop {
  const { clock } = deps;
  let lastTaskCheck = Number.NEGATIVE_INFINITY;
  const grantLoop: WorkerLoop = new WorkerLoop('grants', tickMs, async () => {
    await expireRequests(deps);
    await remindPendingApprovers(deps);
    await remindEndingAccess(deps);
    await recoverGrants(deps);
    while ((await revokeDueGrants(deps)) > 0);
    await escalateUnreviewedEmergencies(deps);
    // Reminders are due in minutes or hours: checked every 15 s of the clock, not every tick.
    if (clock.now().getTime() - lastTaskCheck >= 15_000) {
      lastTaskCheck = clock.now().getTime();
      await remindHumanTasks(deps);
    }
    await completeOffboardings(deps);
    // Be there when the next grant ends, not up to a tick later (a few ms after, never before;
    // at least 25 ms apart, so a clock standing still cannot spin the loop).
    const nextExpiry = await msUntilNextExpiry(deps);
    if (nextExpiry !== undefined && nextExpiry < tickMs) grantLoop.wakeIn(Math.max(25, nextExpiry + 5));
  }, deps.logger);
  return grantLoop;
}

function registerSlackListeners(slack: SlackApp, deps: AppDeps, directory: SlackDirectory, inFlight: InFlight): void {
  const publishHome = homePublisher(deps, slack.client);
  registerCommandListener(slack.app, { help: helpFor(deps), handlers: commandHandlers(deps, slack.client), logger: deps.logger, track: inFlight.track });
  registerActionListeners(slack.app, deps, { track: inFlight.track, refreshHome: publishHome });
  registerRequestFormListeners(slack.app, deps, { track: inFlight.track });
  registerExtendFormListener(slack.app, deps, { track: inFlight.track });
  registerHomeListener(slack.app, deps, publishHome);
  registerUserChangeListener(slack.app, deps, (user) => directory.forget(user));
}

/**
 * Help lists what this person may request, so it never offers what a request would refuse. It is
 * answered in the ack: a Slack user-group lookup slower than HELP_LOOKUP_MS says so instead.
 */
function helpFor(deps: AppDeps) {
  return async (body: { user_id: string }) => {
    const lookup = requestableBy(deps, body.user_id).catch((error: unknown) => {
      deps.logger.warn({ err: error }, 'could not resolve who may request what for /breakglass help');
      return undefined;
    });
    const late = new Promise<undefined>((resolve) => setTimeout(resolve, HELP_LOOKUP_MS));
    return helpText({ configured: true, resources: await Promise.race([lookup, late]) });
  };
}
