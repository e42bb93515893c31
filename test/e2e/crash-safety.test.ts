/**
 * Crash safety: the bot runs as a child process and is killed with SIGKILL at many different
 * points of granting, revoking (expiry and end-early), emergency self-grant and offboarding —
 * while a provider call is held in flight, right after the provider applied a change but before
 * the bot heard back, at seeded random moments after a Slack action, and again during the
 * recovery that follows a restart. After every kill the database is opened from the test
 * process and checked; after every restart the test waits until every grant past its end is
 * revoked AT THE PROVIDER (the wire servers' own state) and its evidence is written.
 *
 * Checked after each kill (the state a crash leaves must be recoverable):
 * - the evidence chain verifies;
 * - every grant that is active, revoking or revoked has its `grant.applied`, every revoked one
 *   its `grant.revoked`, every failed one its `grant.failed`;
 * - any access the provider holds belongs to a grant the recovery path will finish (granting,
 *   active, revoking): no orphan access;
 * - every membership change the provider saw belongs to a grant that either has its evidence or
 *   is in a state the recovery path will finish and record.
 * Checked after each restart:
 * - every grant past its end is revoked at the provider within 60 s of the restart (of the bot
 *   answering /healthz; the time from spawn is reported too) and within 30 s of its end when it
 *   ends later; its `grant.revoked` (or `grant.failed`) is in the ledger within the same bound.
 * Checked at the end (after a clean stop): all of the above with nothing left in flight, every
 * provider change matched by its evidence event, every offboarding completed, and
 * `npx breakglass evidence verify` exits 0.
 *
 * Iterations: CRASH_KILLS kills per database (default 6, so 12 over PGlite and PostgreSQL in CI);
 * `npm run test:crash` runs 50 per database, each at a different point. CRASH_SEED picks the
 * random delays (default fixed, so a failure replays); CRASH_DATABASES=pglite|postgres limits
 * the run to one database; CRASH_FLOWS=review,offboard keeps only those flows' points. Every kill point and the restart-to-revoked figures are printed,
 * and written as JSON to CRASH_REPORT (default: a file in the OS temp folder, path printed).
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/client.ts';
import { accessRequests, evidenceEvents, grants, reviewItems } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { grantPolicyName } from '../../src/providers/aws-iam/iam-policy.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { BotProcess, freePort } from '../support/bot-process.ts';
import { runCli } from '../support/cli.ts';
import { createPostgresDatabase, postgresAvailable, type DatabaseKind } from '../support/databases.ts';
import { startFaultProxy, type FaultProxy, type HoldRule, type ProxiedCall } from '../support/fault-proxy.ts';
import { startIamServer, type IamTestServer } from '../support/iam-server.ts';
import { startOktaServer, type OktaTestServer } from '../support/okta-server.ts';
import { seedPgliteDataDir } from '../support/templates.ts';
import { blockAction, eventCallback, post, slashCommand, TEST_SIGNING_SECRET, userChangeEvent } from '../support/slack-requests.ts';
import { startSlackServer, textOf, type SlackServer, type StoredMessage } from '../support/slack-server.ts';

const KILLS = Number(process.env.CRASH_KILLS ?? 6);
const SEED = Number(process.env.CRASH_SEED ?? 20_260_301);
const DATABASES = (process.env.CRASH_DATABASES ?? 'pglite,postgres').split(',').map((s) => s.trim()) as DatabaseKind[];
/** The bound the issue sets: every grant past its end is revoked at the provider within this of a restart. */
const RESTART_BOUND_MS = 60_000;
/** SPEC: revoked never later than 30 s after expiry while the provider answers (and the bot runs). */
const EXPIRY_BOUND_MS = 30_000;
/** A trigger that never comes (the flow never reaches the call) fails the run after this. */
const TRIGGER_TIMEOUT_MS = 120_000;

const APPROVER = 'U0BOB';
/** The manager every review-point person reports to (Okta managerId), who gets the review card. */
const MANAGER = 'U0MGR';
const SECURITY = 'C0SEC';
const ACCESS = `security_channel: ${SECURITY}
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [${APPROVER}] }
  prod-break:
    description: Break-glass admin, self-granted in an emergency
    grant: { okta_group: 00gBREAK }
    max_duration: 1h
    approvers: { slack_users: [${APPROVER}] }
    emergency_self_grant: true
  prod-admin:
    description: AWS production admins
    grant: { aws_iam_group: ProdAdmins }
    max_duration: 4h
    approvers: { slack_users: [${APPROVER}] }
  prod-logs:
    description: Read the production log bucket
    grant:
      aws_iam_policy:
        Version: '2012-10-17'
        Statement:
          - Sid: ReadLogs
            Effect: Allow
            Action: ['s3:GetObject']
            Resource: 'arn:aws:s3:::prod-logs/*'
    max_duration: 4h
    approvers: { slack_users: [${APPROVER}] }
  prod-review:
    description: Production console, reviewed by managers
    grant: { okta_group: 00gREVIEW }
    max_duration: 4h
    approvers: { slack_users: [${APPROVER}] }
reviews:
  schedule: quarterly
  scope: [prod-review]
offboarding:
  sla: 24h
  poll_every: 1h
`;

type Resource = 'prod-db' | 'prod-break' | 'prod-admin' | 'prod-logs' | 'prod-review';
const RESOURCES: Resource[] = ['prod-db', 'prod-break', 'prod-admin', 'prod-logs', 'prod-review'];
const OKTA_GROUPS: Record<string, Resource> = { '00gPRODDB': 'prod-db', '00gBREAK': 'prod-break', '00gREVIEW': 'prod-review' };
const OKTA_GROUP_OF: Record<string, string> = { 'prod-db': '00gPRODDB', 'prod-break': '00gBREAK', 'prod-review': '00gREVIEW' };
const IAM_GROUP = 'ProdAdmins';
const POLICY = grantPolicyName('prod-logs');

// ---------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32): the same CRASH_SEED replays the same delays and mixes.

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Aborted extends Error {}

async function until<T>(what: string, fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, opts: { signal?: AbortSignal; timeoutMs?: number; everyMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (opts.signal?.aborted) throw new Aborted(what);
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(opts.everyMs ?? 25);
  }
}

// ---------------------------------------------------------------------------------------------
// The world: wire servers in this process, fault proxies in front of Okta and IAM, the bot in a child.

interface Person {
  id: string;
  email: string;
  oktaId: string;
}

interface World {
  kind: DatabaseKind;
  slack: SlackServer;
  okta: OktaTestServer;
  iam: IamTestServer;
  oktaProxy: FaultProxy;
  iamProxy: FaultProxy;
  bot: BotProcess;
  env: Record<string, string>;
  folder: string;
  logFile: string;
  people: Map<string, Person>;
  /** `person:resource` access the test gave at the provider by hand (not through breakglass): legitimate until a review revokes it. */
  unmanaged: Set<string>;
  managerOktaId: string;
  byOktaId: Map<string, Person>;
  byEmail: Map<string, Person>;
  nextPerson: number;
  dropDatabase?: () => Promise<void>;
}

async function createWorld(kind: DatabaseKind): Promise<World> {
  const slack = await startSlackServer({
    users: [
      { id: APPROVER, name: 'bob', email: 'bob@example.com' },
      { id: MANAGER, name: 'mona', email: 'mona@example.com' },
    ],
  });
  const okta = await startOktaServer();
  const iam = await startIamServer();
  okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
  okta.addGroup({ id: '00gBREAK', name: 'prod-break' });
  okta.addGroup({ id: '00gREVIEW', name: 'prod-review' });
  okta.addUser({ login: 'bob@example.com', email: 'bob@example.com' });
  const manager = okta.addUser({ login: 'mona@example.com', email: 'mona@example.com', firstName: 'Mona', lastName: 'Manager' });
  iam.account().addGroup(IAM_GROUP);
  const oktaProxy = await startFaultProxy(okta.url);
  const iamProxy = await startFaultProxy(iam.url);
  const folder = mkdtempSync(join(tmpdir(), `breakglass-crash-${kind}-`));
  writeFileSync(join(folder, 'access.yml'), ACCESS);
  // A database breakglass already migrated (the crashes under test come after the first start).
  const postgres = kind === 'postgres' ? await createPostgresDatabase({ migrated: true }) : undefined;
  if (!postgres) await seedPgliteDataDir(join(folder, 'data'));
  const env: Record<string, string> = {
    HOME: folder, // no ~/.okta/okta.yaml can leak in
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    ACCESS_CONFIG: join(folder, 'access.yml'),
    OKTA_ORG_URL: oktaProxy.url,
    OKTA_API_TOKEN: okta.token,
    AWS_ENDPOINT_URL_IAM: iamProxy.url,
    AWS_ENDPOINT_URL_STS: iamProxy.url,
    AWS_ACCESS_KEY_ID: iam.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: iam.credentials.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    LOG_LEVEL: 'info',
    // On PostgreSQL too: the generated ledger signing key is kept in DATA_DIR, never in the repository.
    DATA_DIR: join(folder, 'data'),
    ...(postgres ? { DATABASE_URL: postgres.url } : {}),
  };
  const logFile = join(folder, 'bot.log');
  const bot = new BotProcess({
    env,
    port: await freePort(),
    startTimeoutMs: 120_000,
    onLine: (line, pid) => appendFileSync(logFile, `${pid} ${line}\n`),
  });
  return {
    kind,
    slack,
    okta,
    iam,
    oktaProxy,
    iamProxy,
    bot,
    env,
    folder,
    logFile,
    people: new Map(),
    unmanaged: new Set(),
    managerOktaId: manager.id,
    byOktaId: new Map(),
    byEmail: new Map(),
    nextPerson: 0,
    ...(postgres ? { dropDatabase: postgres.drop } : {}),
  };
}

async function closeWorld(w: World): Promise<void> {
  await w.bot.kill();
  await w.oktaProxy.close();
  await w.iamProxy.close();
  await w.slack.close();
  await w.okta.close();
  await w.iam.close();
  await w.dropDatabase?.();
}

function newPerson(w: World, opts: { managed?: boolean } = {}): Person {
  const n = ++w.nextPerson;
  const id = `U0C${String(n).padStart(4, '0')}`;
  const email = `crash${n}@example.com`;
  w.slack.setUser({ id, name: `crash${n}`, email, real_name: `Crash ${n}` });
  const okta = w.okta.addUser({ login: email, email, firstName: 'Crash', lastName: String(n), ...(opts.managed ? { managerId: w.managerOktaId } : {}) });
  w.iam.account().addUser(email);
  const person = { id, email, oktaId: okta.id };
  w.people.set(id, person);
  w.byOktaId.set(okta.id, person);
  w.byEmail.set(email, person);
  return person;
}

/** Does the provider itself (not the database) give this person this access now? */
function hasAccess(w: World, person: Person, resource: string): boolean {
  switch (resource) {
    case 'prod-db':
      return w.okta.isMember('00gPRODDB', person.email);
    case 'prod-break':
      return w.okta.isMember('00gBREAK', person.email);
    case 'prod-admin':
      return w.iam.account().isMember(IAM_GROUP, person.email);
    case 'prod-logs':
      return w.iam.account().userPolicyNames(person.email).includes(POLICY);
    case 'prod-review':
      return w.okta.isMember('00gREVIEW', person.email);
    default:
      throw new Error(`unknown resource ${resource}`);
  }
}

interface ProviderChange {
  person: string;
  resource: string;
  op: 'add' | 'remove';
  at: number;
}

/** Every membership change call the providers accepted, from their own request logs. */
function providerChanges(w: World): ProviderChange[] {
  const out: ProviderChange[] = [];
  for (const r of w.okta.requests) {
    if (r.method !== 'PUT' && r.method !== 'DELETE') continue;
    if (!r.status || r.status >= 300) continue;
    const m = /^\/api\/v1\/groups\/([^/]+)\/users\/([^/]+)$/.exec(r.path);
    const resource = m ? OKTA_GROUPS[m[1]!] : undefined;
    const person = m ? w.byOktaId.get(m[2]!) : undefined;
    if (!resource || !person) continue;
    out.push({ person: person.id, resource, op: r.method === 'PUT' ? 'add' : 'remove', at: r.at.getTime() });
  }
  for (const r of w.iam.requests) {
    if (r.status !== 200) continue;
    const person = w.byEmail.get(r.params.UserName ?? '');
    if (!person) continue;
    if ((r.action === 'AddUserToGroup' || r.action === 'RemoveUserFromGroup') && r.params.GroupName === IAM_GROUP) {
      out.push({ person: person.id, resource: 'prod-admin', op: r.action === 'AddUserToGroup' ? 'add' : 'remove', at: r.at.getTime() });
    }
    if ((r.action === 'PutUserPolicy' || r.action === 'DeleteUserPolicy') && r.params.PolicyName === POLICY) {
      out.push({ person: person.id, resource: 'prod-logs', op: r.action === 'PutUserPolicy' ? 'add' : 'remove', at: r.at.getTime() });
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

/** The bot's last log lines, shortened, for a failure message (the full log is in w.logFile). */
function botTail(w: World, lines = 15): string {
  return w.bot
    .recentOutput(200)
    .split('\n')
    .filter((line) => /"level":(40|50|60)|grant|revok|offboard|Error/.test(line))
    .slice(-lines)
    .map((line) => (line.length > 400 ? `${line.slice(0, 400)}…` : line))
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Flows, driven the way Slack drives the bot: signed slash commands, clicks and events.

type FlowKind = 'okta' | 'iam-group' | 'iam-policy' | 'emergency' | 'end-early' | 'offboard' | 'review';
type Stage = 'request' | 'approve' | 'applied' | 'end' | 'user_change' | 'review_card' | 'review_click';

const FLOW_RESOURCE: Record<FlowKind, Resource> = {
  okta: 'prod-db',
  'iam-group': 'prod-admin',
  'iam-policy': 'prod-logs',
  emergency: 'prod-break',
  'end-early': 'prod-db',
  offboard: 'prod-db',
  review: 'prod-review',
};

class FlowRun {
  readonly stages = new Map<Stage, { promise: Promise<void>; resolve: () => void }>();
  readonly passed = new Set<Stage>();
  done!: Promise<void>;
  error: unknown;
  /** A second person the flow involves (the review flow: someone with access granted outside breakglass). */
  second: Person | undefined;
  constructor(
    readonly kind: FlowKind,
    readonly person: Person,
  ) {}
  private slot(stage: Stage) {
    let slot = this.stages.get(stage);
    if (!slot) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      slot = { promise, resolve };
      this.stages.set(stage, slot);
    }
    return slot;
  }
  reach(stage: Stage): void {
    this.passed.add(stage);
    this.slot(stage).resolve();
  }
  reached(stage: Stage): Promise<void> {
    return this.slot(stage).promise;
  }
}

let uniqueName = 0;

async function slash(w: World, user: string, text: string, signal: AbortSignal): Promise<{ reply: () => Promise<string> }> {
  if (signal.aborted) throw new Aborted('slash');
  const name = `crash-cmd-${++uniqueName}`;
  const res = await post(w.bot.baseUrl, slashCommand({ text, userId: user, responseUrl: w.slack.responseUrl(name) }));
  if (res.status !== 200) throw new Error(`/breakglass ${text} answered ${res.status}`);
  return { reply: () => until(`the answer to /breakglass ${text}`, () => w.slack.responses(name)[0]?.body.text as string | undefined, { signal }) };
}

function approvalCard(w: World, requestId: number): StoredMessage | undefined {
  return w.slack.messagesTo(APPROVER).find((m) => new RegExp(`^Access request #${requestId}:`).test(m.text ?? ''));
}

async function approve(w: World, requestId: number, signal: AbortSignal): Promise<void> {
  const card = await until(`the approval card of request #${requestId}`, () => approvalCard(w, requestId), { signal });
  if (signal.aborted) throw new Aborted('approve');
  const res = await post(w.bot.baseUrl, blockAction({ userId: APPROVER, actionId: ACTIONS.approve, message: structuredClone(card), responseUrl: w.slack.responseUrl(`crash-click-${++uniqueName}`) }));
  if (res.status !== 200) throw new Error(`Approve on request #${requestId} answered ${res.status}`);
}

function requestIdOf(reply: string): number {
  const id = /request #(\d+)/i.exec(reply)?.[1];
  if (!id) throw new Error(`no request id in: ${reply}`);
  return Number(id);
}

async function requestAndApprove(w: World, run: FlowRun, resource: Resource, duration: string, signal: AbortSignal): Promise<number> {
  const cmd = await slash(w, run.person.id, `${resource} ${duration} INC-${run.person.id.slice(3)} crash drill`, signal);
  run.reach('request');
  const requestId = requestIdOf(await cmd.reply());
  await approve(w, requestId, signal);
  run.reach('approve');
  return requestId;
}

/** Waits for the DM that says the grant is active: `grant.applied` is committed. */
function activeDm(w: World, person: Person, requestId: number, signal: AbortSignal): Promise<StoredMessage> {
  return until(`the "active" DM of request #${requestId}`, () => w.slack.messagesTo(person.id).find((m) => new RegExp(`is active until .*\\(request #${requestId}\\)`).test(textOf(m))), { signal });
}

/** `npx breakglass review start`: beside the bot on PostgreSQL; on PGlite the bot is stopped (SIGTERM) for it and started again. */
async function startCampaign(w: World, period: string): Promise<number> {
  const env = Object.fromEntries(Object.entries(w.env).filter(([k]) => ['DATABASE_URL', 'DATA_DIR', 'ACCESS_CONFIG', 'HOME'].includes(k)));
  const pglite = w.kind === 'pglite';
  if (pglite) await w.bot.stop(60_000);
  try {
    const cli = await runCli(['review', 'start', '--period', period], env);
    const id = /access review #(\d+)/.exec(cli.stdout)?.[1];
    if (cli.code !== 0 || !id) throw new Error(`review start failed (${cli.code}): ${cli.stdout}${cli.stderr}`);
    return Number(id);
  } finally {
    if (pglite) await w.bot.start();
  }
}

function reviewCard(w: World, campaignId: number): StoredMessage | undefined {
  return w.slack.messagesTo(MANAGER).find((m) => (m.text ?? '').startsWith(`Access review #${campaignId} (`));
}

/** The line id for a person's access on a review card (the actions block after the line's section). */
function reviewLine(card: StoredMessage, person: Person, resource: string): number | undefined {
  const blocks = (card.blocks ?? []) as Array<Record<string, unknown>>;
  const name = `*Crash ${person.email.replace(/^crash(\d+)@.*$/, '$1')}*`;
  for (let i = 0; i < blocks.length; i++) {
    const text = String((blocks[i]!.text as { text?: string } | undefined)?.text ?? '');
    if (blocks[i]!.type !== 'section' || !text.startsWith(name) || !text.split('\n')[0]!.includes(`\`${resource}\``)) continue;
    const next = blocks[i + 1];
    const id = typeof next?.block_id === 'string' ? /^review_line_(\d+)$/.exec(next.block_id)?.[1] : undefined;
    return id ? Number(id) : undefined;
  }
  return undefined;
}

async function clickRevoke(w: World, card: StoredMessage, itemId: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new Aborted('review revoke');
  const res = await post(
    w.bot.baseUrl,
    blockAction({ userId: MANAGER, actionId: ACTIONS.reviewRevoke, message: structuredClone(card), value: String(itemId), blockId: `review_line_${itemId}`, responseUrl: w.slack.responseUrl(`crash-review-${++uniqueName}`, { channel: card.channel, ts: card.ts }) }),
  );
  if (res.status !== 200) throw new Error(`Revoke on review line ${itemId} answered ${res.status}`);
}

function startFlow(w: World, kind: FlowKind, person: Person, signal: AbortSignal): FlowRun {
  const run = new FlowRun(kind, person);
  const body = async () => {
    switch (kind) {
      case 'okta':
      case 'iam-group':
      case 'iam-policy': {
        await requestAndApprove(w, run, FLOW_RESOURCE[kind], 'PT3S', signal);
        await until('access at the provider', () => hasAccess(w, person, FLOW_RESOURCE[kind]), { signal });
        run.reach('applied');
        return;
      }
      case 'emergency': {
        const cmd = await slash(w, person.id, 'prod-break PT3S INC-911 emergency crash drill', signal);
        run.reach('request');
        await until('access at the provider', () => hasAccess(w, person, 'prod-break'), { signal });
        run.reach('applied');
        await cmd.reply();
        return;
      }
      case 'end-early': {
        const requestId = await requestAndApprove(w, run, 'prod-db', 'PT20S', signal);
        await activeDm(w, person, requestId, signal);
        run.reach('applied');
        await slash(w, person.id, `end ${requestId}`, signal);
        run.reach('end');
        return;
      }
      case 'offboard': {
        const first = await requestAndApprove(w, run, 'prod-db', 'PT40S', signal);
        const cmd = await slash(w, person.id, 'prod-admin PT40S INC-77 crash drill', signal);
        const second = requestIdOf(await cmd.reply());
        await approve(w, second, signal);
        await activeDm(w, person, first, signal);
        await activeDm(w, person, second, signal);
        run.reach('applied');
        if (signal.aborted) throw new Aborted('user_change');
        w.slack.updateUser(person.id, { deleted: true });
        const res = await post(w.bot.baseUrl, eventCallback(userChangeEvent(w.slack.userObject(person.id))));
        if (res.status !== 200) throw new Error(`user_change answered ${res.status}`);
        run.reach('user_change');
        return;
      }
      case 'review': {
        // The person has prod-review through breakglass; a colleague has it granted by hand at Okta.
        const colleague = newPerson(w, { managed: true });
        run.second = colleague;
        w.okta.addMember('00gREVIEW', colleague.email);
        w.unmanaged.add(`${colleague.id}:prod-review`);
        const requestId = await requestAndApprove(w, run, 'prod-review', 'PT1M', signal);
        await activeDm(w, person, requestId, signal);
        run.reach('applied');
        if (signal.aborted) throw new Aborted('review start');
        const campaignId = await startCampaign(w, `CRASH-${person.id}`);
        const card = await until(`the manager's card for access review #${campaignId}`, () => {
          const c = reviewCard(w, campaignId);
          return c && reviewLine(c, person, 'prod-review') !== undefined && reviewLine(c, colleague, 'prod-review') !== undefined ? structuredClone(c) : undefined;
        }, { signal, timeoutMs: 120_000 });
        run.reach('review_card');
        await clickRevoke(w, card, reviewLine(card, colleague, 'prod-review')!, signal);
        run.reach('review_click');
        await clickRevoke(w, card, reviewLine(card, person, 'prod-review')!, signal);
        return;
      }
    }
  };
  run.done = body().catch((error: unknown) => {
    run.error = error;
  });
  return run;
}

// ---------------------------------------------------------------------------------------------
// Kill points

type Trigger =
  /** Hold a provider call of the flow's person: before the provider sees it, or after it applied it. */
  | { kind: 'wire'; server: 'okta' | 'iam'; op: 'add' | 'remove' | 'list'; phase: 'request' | 'response'; resource?: Resource; armAfter?: Stage; who?: 'second' }
  /** A seeded delay after a flow step. */
  | { kind: 'after'; stage: Stage; ms: number }
  /** Shortly after the restarted bot answers /healthz: while it recovers. */
  | { kind: 'ready'; ms: number };

interface Point {
  flow: FlowKind;
  /** The first fires during the flow; later ones during the recovery after each restart. */
  triggers: Trigger[];
}

function describeTrigger(t: Trigger): string {
  if (t.kind === 'wire') return `${t.server}:${t.op}${t.resource ? `(${t.resource})` : ''}${t.who ? '(colleague)' : ''}${t.armAfter ? `[after ${t.armAfter}]` : ''}@${t.phase === 'request' ? 'in-flight' : 'applied-unanswered'}`;
  if (t.kind === 'after') return `${t.stage}+${t.ms}ms`;
  return `ready+${t.ms}ms`;
}

function describePoint(p: Point): string {
  return `${p.flow} ${p.triggers.map(describeTrigger).join(' → restart → ')}`;
}

function wireRule(w: World, t: Extract<Trigger, { kind: 'wire' }>, run: FlowRun): HoldRule {
  const resource = t.resource ?? FLOW_RESOURCE[run.kind];
  const person = t.who === 'second' ? run.second! : run.person;
  const match = (call: ProxiedCall): boolean => {
    if (t.server === 'okta') {
      const group = OKTA_GROUP_OF[resource]!;
      if (t.op === 'list') return call.method === 'GET' && call.path === `/api/v1/groups/${group}/users`;
      return call.method === (t.op === 'add' ? 'PUT' : 'DELETE') && call.path === `/api/v1/groups/${group}/users/${person.oktaId}`;
    }
    const action = call.params.Action;
    if (t.op === 'list') return action === (resource === 'prod-logs' ? 'GetAccountAuthorizationDetails' : 'GetGroup');
    if (call.params.UserName !== person.email) return false;
    if (resource === 'prod-logs') return action === (t.op === 'add' ? 'PutUserPolicy' : 'DeleteUserPolicy');
    return action === (t.op === 'add' ? 'AddUserToGroup' : 'RemoveUserFromGroup');
  };
  return { name: describeTrigger(t), match, phase: t.phase };
}

/**
 * The catalogue. A CI run (CRASH_KILLS < 25) takes its database's head: six kills covering a grant,
 * an expiry or end-early revoke, an offboarding, a review revoke, a seeded delay and a kill during
 * recovery, different on each database. The full run takes both heads, then the rest, then seeded
 * delays after each flow step until it has enough distinct points.
 */
function catalogue(random: () => number): { pglite: Point[]; postgres: Point[]; rest: Point[] } {
  const wire = (server: 'okta' | 'iam', op: 'add' | 'remove' | 'list', phase: 'request' | 'response', extra: Partial<Extract<Trigger, { kind: 'wire' }>> = {}): Trigger => ({ kind: 'wire', server, op, phase, ...extra });
  const usedMs = new Set<string>();
  const after = (stage: Stage, flow: FlowKind, max: number): Trigger => {
    for (;;) {
      const ms = Math.floor(random() * max);
      if (!usedMs.has(`${flow}:${stage}:${ms}`)) {
        usedMs.add(`${flow}:${stage}:${ms}`);
        return { kind: 'after', stage, ms };
      }
    }
  };
  const pglite: Point[] = [
    { flow: 'okta', triggers: [wire('okta', 'add', 'response')] },
    { flow: 'offboard', triggers: [wire('okta', 'remove', 'response', { armAfter: 'user_change' })] },
    { flow: 'review', triggers: [wire('okta', 'remove', 'response', { who: 'second', armAfter: 'review_card' })] },
    { flow: 'iam-policy', triggers: [after('approve', 'iam-policy', 400)] },
    { flow: 'okta', triggers: [wire('okta', 'remove', 'response'), wire('okta', 'remove', 'request')] },
  ];
  const postgres: Point[] = [
    { flow: 'iam-group', triggers: [wire('iam', 'remove', 'request')] },
    { flow: 'end-early', triggers: [wire('okta', 'remove', 'response')] },
    { flow: 'review', triggers: [wire('okta', 'remove', 'request', { armAfter: 'review_card' })] },
    { flow: 'offboard', triggers: [after('user_change', 'offboard', 300)] },
    { flow: 'emergency', triggers: [wire('okta', 'add', 'request')] },
    { flow: 'iam-group', triggers: [wire('iam', 'add', 'response'), { kind: 'ready', ms: Math.floor(random() * 1_500) }] },
  ];
  const fixed: Point[] = [
    { flow: 'iam-policy', triggers: [wire('iam', 'add', 'response')] },
    { flow: 'offboard', triggers: [wire('iam', 'remove', 'request', { resource: 'prod-admin', armAfter: 'user_change' })] },
    { flow: 'review', triggers: [wire('okta', 'list', 'request', { armAfter: 'review_card' })] },
    { flow: 'review', triggers: [after('review_click', 'review', 500)] },
    { flow: 'review', triggers: [wire('okta', 'remove', 'response', { who: 'second', armAfter: 'review_card' }), wire('okta', 'remove', 'response', { who: 'second' })] },
    { flow: 'review', triggers: [wire('okta', 'remove', 'response', { armAfter: 'review_card' })] },
    { flow: 'iam-group', triggers: [wire('iam', 'add', 'response'), wire('iam', 'add', 'request')] },
    { flow: 'okta', triggers: [after('approve', 'okta', 300), { kind: 'ready', ms: Math.floor(random() * 1_500) }] },
    { flow: 'okta', triggers: [wire('okta', 'add', 'request')] },
    { flow: 'okta', triggers: [wire('okta', 'remove', 'request')] },
    { flow: 'iam-group', triggers: [wire('iam', 'add', 'request')] },
    { flow: 'iam-group', triggers: [wire('iam', 'remove', 'response'), wire('iam', 'remove', 'response')] },
    { flow: 'iam-policy', triggers: [wire('iam', 'add', 'request')] },
    { flow: 'iam-policy', triggers: [wire('iam', 'remove', 'request')] },
    { flow: 'iam-policy', triggers: [wire('iam', 'remove', 'response')] },
    { flow: 'emergency', triggers: [wire('okta', 'add', 'response')] },
    { flow: 'emergency', triggers: [wire('okta', 'remove', 'request')] },
    { flow: 'emergency', triggers: [wire('okta', 'remove', 'response')] },
    { flow: 'end-early', triggers: [wire('okta', 'remove', 'request')] },
    { flow: 'end-early', triggers: [after('end', 'end-early', 200)] },
    { flow: 'offboard', triggers: [wire('okta', 'remove', 'request', { armAfter: 'user_change' })] },
    { flow: 'offboard', triggers: [wire('iam', 'remove', 'response', { resource: 'prod-admin', armAfter: 'user_change' })] },
    { flow: 'offboard', triggers: [wire('okta', 'list', 'request', { armAfter: 'user_change' })] },
    { flow: 'offboard', triggers: [wire('iam', 'list', 'response', { resource: 'prod-admin', armAfter: 'user_change' })] },
    { flow: 'offboard', triggers: [wire('okta', 'remove', 'response', { armAfter: 'user_change' }), wire('okta', 'remove', 'response')] },
    { flow: 'emergency', triggers: [after('request', 'emergency', 400)] },
    { flow: 'okta', triggers: [after('request', 'okta', 300)] },
    { flow: 'iam-group', triggers: [after('approve', 'iam-group', 300)] },
    { flow: 'okta', triggers: [after('applied', 'okta', 3_500)] },
  ];
  const steps: Array<[FlowKind, Stage, number]> = [
    ['okta', 'approve', 400],
    ['okta', 'applied', 4_000],
    ['iam-group', 'approve', 400],
    ['iam-group', 'applied', 4_000],
    ['iam-policy', 'approve', 400],
    ['iam-policy', 'applied', 4_000],
    ['emergency', 'request', 500],
    ['emergency', 'applied', 4_000],
    ['end-early', 'end', 300],
    ['offboard', 'user_change', 500],
    ['review', 'review_click', 600],
  ];
  const more: Point[] = [];
  for (let i = 0; i < 200; i++) {
    const [flow, stage, max] = steps[i % steps.length]!;
    more.push({ flow, triggers: [after(stage, flow, max)] });
  }
  return { pglite, postgres, rest: [...fixed, ...more] };
}

// ---------------------------------------------------------------------------------------------
// Inspection: the database as the crash left it (the bot is dead), against the providers.

type GrantRow = typeof grants.$inferSelect;
type EventRow = typeof evidenceEvents.$inferSelect;
type ItemRow = typeof reviewItems.$inferSelect;

interface Snapshot {
  at: number;
  grants: GrantRow[];
  items: ItemRow[];
  events: EventRow[];
  requests: Array<typeof accessRequests.$inferSelect>;
  verify: { ok: boolean; count: number; problem?: unknown };
}

async function openDb(w: World): Promise<Database> {
  return openDatabase({ databaseUrl: w.env.DATABASE_URL, dataDir: w.env.DATA_DIR ?? '', holder: 'the crash-safety test' });
}

async function snapshot(w: World): Promise<Snapshot> {
  const database = await openDb(w);
  try {
    const db = database.db;
    const [grantRows, items, events, requests, verify] = [
      await db.select().from(grants).orderBy(grants.id),
      await db.select().from(reviewItems).orderBy(reviewItems.id),
      await db.select().from(evidenceEvents).orderBy(evidenceEvents.seq),
      await db.select().from(accessRequests).orderBy(accessRequests.id),
      await verifyLedger(db),
    ];
    return { at: Date.now(), grants: grantRows, items, events, requests, verify };
  } finally {
    await database.close();
  }
}

const LIVE = new Set(['granting', 'active', 'revoking']);

function eventFor(s: Snapshot, kind: string, grantId: number): EventRow | undefined {
  // A review revoke names the grant it was about, and every breakglass grant it ended (grants_ended).
  return s.events.find((e) => e.kind === kind && (Number(e.details.grant_id) === grantId || (Array.isArray(e.details.grants_ended) && (e.details.grants_ended as unknown[]).map(Number).includes(grantId))));
}

/** The review lines about this person's access to this resource. */
function itemsOf(s: Snapshot, person: Person, resource: string): ItemRow[] {
  return s.items.filter((i) => i.resource === resource && (i.personSlack === person.id || i.principal.toLowerCase() === person.email || i.email?.toLowerCase() === person.email));
}

/** `grant.revoked` written by a review revoke of this person's access to this resource. */
function reviewRevokedEvent(s: Snapshot, person: Person, resource: string): EventRow | undefined {
  const ids = new Set(itemsOf(s, person, resource).map((i) => i.id));
  return s.events.find((e) => e.kind === 'grant.revoked' && e.details.reason === 'review' && ids.has(Number(e.details.item_id)));
}

/** What must hold in any state a crash leaves. Returns the problems found. */
function crashInvariants(w: World, s: Snapshot): string[] {
  const problems: string[] = [];
  if (!s.verify.ok) problems.push(`the evidence chain does not verify: ${JSON.stringify(s.verify.problem)}`);
  for (const g of s.grants) {
    const label = `grant ${g.id} (request #${g.requestId}, ${g.person}, ${g.resource}, ${g.state})`;
    if (['active', 'revoking', 'revoked'].includes(g.state) && !eventFor(s, 'grant.applied', g.id)) problems.push(`${label} has no grant.applied`);
    if (g.state === 'revoked' && !eventFor(s, 'grant.revoked', g.id)) problems.push(`${label} has no grant.revoked`);
    if (g.state === 'failed' && !eventFor(s, 'grant.failed', g.id)) problems.push(`${label} has no grant.failed`);
    if (g.state === 'granting' && eventFor(s, 'grant.applied', g.id)) problems.push(`${label} is still granting but has grant.applied`);
    const approved = s.events.some((e) => e.kind === 'request.approved' && e.requestId === String(g.requestId) && e.details.final === true);
    if (!approved) problems.push(`${label} exists without a final request.approved`);
  }
  // Access at the provider must belong to a grant the bot will still finish.
  for (const person of w.people.values()) {
    for (const resource of RESOURCES) {
      const mine = s.grants.filter((g) => g.person === person.id && g.resource === resource);
      const live = mine.filter((g) => LIVE.has(g.state));
      const items = itemsOf(s, person, resource);
      const reviewPending = items.some((i) => i.revokeState === 'pending');
      const reviewRevoked = items.some((i) => i.revokeState === 'revoked');
      const access = hasAccess(w, person, resource);
      if (access && reviewRevoked) problems.push(`${person.id}'s ${resource} is recorded as revoked by a review, but the provider still has it`);
      if (access && live.length === 0 && !w.unmanaged.has(`${person.id}:${resource}`)) {
        problems.push(`${person.id} has ${resource} at the provider, but no grant that the bot will still finish (${mine.map((g) => `grant ${g.id} ${g.state}`).join(', ') || 'no grant at all'})`);
      }
      for (const g of mine) {
        // A review revoke in progress removes the access before it ends the grant in the same commit as its evidence.
        if (g.state === 'active' && g.endsAt.getTime() > s.at && !access && !reviewPending) problems.push(`grant ${g.id} is active in the database but ${person.id} has no ${resource} at the provider`);
        if (g.state === 'active' && reviewRevoked) problems.push(`grant ${g.id} is still active after a review revoked ${person.id}'s ${resource}`);
      }
    }
  }
  // Every change the provider saw belongs to a grant that has its evidence or will get it.
  for (const change of providerChanges(w)) {
    const mine = s.grants.filter((g) => g.person === change.person && g.resource === change.resource);
    const label = `${change.op} of ${change.resource} for ${change.person} at ${new Date(change.at).toISOString()}`;
    const person = w.people.get(change.person)!;
    if (change.op === 'remove' && itemsOf(s, person, change.resource).some((i) => i.revokeState === 'pending' || (i.revokeState === 'revoked' && reviewRevokedEvent(s, person, change.resource)))) continue;
    if (mine.length === 0) {
      problems.push(`the provider saw the ${label}, but no grant exists for it`);
      continue;
    }
    const explained = mine.some((g) => {
      if (g.state === 'granting' || g.state === 'revoking') return true; // recovery finishes and records it
      if (change.op === 'add') return Boolean(eventFor(s, 'grant.applied', g.id) || eventFor(s, 'grant.failed', g.id));
      return Boolean(eventFor(s, 'grant.revoked', g.id) || eventFor(s, 'grant.failed', g.id));
    });
    if (!explained) problems.push(`the provider saw the ${label}, with no evidence and no recovery pending (${mine.map((g) => `grant ${g.id} ${g.state}`).join(', ')})`);
  }
  return problems;
}

/** After a clean stop: nothing in flight, every provider change matched by its evidence event. */
function finalInvariants(w: World, s: Snapshot): string[] {
  const problems = crashInvariants(w, s);
  for (const g of s.grants) if (LIVE.has(g.state)) problems.push(`grant ${g.id} (request #${g.requestId}) is still ${g.state} at the end`);
  for (const item of s.items) if (item.revokeState === 'pending') problems.push(`review line ${item.id} (${item.principal}, ${item.resource}) is still waiting to be revoked at the end`);
  for (const person of w.people.values()) {
    for (const resource of RESOURCES) {
      // Access granted by hand and never reviewed away is legitimately still there.
      const handGranted = w.unmanaged.has(`${person.id}:${resource}`) && !itemsOf(s, person, resource).some((i) => i.decision === 'revoke');
      if (hasAccess(w, person, resource) && !handGranted) problems.push(`${person.id} still has ${resource} at the provider at the end`);
    }
  }
  const changes = providerChanges(w);
  for (const change of changes) {
    const mine = s.grants.filter((g) => g.person === change.person && g.resource === change.resource);
    if (change.op === 'remove' && reviewRevokedEvent(s, w.people.get(change.person)!, change.resource)) continue;
    const label = `${change.op} of ${change.resource} for ${change.person} at ${new Date(change.at).toISOString()}`;
    if (change.op === 'add') {
      // Applied and recorded, or failed, cleaned up at the provider afterwards, and recorded.
      const ok =
        mine.some((g) => eventFor(s, 'grant.applied', g.id)) ||
        mine.some((g) => eventFor(s, 'grant.failed', g.id)?.details.provider_cleanup === 'revoked' && changes.some((c) => c.op === 'remove' && c.person === change.person && c.resource === change.resource && c.at >= change.at));
      if (!ok) problems.push(`the provider saw the ${label}, but the ledger has neither grant.applied nor a cleaned-up grant.failed for it`);
    } else {
      const ok =
        mine.some((g) => eventFor(s, 'grant.revoked', g.id)?.details.provider_call === 'revoked') ||
        mine.some((g) => eventFor(s, 'grant.failed', g.id)?.details.provider_cleanup === 'revoked') ||
        s.events.some((e) => e.kind === 'offboarding.completed' && (e.details.systems as Array<{ resource: string; outcome: string }>).some((x) => x.resource === change.resource && x.outcome === 'revoked') && e.subject === w.people.get(change.person)?.email);
      if (!ok) problems.push(`the provider saw the ${label}, but the ledger has no grant.revoked (provider_call revoked) for it`);
    }
  }
  for (const d of s.events.filter((e) => e.kind === 'offboarding.detected')) {
    if (openOffboardings(s).includes(`${d.subject} (event ${d.seq})`)) problems.push(`offboarding of ${d.subject} (event ${d.seq}) never completed`);
  }
  return problems;
}

/** Offboardings detected and not completed since, as "subject (event seq)". */
function openOffboardings(s: Snapshot): string[] {
  return s.events
    .filter((d) => d.kind === 'offboarding.detected' && !s.events.some((e) => e.kind === 'offboarding.completed' && e.subject === d.subject && e.seq > d.seq))
    .map((d) => `${d.subject} (event ${d.seq})`);
}

// ---------------------------------------------------------------------------------------------
// Convergence after a restart, measured at the provider.

interface Due {
  /** A review line to revoke, rather than a grant to end (grantId is then -itemId). */
  review?: { itemId: number; campaignId: number };
  grantId: number;
  requestId: number;
  person: Person;
  resource: string;
  endsAt: number;
  emergency: boolean;
  state: string;
  /** The provider still gave the access when the crash was inspected: the restarted bot had provider work to do. */
  accessAtKill: boolean;
}

interface RestartFigure {
  kill: number;
  db: DatabaseKind;
  spawnAt: number;
  readyAt: number;
  startMs: number;
  grants: Array<{
    reviewItem?: number;
    grantId: number;
    requestId: number;
    resource: string;
    stateAtKill: string;
    accessAtKill: boolean;
    dueBeforeReady: boolean;
    /** From the restarted bot answering /healthz to the provider's last accepted removal (0: removed before the restart). */
    readyToProviderMs: number;
    spawnToProviderMs: number;
    /** From the end (for grants ending after the restart) to the provider's removal. */
    endToProviderMs: number;
    /** From ready to the terminal evidence event (grant.revoked / grant.failed), filled in at the next inspection. */
    readyToEvidenceMs?: number;
    evidence?: string;
  }>;
}

/** The approver's card (or, for an emergency grant, the holder's DM) says the grant is over: its evidence is committed. */
/** The manager's review card says this person's line was removed at the provider (recorded: the card renders the database). */
function reviewLineRemoved(w: World, person: Person, resource: string, campaignId?: number): boolean {
  const name = `*Crash ${person.email.replace(/^crash(\d+)@.*$/, '$1')}*`;
  return w.slack
    .messagesTo(MANAGER)
    .filter((m) => campaignId === undefined || (m.text ?? '').startsWith(`Access review #${campaignId} (`))
    .some((card) =>
      ((card.blocks ?? []) as Array<Record<string, unknown>>).some((b) => {
        const text = String((b.text as { text?: string } | undefined)?.text ?? '');
        return b.type === 'section' && text.startsWith(name) && text.includes(`\`${resource}\``) && text.includes('removed at the provider');
      }),
    );
}

function overInSlack(w: World, d: Due): boolean {
  // A review revoke shows on the manager's card (and ends the person's breakglass grant with it).
  const reviewed = reviewLineRemoved(w, d.person, d.resource, d.review?.campaignId);
  if (d.review || reviewed) return reviewed;
  if (d.emergency) {
    return w.slack.messagesTo(d.person.id).some((m) => new RegExp(`(has ended \\(request #${d.requestId}[,)])|(could not be granted \\(request #${d.requestId}\\))`).test(textOf(m)));
  }
  const card = approvalCard(w, d.requestId);
  return Boolean(card && /(access ended|granting failed)$/.test(card.text ?? ''));
}

/**
 * When the provider last took this access away: the accepted changes replayed in order (an
 * idempotent repeat of a removal changes nothing and does not count).
 */
function accessEndedAt(w: World, person: Person, resource: string): number | undefined {
  let member = w.unmanaged.has(`${person.id}:${resource}`);
  let ended: number | undefined;
  for (const c of providerChanges(w)) {
    if (c.person !== person.id || c.resource !== resource) continue;
    if (c.op === 'add') member = true;
    else if (member) {
      member = false;
      ended = c.at;
    }
  }
  return ended;
}

async function converge(w: World, live: Due[], spawnAt: number, readyAt: number, kill: number): Promise<RestartFigure> {
  const figure: RestartFigure = { kill, db: w.kind, spawnAt, readyAt, startMs: readyAt - spawnAt, grants: [] };
  for (const d of live) {
    const deadline = Math.max(readyAt + RESTART_BOUND_MS, d.endsAt + EXPIRY_BOUND_MS) + 30_000;
    const what = d.review ? `review line ${d.review.itemId} (${d.person.id}, ${d.resource})` : `grant ${d.grantId} (request #${d.requestId}, ${d.resource})`;
    await until(`${what} revoked at the provider and recorded`, () => !hasAccess(w, d.person, d.resource) && overInSlack(w, d), {
      timeoutMs: deadline - Date.now(),
      everyMs: 50,
    }).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n  provider has access: ${hasAccess(w, d.person, d.resource)}; Slack says over: ${overInSlack(w, d)}\n  bot log: ${w.logFile}\n${botTail(w)}`);
    });
    const removedAt = Math.max(accessEndedAt(w, d.person, d.resource) ?? readyAt, spawnAt);
    figure.grants.push({
      ...(d.review ? { reviewItem: d.review.itemId } : {}),
      grantId: d.grantId,
      requestId: d.requestId,
      resource: d.resource,
      stateAtKill: d.state,
      accessAtKill: d.accessAtKill,
      dueBeforeReady: d.endsAt <= readyAt,
      readyToProviderMs: Math.max(0, removedAt - readyAt),
      spawnToProviderMs: Math.max(0, removedAt - spawnAt),
      endToProviderMs: Math.max(0, removedAt - Math.max(d.endsAt, readyAt)),
    });
  }
  return figure;
}

/** Fills in the evidence times of the previous restart's grants from the ledger. */
function evidenceTimes(figure: RestartFigure | undefined, s: Snapshot): void {
  if (!figure) return;
  for (const g of figure.grants) {
    const event =
      g.reviewItem !== undefined
        ? s.events.find((e) => e.kind === 'grant.revoked' && Number(e.details.item_id) === g.reviewItem)
        : (eventFor(s, 'grant.revoked', g.grantId) ?? eventFor(s, 'grant.failed', g.grantId));
    if (!event) continue;
    g.evidence = event.kind;
    g.readyToEvidenceMs = Math.max(0, event.occurredAt.getTime() - figure.readyAt);
  }
}

function boundProblems(figure: RestartFigure | undefined): string[] {
  if (!figure) return [];
  const problems: string[] = [];
  for (const g of figure.grants) {
    if (g.dueBeforeReady && g.readyToProviderMs > RESTART_BOUND_MS) problems.push(`kill ${figure.kill}: grant ${g.grantId} was revoked at the provider ${g.readyToProviderMs} ms after the restart (bound ${RESTART_BOUND_MS} ms)`);
    if (!g.dueBeforeReady && g.endToProviderMs > EXPIRY_BOUND_MS) problems.push(`kill ${figure.kill}: grant ${g.grantId} was revoked at the provider ${g.endToProviderMs} ms after its end (bound ${EXPIRY_BOUND_MS} ms)`);
    if (g.readyToEvidenceMs !== undefined && g.dueBeforeReady && g.readyToEvidenceMs > RESTART_BOUND_MS) problems.push(`kill ${figure.kill}: grant ${g.grantId}'s ${g.evidence} was recorded ${g.readyToEvidenceMs} ms after the restart (bound ${RESTART_BOUND_MS} ms)`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The run

interface KillRecord {
  n: number;
  db: DatabaseKind;
  point: string;
  trigger: string;
  at: string;
  /** Grant states the crash left, e.g. { granting: 1, active: 2 }. */
  left: Record<string, number>;
  background: string[];
}

function summarize(values: number[]): string {
  if (values.length === 0) return 'n/a';
  const sorted = [...values].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return `n=${sorted.length} median=${q(0.5)} ms p90=${q(0.9)} ms max=${sorted.at(-1)} ms`;
}

async function crashRun(kind: DatabaseKind): Promise<{ kills: KillRecord[]; figures: RestartFigure[]; logFile: string }> {
  const w = await createWorld(kind);
  const random = rng(SEED + (kind === 'postgres' ? 1 : 0));
  const all = catalogue(random);
  const ordered = KILLS >= 25 ? [...all[kind], ...all[kind === 'pglite' ? 'postgres' : 'pglite'], ...all.rest] : [...all[kind], ...all.rest];
  // CRASH_FLOWS=review,offboard: only points of those flows (to chase one problem).
  const only = process.env.CRASH_FLOWS?.split(',').map((f) => f.trim());
  const points = only ? ordered.filter((p) => only.includes(p.flow)) : ordered;
  const kills: KillRecord[] = [];
  const figures: RestartFigure[] = [];
  const problems: string[] = [];
  const began = Date.now();
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const log = (line: string) => {
    console.log(`[crash ${kind} +${secs(Date.now() - began)}] ${line}`);
    appendFileSync(w.logFile, `# ${line}\n`);
  };
  log(`seed ${SEED}, ${KILLS} kills, bot log ${w.logFile}`);
  let passed = false;

  const inspect = async (label: string): Promise<Snapshot> => {
    const s = await snapshot(w);
    const found = crashInvariants(w, s);
    evidenceTimes(figures.at(-1), s);
    for (const p of found) problems.push(`${label}: ${p}`);
    if (found.length > 0) log(`${label}: ${found.length} problem(s):\n  ${found.join('\n  ')}`);
    return s;
  };
  const personOfItem = (i: ItemRow): Person => [...w.people.values()].find((p) => p.id === i.personSlack || p.email === i.principal.toLowerCase())!;
  const dueOf = (s: Snapshot): Due[] => [
    ...s.grants
      .filter((g) => LIVE.has(g.state))
      .map((g) => ({ grantId: g.id, requestId: g.requestId, person: w.people.get(g.person)!, resource: g.resource, endsAt: g.endsAt.getTime(), emergency: g.emergency, state: g.state, accessAtKill: hasAccess(w, w.people.get(g.person)!, g.resource) })),
    // A decided review revoke is due at once.
    ...s.items
      .filter((i) => i.revokeState === 'pending')
      .map((i) => ({
        accessAtKill: hasAccess(w, personOfItem(i), i.resource),
        review: { itemId: i.id, campaignId: i.campaignId },
        grantId: -i.id,
        requestId: i.requestId ?? 0,
        person: personOfItem(i),
        resource: i.resource,
        endsAt: (i.decidedAt ?? new Date(s.at)).getTime(),
        emergency: false,
        state: 'review revoke pending',
      })),
  ];

  try {
    let start = await w.bot.start();
    log(`first start took ${start.startMs} ms`);
    let index = 0;
    while (kills.length < KILLS) {
      const point = points[index++];
      if (!point) throw new Error('ran out of kill points');
      const label = describePoint(point);
      // Where a point's time goes (printed with the restart): the flow up to the kill, the inspections, the restart, the wait for every grant to end.
      const phase = { began: Date.now(), inspecting: 0 };
      const abort = new AbortController();
      const main = newPerson(w, { managed: point.flow === 'review' });
      const run = startFlow(w, point.flow, main, abort.signal);
      // Other flows run at the same time and are cut wherever the kill finds them.
      const background: FlowRun[] = [];
      const others: FlowKind[] = ['okta', 'iam-group', 'iam-policy', 'emergency'];
      // (Not with a review: on PGlite starting the campaign restarts the bot under them.)
      const extra = point.flow === 'review' ? 0 : Math.floor(random() * 3);
      for (let i = 0; i < extra; i++) {
        const kindOf = others[Math.floor(random() * others.length)]!;
        const delay = Math.floor(random() * 800);
        const person = newPerson(w);
        const handle = new FlowRun(kindOf, person);
        background.push(handle);
        handle.done = sleep(delay).then(() => {
          const started = startFlow(w, kindOf, person, abort.signal);
          return started.done.then(() => void (handle.error = started.error));
        });
      }

      let lastReady = Date.now();
      let lastSpawn = Date.now();
      let snap: Snapshot | undefined;
      // A point with a second kill during recovery gets it only while the budget lasts.
      for (const [i, trigger] of point.triggers.slice(0, KILLS - kills.length).entries()) {
        let fired: string;
        const fail = (why: string) => new Error(`kill point "${label}": ${why}${run.error ? ` (flow error: ${String(run.error)})` : ''}\n  bot log: ${w.logFile}\n${botTail(w)}`);
        if (trigger.kind === 'wire') {
          if (i === 0 && trigger.armAfter) {
            await Promise.race([run.reached(trigger.armAfter), run.done]);
            if (!run.passed.has(trigger.armAfter)) throw fail(`the flow ended before ${trigger.armAfter}`);
          }
          const proxy = trigger.server === 'okta' ? w.oktaProxy : w.iamProxy;
          const held = proxy.arm(wireRule(w, trigger, run));
          if (i > 0) {
            const spawnAt = Date.now();
            const started = await w.bot.start();
            lastSpawn = spawnAt;
            lastReady = spawnAt + started.startMs;
          }
          // (Only the first trigger waits on the flow: later ones come from the recovery, after the flow was cut.)
          const flowFailed = new Promise<'failed'>((resolve) => void run.done.then(() => i === 0 && run.error && !(run.error instanceof Aborted) && resolve('failed')));
          const got = await Promise.race([held, flowFailed, sleep(TRIGGER_TIMEOUT_MS).then(() => undefined)]);
          if (got === 'failed') throw fail('the flow failed before the held call came');
          if (!got) {
            proxy.disarm();
            if (i === 0) throw fail(`the held call never came within ${TRIGGER_TIMEOUT_MS} ms`);
            log(`kill point "${label}": the recovery never made the call ${describeTrigger(trigger)}; no second kill`);
            break;
          }
          fired = `${got.call.method} ${got.call.path}${got.call.params.Action ? ` ${got.call.params.Action}` : ''}${got.upstreamStatus ? ` (provider answered ${got.upstreamStatus}, answer withheld)` : ' (held before the provider)'}`;
        } else if (trigger.kind === 'after') {
          if (i > 0) throw fail('a delay after a flow step can only be the first trigger');
          const reached = await Promise.race([run.reached(trigger.stage).then(() => true), run.done.then(() => run.passed.has(trigger.stage)), sleep(TRIGGER_TIMEOUT_MS).then(() => false)]);
          if (!reached) throw fail(`the flow never reached ${trigger.stage}`);
          await sleep(trigger.ms);
          fired = `${trigger.ms} ms after ${trigger.stage}`;
        } else {
          const spawnAt = Date.now();
          const started = await w.bot.start();
          lastSpawn = spawnAt;
          lastReady = spawnAt + started.startMs;
          await sleep(trigger.ms);
          fired = `${trigger.ms} ms after the restarted bot answered /healthz (${started.startMs} ms start)`;
        }
        abort.abort();
        await w.bot.kill();
        w.oktaProxy.disarm();
        w.iamProxy.disarm();
        w.oktaProxy.dropHeld();
        w.iamProxy.dropHeld();
        const at = new Date().toISOString();
        await Promise.allSettled([run.done, ...background.map((b) => b.done)]);
        const n = kills.length + 1;
        const inspectBegan = Date.now();
        snap = await inspect(`kill ${n} (${label})`);
        phase.inspecting += Date.now() - inspectBegan;
        const left: Record<string, number> = {};
        for (const g of snap.grants) if (LIVE.has(g.state)) left[g.state] = (left[g.state] ?? 0) + 1;
        kills.push({ n, db: kind, point: `${label} [#${i + 1}]`, trigger: fired, at, left, background: background.map((b) => b.kind) });
        log(`kill ${n}: ${label} [#${i + 1}] — ${fired}; left in flight: ${JSON.stringify(left)}; background: ${background.map((b) => b.kind).join(', ') || 'none'}`);
      }

      // Restart and wait for every grant the crash left to end at the provider, with its evidence.
      const due = dueOf(snap!);
      if (!w.bot.running) {
        const spawnAt = Date.now();
        start = await w.bot.start();
        lastSpawn = spawnAt;
        lastReady = spawnAt + start.startMs;
      }
      const convergeBegan = Date.now();
      const figure = await converge(w, due, lastSpawn, lastReady, kills.length);
      figures.push(figure);
      const converged = Date.now();
      log(
        `restart after kill ${kills.length}: start ${lastReady - lastSpawn} ms; point took ${secs(converged - phase.began)} (convergence ${secs(converged - convergeBegan)}, inspection ${secs(phase.inspecting)}); ${figure.grants.length} grant(s) to end: ` +
          (figure.grants.map((g) => `${g.reviewItem !== undefined ? `review line ${g.reviewItem}` : `#${g.grantId}`} ${g.stateAtKill}${g.dueBeforeReady ? '' : ' (ends later)'} → provider +${g.readyToProviderMs} ms`).join(', ') || 'none'),
      );
    }

    // The end: let the last restart finish, stop cleanly, and check everything. An offboarding whose
    // check a kill cut short completes at a check after the restart, which the grants above do not
    // wait for: while one is open at the stop, the bot runs again, within the restart bound.
    const finishBy = Date.now() + RESTART_BOUND_MS;
    let final: Snapshot;
    for (;;) {
      await sleep(2_000);
      const code = await w.bot.stop(60_000);
      expect(code).toBe(0);
      final = await snapshot(w);
      const open = openOffboardings(final);
      if (open.length === 0 || Date.now() > finishBy) break;
      log(`offboarding of ${open.join(', ')} still open at the stop: the bot runs again`);
      await w.bot.start();
    }
    evidenceTimes(figures.at(-1), final);
    for (const p of finalInvariants(w, final)) problems.push(`final: ${p}`);
    for (const f of figures) problems.push(...boundProblems(f));
    const cli = await runCli(['evidence', 'verify'], Object.fromEntries(Object.entries(w.env).filter(([k]) => k === 'DATABASE_URL' || k === 'DATA_DIR')));
    if (cli.code !== 0) problems.push(`evidence verify exited ${cli.code}: ${cli.stdout}${cli.stderr}`);
    log(`evidence verify: ${cli.stdout.trim()}`);
    log(`${final.grants.length} grants, ${final.events.length} events, ${providerChanges(w).length} provider changes`);

    // Figures over the grants and review lines that were past their end at the restart and still had access at the provider.
    const work = figures.flatMap((f) => f.grants.filter((g) => g.dueBeforeReady && g.accessAtKill));
    const pending = figures.flatMap((f) => f.grants.filter((g) => g.dueBeforeReady && g.readyToEvidenceMs !== undefined));
    log(`restart (healthz) → revoked at the provider, access still there at the kill: ${summarize(work.map((g) => g.readyToProviderMs))}`);
    log(`restart (spawn) → revoked at the provider, same grants: ${summarize(work.map((g) => g.spawnToProviderMs))}`);
    log(`restart (healthz) → grant.revoked/grant.failed recorded, every grant past its end at the restart: ${summarize(pending.map((g) => g.readyToEvidenceMs!))}`);
    log(`grants/lines past their end at a restart: ${pending.length}, of which still with access at the provider: ${work.length}`);
    log(`bot start (spawn → healthz): ${summarize(figures.map((f) => f.startMs))}`);
    if (problems.length > 0) log(`PROBLEMS:\n  ${problems.join('\n  ')}`);
    expect(problems).toEqual([]);
    expect(new Set(kills.map((k) => k.point)).size).toBe(kills.length);
    passed = true;
    return { kills, figures, logFile: w.logFile };
  } finally {
    await closeWorld(w);
    // A failed run keeps its folder (database, access.yml, the bot's log) for diagnosis.
    if (passed) rmSync(w.folder, { recursive: true, force: true });
  }
}

const report: Record<string, unknown> = { seed: SEED, killsPerDatabase: KILLS };

describe('crash safety: kill -9 at many points, restart, everything ends at the provider with its evidence', () => {
  afterAll(() => {
    const path = process.env.CRASH_REPORT ?? join(tmpdir(), `breakglass-crash-report-${Date.now()}.json`);
    writeFileSync(path, JSON.stringify(report, null, 2));
    console.log(`[crash] report written to ${path}`);
  });

  for (const kind of ['pglite', 'postgres'] as const) {
    const skip = !DATABASES.includes(kind) || (kind === 'postgres' && !postgresAvailable);
    // The two databases run side by side: each has its own wire servers, proxies and bot process.
    (skip ? it.skip : it.concurrent)(
      `[${kind}] ${KILLS} kills, each at a different point`,
      async () => {
        const result = await crashRun(kind);
        report[kind] = result;
        expect(result.kills).toHaveLength(KILLS);
      },
      KILLS * 180_000 + 300_000,
    );
  }
});
