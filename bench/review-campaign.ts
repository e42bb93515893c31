/**
 * Access-review campaign build: 10,000 people × 200 resources, through the product's own code path
 * (startReview → buildRequestedCampaigns → the outbox sending every card), with the providers
 * stubbed at the wire: the real Okta SDK (OktaProvider) against test/support/okta-server.ts and
 * the real Slack Web API client against test/support/slack-server.ts, both in a child process so
 * the memory figure is the bot's own.
 *
 * Population (see bench/lib/review-directory.ts): 10,000 people with production access, each a
 * member of 3 of the 200 resources' Okta groups (≈ 30,000 lines, ≈ 150 members a group), reporting
 * to 1,000 managers (under 100 directors, 10 VPs and a CEO) who hold no access themselves, so every
 * manager is a real Okta lookup and a real Slack users.lookupByEmail. 1% have no manager (security
 * channel), 0.5% have left (revoked at once). Sizes: BENCH_PEOPLE, BENCH_RESOURCES,
 * BENCH_GROUPS_PER_PERSON; BENCH_QUICK=1 runs 2,000 people × 40 resources.
 *
 * Targets: build < 30 s and peak memory (RSS of the bot's process during the build) < 300 MB.
 * Informational: delivering every card, and the process's high-water mark over the whole run.
 * Databases: PostgreSQL and the embedded PGlite (BENCH_DBS=postgres,pglite), each measured in a
 * fresh process of its own; a PGlite folder is created, closed and reopened first, as a bot finds it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebClient } from '@slack/web-api';
import { count, eq, sql } from 'drizzle-orm';
import { stringify } from 'yaml';
import { buildRequestedCampaigns } from '../src/app/build-campaign.ts';
import type { AppDeps } from '../src/app/deps.ts';
import { startReview } from '../src/app/start-review.ts';
import { parseAccessConfig } from '../src/config/access.ts';
import { openDatabase, type Database } from '../src/db/client.ts';
import { evidenceEvents, outbox, reviewCards, reviewItems } from '../src/db/schema.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { createLogger } from '../src/logger.ts';
import { systemClock } from '../src/ports.ts';
import { OktaProvider } from '../src/providers/okta/okta-provider.ts';
import { ProviderRegistry } from '../src/providers/registry.ts';
import { SlackDirectory } from '../src/slack/directory.ts';
import { OutboxSender } from '../src/slack/outbox-sender.ts';
import { figure, fmt, log, QUICK, report, RUNS, type Figure } from './lib/common.ts';
import { createBenchDatabase, type BenchDbKind } from './lib/databases.ts';
import { groupId, organisationFromEnv, resourceName } from './lib/review-directory.ts';

if (QUICK) {
  process.env.BENCH_PEOPLE ??= '2000';
  process.env.BENCH_RESOURCES ??= '40';
}
const org = organisationFromEnv();
const KINDS = (process.env.BENCH_DBS ?? 'postgres,pglite').split(',') as BenchDbKind[];
const BUILD_LIMIT_S = 30;
const RSS_LIMIT_MB = 300;
const MB = 1024 * 1024;

function memory(): string {
  const u = process.memoryUsage();
  return `rss ${fmt(u.rss / MB)} MB (peak ${fmt((process.resourceUsage().maxRSS * 1024) / MB)} MB), heap ${fmt(u.heapUsed / MB)} of ${fmt(u.heapTotal / MB)} MB, external ${fmt(u.external / MB)} MB`;
}

interface Servers {
  oktaUrl: string;
  oktaToken: string;
  slackApiUrl: string;
  slackToken: string;
  counts(): Promise<Record<string, number>>;
  stop(): void;
}

/** The Okta and Slack wire servers with the synthetic organisation, in their own process. */
async function startServers(): Promise<Servers> {
  const script = fileURLToPath(new URL('./lib/review-directory.ts', import.meta.url));
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env }, stdio: 'pipe' });
  child.stderr.on('data', (c: Buffer) => process.stderr.write(c));
  const lines: Interface = createInterface({ input: child.stdout });
  const next = () => new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the directory servers exited (${code})`)));
  });
  const ready = JSON.parse(await next()) as Omit<Servers, 'counts' | 'stop'>;
  return {
    ...ready,
    counts: async () => {
      const answer = next();
      child.stdin.write('counts\n');
      return JSON.parse(await answer) as Record<string, number>;
    },
    stop: () => child.stdin.end(),
  };
}

function accessYml(): string {
  const resources: Record<string, unknown> = {};
  for (let r = 0; r < org.resources; r++) {
    resources[resourceName(r)] = { grant: { okta_group: groupId(r) }, max_duration: '4h', approvers: { slack_users: ['U00000000'] } };
  }
  return stringify({ security_channel: 'C0SECURITY', resources, reviews: { schedule: 'quarterly', due_in: '14d', remind_every: '3d' } });
}

function depsFor(database: Database, servers: Pick<Servers, 'oktaUrl' | 'oktaToken' | 'slackApiUrl' | 'slackToken'>): { deps: AppDeps; client: WebClient } {
  const text = accessYml();
  const okta = new OktaProvider({ orgUrl: servers.oktaUrl, token: servers.oktaToken });
  const client = new WebClient(servers.slackToken, { slackApiUrl: servers.slackApiUrl, retryConfig: { retries: 0 } });
  const deps: AppDeps = {
    db: database.db,
    ledger: new Ledger(systemClock),
    clock: systemClock,
    access: { config: parseAccessConfig(text), hash: 'bench', path: 'bench-access.yml', text },
    providers: new ProviderRegistry([okta]),
    directory: new SlackDirectory(client),
    identities: okta,
    logger: createLogger('warn'),
    wake: { grants: () => {}, outbox: () => {} },
  };
  return { deps, client };
}

/** Samples the process's RSS every 25 ms while `task` runs: its peak, and the RSS just before. */
async function sampled<T>(task: () => Promise<T>): Promise<{ result: T; before: number; peak: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 25);
  try {
    const result = await task();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, before, peak };
  } finally {
    clearInterval(timer);
  }
}

interface RunResult {
  buildS: number;
  peakMb: number;
  beforeMb: number;
  deliveryS: number;
  processPeakMb: number;
  lines: number;
  cards: number;
  events: number;
  calls: Record<string, number>;
}

/** One run, in this (fresh) process: ask for a campaign, build it, deliver every card. */
async function measureRun(kind: BenchDbKind, run: number, servers: Omit<Servers, 'stop'>, dbEnv: Record<string, string>): Promise<RunResult> {
  const database = await openDatabase({ databaseUrl: dbEnv.DATABASE_URL, dataDir: dbEnv.DATA_DIR ?? '', holder: 'the breakglass benchmark', onNotice: () => {} });
  try {
    const { deps, client } = depsFor(database, servers);
    // Each run is a new period on the same database; from the second on, "new since the last review" is worked out too.
    const started = await startReview({ db: database.db, clock: systemClock, config: deps.access.config }, { trigger: 'manual', requestedBy: 'bench', period: `bench-${run}` });
    await servers.counts();
    const t0 = performance.now();
    const build = await sampled(() => buildRequestedCampaigns(deps));
    const buildS = (performance.now() - t0) / 1000;
    if (build.result !== 1) throw new Error(`campaign ${started.campaignId} did not open`);
    log(`${kind} run ${run + 1}: memory after build: ${memory()}`);
    const calls = await servers.counts();
    const id = started.campaignId;
    const [[items], [cards], [events]] = await Promise.all([
      database.db.select({ n: count() }).from(reviewItems).where(eq(reviewItems.campaignId, id)),
      database.db.select({ n: count() }).from(reviewCards).where(eq(reviewCards.campaignId, id)),
      database.db.select({ n: count() }).from(evidenceEvents).where(sql`${evidenceEvents.details}->>'campaign_id' = ${String(id)}`),
    ]);
    log(`${kind} run ${run + 1}: built campaign #${id} in ${buildS.toFixed(1)} s: ${fmt(items!.n)} lines, ${fmt(cards!.n)} cards, ${events!.n} evidence events; ${JSON.stringify(calls)}`);

    // Deliver every card through the outbox, as the bot's sender does (each card rendered from the database).
    const sender = new OutboxSender(deps, client);
    const t1 = performance.now();
    while ((await sender.sendDue()) > 0);
    const deliveryS = (performance.now() - t1) / 1000;
    const [unsent] = await database.db.select({ n: count() }).from(outbox).where(sql`${outbox.sentAt} is null`);
    if (unsent!.n > 0) throw new Error(`${unsent!.n} outbox messages left unsent`);
    log(`${kind} run ${run + 1}: delivered ${fmt(cards!.n)} cards in ${deliveryS.toFixed(1)} s; memory: ${memory()}`);
    return {
      buildS,
      peakMb: build.peak / MB,
      beforeMb: build.before / MB,
      deliveryS,
      processPeakMb: (process.resourceUsage().maxRSS * 1024) / MB,
      lines: items!.n,
      cards: cards!.n,
      events: events!.n,
      calls,
    };
  } finally {
    await database.close();
  }
}

function figuresOf(kind: BenchDbKind, runs: RunResult[]): Figure[] {
  const last = runs.at(-1)!;
  const population = `${fmt(org.people)} people × ${org.resources} resources, ${org.groupsPerPerson} each: ${fmt(last.lines)} lines, ${fmt(last.cards)} cards`;
  const before = runs.map((r) => fmt(r.beforeMb)).join(' / ');
  const added = runs.map((r) => fmt(r.peakMb - r.beforeMb)).join(' / ');
  return [
    figure('campaign build (list, route, open)', runs.map((r) => r.buildS), 's', { limit: BUILD_LIMIT_S, lowerIsBetter: true }, {
      db: kind,
      note: `${population}; per build: ${last.calls.okta_list_pages} Okta member pages, ${last.calls.okta_user_lookups} Okta user lookups, ${last.calls.slack_lookups} Slack users.lookupByEmail`,
    }),
    figure('campaign build: peak RSS of the bot process', runs.map((r) => r.peakMb), 'MB', { limit: RSS_LIMIT_MB, lowerIsBetter: true }, {
      db: kind,
      note:
        kind === 'pglite'
          ? `the embedded database runs inside the bot's process: ${before} MB with it open, before the build; the build itself added ${added} MB`
          : `${before} MB before the build (Node, the Okta SDK, the Slack client, drizzle); the build itself added ${added} MB`,
    }),
    figure('every card delivered (outbox → Slack)', runs.map((r) => r.deliveryS), 's', undefined, {
      db: kind,
      note: `${fmt(last.cards)} cards (one chat.postMessage each, rendered from the database) against the local Slack server; with real Slack, its rate limits would set this`,
    }),
    figure('peak RSS of the process, build and delivery', runs.map((r) => r.processPeakMb), 'MB', undefined, { db: kind, note: 'high-water mark of each run\'s process, every card delivery included' }),
  ];
}

const CHILD_MARK = 'BENCH_REVIEW_RESULT ';

if (process.env.BENCH_REVIEW_KIND) {
  // One run per process, so each memory figure is that run's alone.
  const kind = process.env.BENCH_REVIEW_KIND as BenchDbKind;
  const servers = JSON.parse(process.env.BENCH_REVIEW_SERVERS!) as Omit<Servers, 'stop' | 'counts'>;
  const reader = createInterface({ input: process.stdin });
  const counts = () =>
    new Promise<Record<string, number>>((resolve) => {
      reader.once('line', (line) => resolve(JSON.parse(line) as Record<string, number>));
      process.stdout.write('COUNTS\n');
    });
  const result = await measureRun(kind, Number(process.env.BENCH_REVIEW_RUN ?? 0), { ...servers, counts }, JSON.parse(process.env.BENCH_REVIEW_DB!) as Record<string, string>);
  process.stdout.write(`${CHILD_MARK}${JSON.stringify(result)}\n`);
  reader.close();
  process.exit(0);
}

const servers = await startServers();
log(`population: ${fmt(org.people)} people, each in ${org.groupsPerPerson} of ${org.resources} resources (Okta groups) → about ${fmt(org.people * org.groupsPerPerson)} lines; 1,111 managers, directors, VPs and a CEO above them, none with access; 1% without a manager, 0.5% deprovisioned; ${RUNS} run(s) a database, each in a fresh process`);
const figures: Figure[] = [];
try {
  for (const kind of KINDS) {
    const bench = await createBenchDatabase(kind);
    try {
      // Created and migrated here: a new PGlite folder is initialised by the process that opens it
      // first (several hundred MB, once), whereas a running bot opens an existing one.
      await (await bench.open()).close();
      const runs: RunResult[] = [];
      for (let run = 0; run < RUNS; run++) runs.push(await runChild(kind, run, servers, bench.env));
      figures.push(...figuresOf(kind, runs));
    } finally {
      await bench.drop();
    }
  }
} finally {
  servers.stop();
}
report('review-campaign', figures);

/** One run in a fresh process, relaying the directory's call counts to it. */
async function runChild(kind: BenchDbKind, run: number, servers: Servers, dbEnv: Record<string, string>): Promise<RunResult> {
  const { counts: _counts, stop: _stop, ...addresses } = servers;
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_REVIEW_KIND: kind, BENCH_REVIEW_RUN: String(run), BENCH_REVIEW_SERVERS: JSON.stringify(addresses), BENCH_REVIEW_DB: JSON.stringify(dbEnv) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  let result: RunResult | undefined;
  for await (const line of lines) {
    if (line === 'COUNTS') child.stdin.write(`${JSON.stringify(await servers.counts())}\n`);
    else if (line.startsWith(CHILD_MARK)) result = JSON.parse(line.slice(CHILD_MARK.length)) as RunResult;
    else process.stdout.write(`${line}\n`);
  }
  if (!result) throw new Error(`the ${kind} run ${run + 1} reported nothing`);
  return result;
}
