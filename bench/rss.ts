/**
 * Idle and loaded RSS of the bot in its own process, started as it runs for real:
 *   - `npm start` (node + tsx on the TypeScript sources), and
 *   - `node dist/main.js` as in the Docker image (compiled here to a temporary folder with
 *     tsconfig.build.json; the repo's dist/ is left alone),
 * pointed at wire-level Slack, Okta and IAM servers in this process, on PostgreSQL and PGlite.
 *
 * The database exists and is migrated before the bot starts, as after its first start.
 * Idle: after /healthz answers, the bot sits for a while (its workers tick every second); RSS is
 * the median of samples over 5 s. Loaded: 20 concurrent signed slash commands (each creating a
 * request, its evidence and an approval card) — peak RSS while it runs, and RSS 10 s after.
 * Because the bot has its own process here, the ack latency of that load is reported too.
 *
 * Targets: idle RSS < 150 MB on PostgreSQL, < 200 MB on PGlite (whose PostgreSQL, its shared
 * buffers and its compiled WebAssembly live in the bot's process); ack p99 < 100 ms on both.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startIamServer } from '../test/support/iam-server.ts';
import { startOktaServer } from '../test/support/okta-server.ts';
import { post, slashCommand, TEST_SIGNING_SECRET } from '../test/support/slack-requests.ts';
import { startSlackServer, type SlackServer } from '../test/support/slack-server.ts';
import { ACCESS_YML, APPROVER, OKTA_GROUP, requester, until } from './lib/bot.ts';
import { REPO } from './lib/cli.ts';
import { figure, log, median, percentile, pool, QUICK, report, RUNS, sleep, type Figure } from './lib/common.ts';
import { createBenchDatabase, type BenchDbKind } from './lib/databases.ts';

const KINDS = (process.env.BENCH_DBS ?? 'postgres,pglite').split(',') as BenchDbKind[];
const IDLE_SETTLE_MS = QUICK ? 5_000 : 15_000;
const LOAD_REQUESTS = Number(process.env.BENCH_RSS_REQUESTS ?? (QUICK ? 300 : 1_000));
const PEOPLE = 100;
const IDLE_TARGET_MB: Record<BenchDbKind, number> = { postgres: 150, pglite: 200 };

type Mode = 'npm start (tsx)' | 'node dist/main.js';

/** The Node flags the bot starts with, as in the Dockerfile's CMD and package.json's start script. */
const BOT_NODE_ARGS = ['--max-semi-space-size=2'];

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** Compiles src/ with tsconfig.build.json into a temporary folder laid out like the image (dist/, drizzle/, node_modules/). */
async function buildDist(): Promise<string | undefined> {
  const root = mkdtempSync(join(tmpdir(), 'breakglass-bench-build-'));
  try {
    await promisify(execFile)(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json'), '--outDir', join(root, 'dist')], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    log(`compiling src/ failed, so only npm start is measured: ${String((error as { stdout?: string }).stdout ?? error).slice(0, 400)}`);
    rmSync(root, { recursive: true, force: true });
    return undefined;
  }
  symlinkSync(join(REPO, 'drizzle'), join(root, 'drizzle'));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'package.json'), readFileSync(join(REPO, 'package.json')));
  return root;
}

interface BotProcess {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

async function startBotProcess(mode: Mode, build: string | undefined, env: Record<string, string>): Promise<BotProcess> {
  const extra = process.env.BENCH_RSS_NODE_ARGS ? process.env.BENCH_RSS_NODE_ARGS.split(' ') : [];
  const args = [...BOT_NODE_ARGS, ...extra, ...(mode === 'npm start (tsx)' ? ['--import', 'tsx', join(REPO, 'src/main.ts')] : [join(build!, 'dist/main.js')])];
  const child = spawn(process.execPath, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let port: number | undefined;
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    // Only until the port is known: matching the whole output (up to 1 MB) again for every log line
    // took this process's CPU, which the bot shares, while the load ran.
    const m = port === undefined ? /"port":(\d+)[^\n]*breakglass is listening|breakglass is listening[^\n]*"port":(\d+)/.exec(output) : null;
    if (m) port = Number(m[1] ?? m[2]);
    if (output.length > 1_000_000) output = output.slice(-100_000);
    if (process.env.BENCH_RSS_ECHO) for (const line of chunk.toString().split('\n')) if (line.startsWith('MEM')) log(line);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await until(() => port ?? (child.exitCode !== null ? Promise.reject(new Error(`the bot exited: ${output.slice(-2000)}`)) : undefined), 120_000, 'the bot to listen');
  const base = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200 || undefined, 60_000, '/healthz');
  return {
    child,
    port: port!,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

async function sample(pid: number, ms: number, every: number): Promise<number[]> {
  const values: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    values.push(rssMb(pid));
    await sleep(every);
  }
  return values;
}

async function oneRun(kind: BenchDbKind, mode: Mode, build: string | undefined): Promise<{ idle: number; peak: number; after: number; ackP50: number; ackP99: number }> {
  const people = Array.from({ length: PEOPLE }, (_, i) => requester(i + 1));
  const slack: SlackServer = await startSlackServer({ users: [{ id: APPROVER, name: 'bob', email: 'bob@example.com' }, ...people] });
  const okta = await startOktaServer();
  const iam = await startIamServer();
  okta.addGroup({ id: OKTA_GROUP, name: 'prod-db' });
  for (const p of people) okta.addUser({ login: p.email, email: p.email, firstName: p.name, lastName: 'R' });
  const db = await createBenchDatabase(kind);
  // As a bot finds its database after the first start: created and migrated (on PGlite, the
  // first open of a new folder runs initdb, a one-off that would otherwise count as idle memory).
  await (await db.open()).close();
  const folder = mkdtempSync(join(tmpdir(), 'breakglass-bench-rss-'));
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'access.yml'), ACCESS_YML);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    PORT: '0',
    LOG_LEVEL: 'info',
    ACCESS_CONFIG: join(folder, 'access.yml'),
    OKTA_ORG_URL: okta.url,
    OKTA_API_TOKEN: okta.token,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_IAM: iam.url,
    AWS_ENDPOINT_URL_STS: iam.url,
    AWS_ACCESS_KEY_ID: iam.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: iam.credentials.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...(mode === 'node dist/main.js' ? { NODE_ENV: 'production' } : {}),
    ...db.env,
  };
  const bot = await startBotProcess(mode, build, env);
  const pid = bot.child.pid!;
  const base = `http://127.0.0.1:${bot.port}`;
  try {
    await sleep(IDLE_SETTLE_MS);
    const idle = median(await sample(pid, 5_000, 250));
    const samples: number[] = [];
    let loading = true;
    const sampler = (async () => {
      while (loading) {
        samples.push(rssMb(pid));
        await sleep(200);
      }
    })();
    const load = async (count: number, tag: string) => {
      const names: string[] = [];
      const acks = await pool(Array.from({ length: count }, (_, i) => i), 20, async (i) => {
        const name = `rss-${tag}-${i}`;
        names.push(name);
        const req = slashCommand({ text: `prod-db 2h INC-${i} load for the RSS benchmark`, userId: people[i % PEOPLE]!.id, responseUrl: slack.responseUrl(name) });
        const started = performance.now();
        const res = await post(base, req);
        if (res.status !== 200) throw new Error(`command answered ${res.status}`);
        return performance.now() - started;
      });
      await until(() => names.every((n) => slack.responses(n).length > 0) || undefined, 300_000, 'every command answered');
      return acks;
    };
    // Warm-up (one command per person: directory lookups, connections, JIT), then the measured load.
    await load(PEOPLE, 'warm');
    const acks = await load(LOAD_REQUESTS, 'load');
    await until(() => slack.messagesTo(APPROVER).length >= PEOPLE + LOAD_REQUESTS || undefined, 300_000, 'every approval card');
    loading = false;
    await sampler;
    await sleep(10_000);
    const after = median(await sample(pid, 2_000, 250));
    return { idle, peak: Math.max(...samples), after, ackP50: percentile(acks, 50), ackP99: percentile(acks, 99) };
  } finally {
    await bot.stop();
    await slack.close();
    await okta.close();
    await iam.close();
    await db.drop();
    rmSync(folder, { recursive: true, force: true });
  }
}

const build = await buildDist();
// BENCH_RSS_MODES=dist or =tsx measures only that way of starting the bot.
const modes: Mode[] = (build ? (['node dist/main.js', 'npm start (tsx)'] as Mode[]) : (['npm start (tsx)'] as Mode[])).filter((m) => !process.env.BENCH_RSS_MODES || m.includes(process.env.BENCH_RSS_MODES));
const figures: Figure[] = [];
try {
  for (const kind of KINDS) {
    for (const mode of modes) {
      const runs = [];
      for (let run = 0; run < RUNS; run++) {
        const r = await oneRun(kind, mode, build);
        log(`${kind}, ${mode}: idle ${r.idle.toFixed(0)} MB, peak under load ${r.peak.toFixed(0)} MB, after ${r.after.toFixed(0)} MB; ack p50 ${r.ackP50.toFixed(1)} ms p99 ${r.ackP99.toFixed(1)} ms`);
        runs.push(r);
      }
      figures.push(figure(`idle RSS, ${mode}`, runs.map((r) => r.idle), 'MB', { limit: IDLE_TARGET_MB[kind], lowerIsBetter: true }, { db: kind }));
      figures.push(figure(`peak RSS under load, ${mode}`, runs.map((r) => r.peak), 'MB', undefined, { db: kind, note: `${LOAD_REQUESTS} slash commands, 20 concurrent` }));
      figures.push(figure(`RSS 10 s after the load, ${mode}`, runs.map((r) => r.after), 'MB', undefined, { db: kind }));
      figures.push(figure(`ack p99 (20 concurrent), bot in its own process, ${mode}`, runs.map((r) => r.ackP99), 'ms', { limit: 100, lowerIsBetter: true }, { db: kind, note: 'the same load; the load generator and fake Slack run in another process' }));
    }
  }
} finally {
  if (build) rmSync(build, { recursive: true, force: true });
}
report('rss', figures);
