/**
 * A local Slack Web API for tests: answers what @slack/web-api (and so Bolt) sends, keeps the
 * resulting workspace state in memory, and checks every call against Slack's own OpenAPI spec
 * (peers/slack/slack_web_openapi_v3.sdk-compat.json). A call Slack would not accept as written
 * is recorded in `violations`, so a test can end with `expect(slack.violations).toEqual([])`.
 *
 * Point Bolt at it with `clientOptions: { slackApiUrl: slack.apiUrl }`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { peersPath } from './slack-requests.ts';

// ---------------------------------------------------------------------------------------------
// Types

export type Block = Record<string, unknown> & { type: string };

export interface DirectoryUser {
  id: string;
  name: string;
  email?: string;
  real_name?: string;
  deleted?: boolean;
  is_bot?: boolean;
  tz?: string;
}

export interface ApiCall {
  method: string;
  /** Decoded request parameters (form values are strings, as sent). The token is not kept. */
  params: Record<string, unknown>;
  /** Epoch milliseconds. */
  at: number;
  status: number;
  /** The `error` of an `{ ok: false }` answer. */
  error?: string;
}

export type ViolationKind =
  | 'unknown_method'
  | 'missing_param'
  | 'invalid_param'
  | 'auth'
  | 'missing_scope'
  | 'invalid_blocks'
  | 'unimplemented'
  | 'bad_request';

export interface Violation {
  kind: ViolationKind;
  method: string;
  detail: string;
  params: Record<string, unknown>;
}

export interface StoredMessage {
  channel: string;
  ts: string;
  text?: string;
  blocks?: Block[];
  attachments?: unknown[];
  threadTs?: string;
  postedAt: number;
  updatedAt?: number;
  deleted: boolean;
  /** Earlier versions, oldest first, as chat.update replaced them. */
  history: Array<{ text?: string; blocks?: Block[]; at: number }>;
}

export interface StoredEphemeral {
  channel: string;
  user: string;
  ts: string;
  text?: string;
  blocks?: Block[];
  at: number;
}

export interface StoredView {
  id: string;
  team_id: string;
  type: 'home' | 'modal';
  blocks: Block[];
  callback_id: string;
  private_metadata: string;
  external_id: string;
  hash: string;
  title?: unknown;
  submit?: unknown;
  close?: unknown;
  state: { values: Record<string, unknown> };
  app_id: string;
  bot_id: string;
  root_view_id: string;
  previous_view_id: string | null;
  [key: string]: unknown;
}

export interface StoredFile {
  id: string;
  filename: string;
  length: number;
  title?: string;
  /** The bytes posted to the upload URL; undefined until then. */
  content?: Buffer;
  completed: boolean;
  channelId?: string;
  initialComment?: string;
  threadTs?: string;
}

export interface ResponsePost {
  name: string;
  body: Record<string, unknown>;
  at: number;
}

/**
 * A channel the server models: who is in it, whether the bot is, and whether it is private or
 * archived. Slack refuses the bot's post to a public channel it is not in (not_in_channel) and
 * hides a private one from it altogether (channel_not_found).
 */
export interface ChannelSpec {
  name?: string;
  members: string[];
  botIsMember?: boolean;
  isPrivate?: boolean;
  isArchived?: boolean;
}

export type Failure = { status: number; body?: string } | { error: string; extra?: Record<string, unknown> };

export interface SlackServerOptions {
  /** Bot token the server accepts; default 'xoxb-test-token'. */
  token?: string;
  teamId?: string;
  botId?: string;
  botUserId?: string;
  appId?: string;
  users?: DirectoryUser[];
  /** Usergroup id → member user ids. */
  usergroups?: Record<string, string[]>;
  /** Channels modelled as Slack does for membership (others take any post, as before). */
  channels?: Record<string, ChannelSpec>;
  /**
   * Bot scopes granted. Default: the bot scopes in the repo's manifest.yml, so a call needing a
   * scope the manifest does not ask for fails here as it would in Slack. 'unchecked' turns it off.
   */
  scopes?: readonly string[] | 'unchecked';
}

// ---------------------------------------------------------------------------------------------
// The spec

interface ParamRule {
  required: Set<string>;
  types: Map<string, string>;
  /** Scopes of which any one suffices (Slack lists alternatives, e.g. chat:write:user/bot). */
  scopes: string[];
}
type MethodRules = { get?: ParamRule; post?: ParamRule };

/**
 * Methods newer than the 2020 spec. Their rules come from Slack's method reference pages
 * (files.getUploadURLExternal: filename, length; files.completeUploadExternal: files), which
 * @slack/web-api's filesUploadV2 calls; files.upload itself was retired in 2025.
 */
const ALLOW_LISTED: Record<string, ParamRule> = {
  'files.getUploadURLExternal': {
    required: new Set(['filename', 'length']),
    types: new Map([
      ['filename', 'string'],
      ['length', 'integer'],
      ['alt_text', 'string'],
      ['snippet_type', 'string'],
    ]),
    scopes: ['files:write'],
  },
  'files.completeUploadExternal': {
    required: new Set(['files']),
    types: new Map([
      ['files', 'string'],
      ['channel_id', 'string'],
      ['initial_comment', 'string'],
      ['thread_ts', 'string'],
    ]),
    scopes: ['files:write'],
  },
};

/** 2020 scope names the spec uses → the granular bot scopes apps are granted today. */
const MODERN_SCOPE: Record<string, string> = {
  'chat:write:bot': 'chat:write',
  'chat:write:user': 'chat:write',
  'files:write:user': 'files:write',
};

let specCache: Map<string, MethodRules> | undefined;

interface OpenApiOperation {
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: { type?: string } }>;
  requestBody?: { $ref?: string; content?: Record<string, { schema?: OpenApiSchema }> };
  security?: Array<Record<string, string[]>>;
}
interface OpenApiSchema {
  properties?: Record<string, { type?: string }>;
  required?: string[];
}

function loadSpec(): Map<string, MethodRules> {
  if (specCache) return specCache;
  const spec = JSON.parse(readFileSync(peersPath('slack', 'slack_web_openapi_v3.sdk-compat.json'), 'utf8')) as {
    paths: Record<string, Record<string, OpenApiOperation>>;
    components: { requestBodies?: Record<string, OpenApiOperation['requestBody']> };
  };
  const rules = new Map<string, MethodRules>();
  for (const [path, ops] of Object.entries(spec.paths)) {
    const entry: MethodRules = {};
    for (const verb of ['get', 'post'] as const) {
      const op = ops[verb];
      if (!op) continue;
      const rule: ParamRule = { required: new Set(), types: new Map(), scopes: [] };
      for (const p of op.parameters ?? []) {
        if (p.in !== 'query') continue;
        if (p.required) rule.required.add(p.name);
        if (p.schema?.type) rule.types.set(p.name, p.schema.type);
      }
      let body = op.requestBody;
      if (body?.$ref) body = spec.components.requestBodies?.[body.$ref.split('/').pop() ?? ''];
      for (const media of Object.values(body?.content ?? {})) {
        for (const name of media.schema?.required ?? []) rule.required.add(name);
        for (const [name, prop] of Object.entries(media.schema?.properties ?? {})) {
          if (prop.type) rule.types.set(name, prop.type);
        }
      }
      const declared = op.security?.[0]?.slackAuth ?? [];
      rule.scopes = declared.filter((s) => s !== 'none').map((s) => MODERN_SCOPE[s] ?? s);
      entry[verb] = rule;
    }
    rules.set(path.replace(/^\//, ''), entry);
  }
  specCache = rules;
  return rules;
}

/** The bot scopes manifest.yml asks for (oauth_config.scopes.bot). */
export function manifestBotScopes(path = fileURLToPath(new URL('../../manifest.yml', import.meta.url))): string[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the Slack app manifest at ${path}: ${(err as Error).message}`);
  }
  const scopes = (doc as { oauth_config?: { scopes?: { bot?: unknown } } })?.oauth_config?.scopes?.bot;
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) {
    throw new Error(`${path}: oauth_config.scopes.bot must be a list of scope names`);
  }
  return scopes as string[];
}

// ---------------------------------------------------------------------------------------------
// Block Kit limits Slack enforces at runtime (it answers invalid_blocks / invalid_arguments)

function blockProblems(blocks: unknown, max: number): string[] {
  if (!Array.isArray(blocks)) return ['blocks must be a JSON array'];
  const problems: string[] = [];
  if (blocks.length > max) problems.push(`${blocks.length} blocks, more than ${max}`);
  const ids = new Set<string>();
  blocks.forEach((b: unknown, i) => {
    if (!b || typeof b !== 'object' || typeof (b as Block).type !== 'string') {
      problems.push(`blocks[${i}] has no type`);
      return;
    }
    const block = b as Block;
    const id = block.block_id;
    if (typeof id === 'string') {
      if (id.length > 255) problems.push(`blocks[${i}].block_id longer than 255`);
      if (ids.has(id)) problems.push(`duplicate block_id ${id}`);
      ids.add(id);
    }
    const textLen = (t: unknown) => (t && typeof t === 'object' ? String((t as { text?: unknown }).text ?? '').length : 0);
    if (block.type === 'section') {
      if (textLen(block.text) > 3000) problems.push(`blocks[${i}].text longer than 3000`);
      if (!block.text && !block.fields) problems.push(`blocks[${i}] section needs text or fields`);
      if (Array.isArray(block.fields)) {
        if (block.fields.length > 10) problems.push(`blocks[${i}] has more than 10 fields`);
        block.fields.forEach((f: unknown, j: number) => {
          if (textLen(f) > 2000) problems.push(`blocks[${i}].fields[${j}] longer than 2000`);
        });
      }
    }
    if (block.type === 'header' && textLen(block.text) > 150) problems.push(`blocks[${i}] header longer than 150`);
    if (block.type === 'actions' && Array.isArray(block.elements) && block.elements.length > 25) {
      problems.push(`blocks[${i}] has more than 25 elements`);
    }
    if (block.type === 'context' && Array.isArray(block.elements) && block.elements.length > 10) {
      problems.push(`blocks[${i}] context has more than 10 elements`);
    }
    const elements = [
      ...(Array.isArray(block.elements) ? (block.elements as unknown[]) : []),
      block.accessory,
      block.element,
    ];
    for (const el of elements) {
      if (!el || typeof el !== 'object') continue;
      const e = el as Record<string, unknown>;
      if (typeof e.action_id === 'string' && e.action_id.length > 255) problems.push(`blocks[${i}] action_id longer than 255`);
      if (e.type === 'button') {
        if (textLen(e.text) > 75) problems.push(`blocks[${i}] button text longer than 75`);
        if (typeof e.value === 'string' && e.value.length > 2000) problems.push(`blocks[${i}] button value longer than 2000`);
      }
    }
  });
  return problems;
}

function viewProblems(view: Record<string, unknown>, type: 'home' | 'modal'): string[] {
  const problems: string[] = [];
  if (view.type !== type) problems.push(`view.type must be ${type}`);
  problems.push(...blockProblems(view.blocks, 100));
  if (type === 'modal') {
    const title = view.title as { text?: unknown } | undefined;
    if (!title || typeof title.text !== 'string') problems.push('modal needs a plain_text title');
    else if (title.text.length > 24) problems.push('modal title longer than 24');
  }
  if (typeof view.private_metadata === 'string' && view.private_metadata.length > 3000) {
    problems.push('private_metadata longer than 3000');
  }
  if (typeof view.callback_id === 'string' && view.callback_id.length > 255) problems.push('callback_id longer than 255');
  return problems;
}

// ---------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
  }
}

type Params = Record<string, unknown>;
type Handler = (params: Params) => Record<string, unknown>;

const IMPLEMENTED = [
  'auth.test',
  'chat.postMessage',
  'chat.update',
  'chat.postEphemeral',
  'chat.delete',
  'conversations.open',
  'conversations.info',
  'conversations.members',
  'users.info',
  'users.lookupByEmail',
  'usergroups.users.list',
  'views.publish',
  'views.open',
  'views.update',
  'files.getUploadURLExternal',
  'files.completeUploadExternal',
] as const;

export class SlackServer {
  readonly token: string;
  readonly teamId: string;
  readonly botId: string;
  readonly botUserId: string;
  readonly appId: string;
  /** Calls Slack would not accept as made. */
  readonly violations: Violation[] = [];
  /** Socket Mode's apps.connections.open and WebSocket, when a test attaches them (slack-socket-mode.ts). */
  socketMode: { open(appToken: string | undefined): Record<string, unknown>; upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void } | undefined;

  #server: Server;
  #url = '';
  #scopes: Set<string> | undefined;
  #calls: ApiCall[] = [];
  #users = new Map<string, DirectoryUser>();
  #usergroups = new Map<string, string[]>();
  #channels = new Map<string, ChannelSpec>();
  #dms = new Map<string, string>();
  #messages: StoredMessage[] = [];
  #ephemerals: StoredEphemeral[] = [];
  #homeViews = new Map<string, StoredView>();
  #modals = new Map<string, StoredView>();
  #files = new Map<string, StoredFile>();
  #responses: ResponsePost[] = [];
  #responseLinks = new Map<string, { channel: string; ts: string }>();
  #failures = new Map<string, Array<{ failure: Failure | { rateLimit: number }; left: number }>>();
  #outage: 'unreachable' | number | null = null;
  #sockets = new Set<Socket>();
  #seq = 0;
  #handlers: Record<(typeof IMPLEMENTED)[number], Handler>;

  constructor(opts: SlackServerOptions = {}) {
    this.token = opts.token ?? 'xoxb-test-token';
    this.teamId = opts.teamId ?? 'T111';
    this.botId = opts.botId ?? 'B0BGBOT';
    this.botUserId = opts.botUserId ?? 'U0BGBOT';
    this.appId = opts.appId ?? 'A111';
    const scopes = opts.scopes ?? manifestBotScopes();
    this.#scopes = scopes === 'unchecked' ? undefined : new Set(scopes);
    this.setUser({ id: this.botUserId, name: 'breakglass', real_name: 'breakglass', is_bot: true });
    for (const u of opts.users ?? []) this.setUser(u);
    for (const [id, members] of Object.entries(opts.usergroups ?? {})) this.setUsergroup(id, members);
    for (const [id, spec] of Object.entries(opts.channels ?? {})) this.setChannel(id, spec);
    loadSpec();
    this.#handlers = this.#buildHandlers();
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    this.#server.on('upgrade', (req, socket, head) => {
      if (this.socketMode && this.#outage === null) this.socketMode.upgrade(req, socket, head);
      else socket.destroy();
    });
    this.#server.on('connection', (socket) => {
      if (this.#outage === 'unreachable') {
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /** Starts listening on 127.0.0.1 on a free port. */
  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.#url = `http://127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** e.g. http://127.0.0.1:43123 */
  get url(): string {
    return this.#url;
  }
  /** What Bolt's clientOptions.slackApiUrl wants (trailing /api/). */
  get apiUrl(): string {
    return `${this.#url}/api/`;
  }

  // ---- directory ----------------------------------------------------------------------------

  setUser(user: DirectoryUser): void {
    this.#users.set(user.id, { ...user });
  }
  updateUser(id: string, patch: Partial<DirectoryUser>): void {
    const user = this.#users.get(id);
    if (!user) throw new Error(`no user ${id} in the fake Slack directory`);
    this.#users.set(id, { ...user, ...patch, id });
  }
  setUsergroup(id: string, members: string[]): void {
    this.#usergroups.set(id, [...members]);
  }
  /** Models a channel from now on (the bot invited or removed, people joining): see ChannelSpec. */
  setChannel(id: string, spec: ChannelSpec): void {
    this.#channels.set(id, { ...spec, members: [...spec.members] });
  }
  /** The user as users.info returns it (and as a user_change event carries it). */
  userObject(id: string): Record<string, unknown> {
    const u = this.#users.get(id);
    if (!u) throw new Error(`no user ${id} in the fake Slack directory`);
    return this.#userJson(u, true);
  }
  /** The DM channel id conversations.open gives for this user (stable per user). */
  dmChannel(userId: string): string {
    let id = this.#dms.get(userId);
    if (!id) {
      id = `D${userId.slice(1)}`;
      const taken = new Set(this.#dms.values());
      for (let n = 2; taken.has(id); n++) id = `D${userId.slice(1)}${n}`;
      this.#dms.set(userId, id);
    }
    return id;
  }

  // ---- what happened ------------------------------------------------------------------------

  calls(method?: string): ApiCall[] {
    return method ? this.#calls.filter((c) => c.method === method) : [...this.#calls];
  }
  /** Messages (not deleted) in a channel; a user id means the DM with that user. */
  messagesTo(channelOrUser: string): StoredMessage[] {
    const channel = this.#channelFor(channelOrUser);
    return this.#messages.filter((m) => m.channel === channel && !m.deleted);
  }
  lastMessage(channelOrUser: string): StoredMessage | undefined {
    return this.messagesTo(channelOrUser).at(-1);
  }
  /** Every message posted, deleted ones included, in order. */
  get messages(): readonly StoredMessage[] {
    return this.#messages;
  }
  message(channelOrUser: string, ts: string): StoredMessage | undefined {
    const channel = this.#channelFor(channelOrUser);
    return this.#messages.find((m) => m.channel === channel && m.ts === ts);
  }
  ephemeralsTo(userId: string): StoredEphemeral[] {
    return this.#ephemerals.filter((e) => e.user === userId);
  }
  homeView(userId: string): StoredView | undefined {
    return this.#homeViews.get(userId);
  }
  /** Modals opened or updated, by view id. */
  get modals(): ReadonlyMap<string, StoredView> {
    return this.#modals;
  }
  files(): StoredFile[] {
    return [...this.#files.values()];
  }
  /** Completed uploads shared to a channel (a user id means the DM with that user). */
  filesTo(channelOrUser: string): StoredFile[] {
    const channel = this.#channelFor(channelOrUser);
    return this.files().filter((f) => f.completed && f.channelId !== undefined && this.#channelFor(f.channelId) === channel);
  }

  /**
   * A response_url served by this server; what the app posts there is kept under `name`. Give
   * the message the interaction came from to make `replace_original`/`delete_original` act on it.
   */
  responseUrl(name: string, original?: { channel: string; ts: string }): string {
    if (original) this.#responseLinks.set(name, original);
    return `${this.#url}/response/${encodeURIComponent(name)}`;
  }
  responses(name: string): ResponsePost[] {
    return this.#responses.filter((r) => r.name === name);
  }

  /** Polls until `predicate` gives a truthy value and returns it; throws after `timeoutMs`. */
  async waitFor<T>(
    predicate: () => T | null | undefined | false | Promise<T | null | undefined | false>,
    timeoutMs = 5000,
    what = 'condition',
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await predicate();
      if (value) return value;
      if (Date.now() > deadline) {
        const recent = this.#calls
          .slice(-10)
          .map((c) => `${c.method}${c.error ? ` (${c.error})` : ''}`)
          .join(', ');
        throw new Error(`waitFor(${what}) timed out after ${timeoutMs} ms; last Slack calls: ${recent || 'none'}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // ---- failure injection --------------------------------------------------------------------

  /**
   * The next `n` calls of `method` fail: `{ error }` as Slack's ok:false, `{ status }` as an HTTP
   * error. `method` may also be 'upload' (the file upload URL) or 'response_url'.
   */
  failNext(method: string, n: number, failure: Failure): void {
    this.#queueFailure(method, failure, n);
  }
  /** The next `n` calls of `method` get 429 with Retry-After, as Slack's rate limiter answers. */
  rateLimitNext(method: string, retryAfterSeconds = 1, n = 1): void {
    this.#queueFailure(method, { rateLimit: retryAfterSeconds }, n);
  }
  /**
   * Whole-server outage, response URLs and uploads included: 'unreachable' drops every
   * connection; a number answers that HTTP status; null ends it.
   */
  setOutage(mode: 'unreachable' | number | null): void {
    this.#outage = mode;
    if (mode === 'unreachable') for (const s of this.#sockets) s.destroy();
  }

  /** Forget calls, violations, messages, views, files, responses and pending failures. */
  reset(): void {
    this.#calls = [];
    this.violations.length = 0;
    this.#messages = [];
    this.#ephemerals = [];
    this.#homeViews.clear();
    this.#modals.clear();
    this.#files.clear();
    this.#responses = [];
    this.#responseLinks.clear();
    this.#failures.clear();
    this.#outage = null;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (this.#outage === 'unreachable') {
      req.socket.destroy();
      return;
    }
    if (typeof this.#outage === 'number') {
      res.writeHead(this.#outage, { 'content-type': 'text/html' });
      res.end(`<html><body>Slack is having trouble (${this.#outage})</body></html>`);
      return;
    }
    const url = new URL(req.url ?? '/', this.#url);
    const [, area, name, fileId] = url.pathname.split('/');
    if (area === 'api' && name) return this.#api(decodeURIComponent(name), req, url, raw, res);
    if (area === 'upload' && name === 'v1' && fileId && req.method === 'POST') return this.#upload(fileId, req, raw, res);
    if (area === 'response' && name && req.method === 'POST') return this.#response(decodeURIComponent(name), req, raw, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }

  async #api(method: string, req: IncomingMessage, url: URL, raw: Buffer, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const verb = req.method === 'GET' ? 'get' : req.method === 'POST' ? 'post' : undefined;
    let params: Params;
    let bodyToken: string | undefined;
    try {
      params = verb === 'get' ? Object.fromEntries(url.searchParams) : await parseParams(req, raw);
    } catch (err) {
      params = {};
      this.#violate('bad_request', method, (err as Error).message, params);
      return this.#answer(res, method, params, at, 200, { ok: false, error: 'invalid_form_data' });
    }
    if (typeof params.token === 'string') {
      bodyToken = params.token;
      delete params.token;
    }

    // Authentication: the Authorization header first, as Slack does; a body token is legacy but accepted.
    const header = req.headers.authorization;
    const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    // The one method authenticated by the app-level token rather than the bot token.
    if (method === 'apps.connections.open' && this.socketMode && verb === 'post') {
      const answer = this.socketMode.open(bearer ?? bodyToken);
      return this.#answer(res, method, params, at, 200, answer);
    }
    const token = bearer ?? bodyToken;
    if (!token) {
      this.#violate('auth', method, 'no token: Authorization: Bearer xoxb-… is missing', params);
      return this.#answer(res, method, params, at, 200, { ok: false, error: 'not_authed' });
    }
    if (token !== this.token) {
      this.#violate('auth', method, 'token does not match the bot token', params);
      return this.#answer(res, method, params, at, 200, { ok: false, error: 'invalid_auth' });
    }

    const rule = verb ? (ALLOW_LISTED[method] ?? loadSpec().get(method)?.[verb]) : undefined;
    if (!rule) {
      const known = ALLOW_LISTED[method] ?? loadSpec().get(method);
      const detail = known ? `${method} does not take ${req.method}` : `${method} is not a Slack Web API method`;
      this.#violate('unknown_method', method, detail, params);
      return this.#answer(res, method, params, at, 200, { ok: false, error: 'unknown_method' });
    }
    const missing = [...rule.required].filter((p) => params[p] === undefined || params[p] === '');
    if (missing.length) this.#violate('missing_param', method, `missing required ${missing.join(', ')}`, params);
    for (const [name, value] of Object.entries(params)) {
      const type = rule.types.get(name);
      if (type && !fitsType(value, type)) {
        this.#violate('invalid_param', method, `${name}=${JSON.stringify(value)} is not a ${type}`, params);
      }
    }
    if (this.#scopes && rule.scopes.length && !rule.scopes.some((s) => this.#scopes?.has(s))) {
      this.#violate('missing_scope', method, `needs one of ${rule.scopes.join(', ')}`, params);
      return this.#answer(res, method, params, at, 200, {
        ok: false,
        error: 'missing_scope',
        needed: rule.scopes.join(','),
        provided: [...this.#scopes].join(','),
      });
    }
    if (missing.length) {
      return this.#answer(res, method, params, at, 200, {
        ok: false,
        error: 'invalid_arguments',
        response_metadata: { messages: missing.map((m) => `[ERROR] missing required field: ${m}`) },
      });
    }

    if (this.#takeFailure(method, res, (status, error) => this.#record(method, params, at, status, error))) return;

    const handler = (this.#handlers as Record<string, Handler | undefined>)[method];
    if (!handler) {
      this.#violate('unimplemented', method, `the fake Slack server does not model ${method} yet`, params);
      return this.#answer(res, method, params, at, 200, { ok: false, error: 'fake_not_implemented' });
    }
    try {
      return this.#answer(res, method, params, at, 200, { ok: true, ...handler(params) });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return this.#answer(res, method, params, at, 200, { ok: false, error: err.error, ...err.extra });
    }
  }

  async #upload(fileId: string, req: IncomingMessage, raw: Buffer, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const file = this.#files.get(fileId);
    const record = (status: number, error?: string) => this.#record('upload', { file_id: fileId }, at, status, error);
    if (this.#takeFailure('upload', res, record)) return;
    if (!file) {
      record(404, 'file_not_found');
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('file not found');
      return;
    }
    // Slack's upload URL takes the raw bytes or a multipart form; @slack/web-api sends multipart.
    let content = raw;
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) {
      const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': type } }).formData();
      const part = [...form.values()][0];
      content = part === undefined ? Buffer.alloc(0) : typeof part === 'string' ? Buffer.from(part) : Buffer.from(await part.arrayBuffer());
    }
    file.content = content;
    if (content.length !== file.length) {
      this.#violate('invalid_param', 'upload', `uploaded ${content.length} bytes, declared length ${file.length}`, { file_id: fileId });
    }
    record(200);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`OK - ${content.length}`);
  }

  async #response(name: string, req: IncomingMessage, raw: Buffer, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const record = (status: number, error?: string) => this.#record('response_url', { name }, at, status, error);
    if (this.#takeFailure('response_url', res, record)) return;
    let body: Record<string, unknown>;
    try {
      if (!(req.headers['content-type'] ?? '').includes('application/json')) throw new Error('not JSON');
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      this.#violate('bad_request', 'response_url', `response_url ${name} got a body that is not JSON`, {});
      record(400, 'invalid_payload');
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('invalid_payload');
      return;
    }
    // Slack allows five posts to one response_url (within 30 minutes).
    if (this.responses(name).length >= 5) {
      this.#violate('bad_request', 'response_url', `response_url ${name} used more than 5 times`, body);
      record(404, 'used_url');
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('used_url');
      return;
    }
    const problems = body.blocks === undefined ? [] : blockProblems(body.blocks, 50);
    if (problems.length) {
      this.#violate('invalid_blocks', 'response_url', problems.join('; '), body);
      record(400, 'invalid_blocks');
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('invalid_blocks');
      return;
    }
    this.#responses.push({ name, body, at });
    const original = this.#responseLinks.get(name);
    if (original) {
      const msg = this.message(original.channel, original.ts);
      if (msg && body.delete_original === true) msg.deleted = true;
      else if (msg && body.replace_original === true) this.#replace(msg, body, at);
    }
    record(200);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true }));
  }

  #answer(res: ServerResponse, method: string, params: Params, at: number, status: number, body: Record<string, unknown>): void {
    this.#record(method, params, at, status, body.ok === false ? String(body.error) : undefined);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      ...(this.#scopes ? { 'x-oauth-scopes': [...this.#scopes].join(',') } : {}),
    });
    res.end(JSON.stringify(body));
  }

  #record(method: string, params: Params, at: number, status: number, error?: string): void {
    this.#calls.push({ method, params, at, status, ...(error ? { error } : {}) });
  }

  #violate(kind: ViolationKind, method: string, detail: string, params: Params): void {
    this.violations.push({ kind, method, detail, params });
  }

  #queueFailure(method: string, failure: Failure | { rateLimit: number }, n: number): void {
    const list = this.#failures.get(method) ?? [];
    list.push({ failure, left: n });
    this.#failures.set(method, list);
  }

  #takeFailure(method: string, res: ServerResponse, record: (status: number, error?: string) => void): boolean {
    const list = this.#failures.get(method);
    const next = list?.[0];
    if (!list || !next) return false;
    next.left -= 1;
    if (next.left <= 0) list.shift();
    const f = next.failure;
    if ('rateLimit' in f) {
      record(429, 'ratelimited');
      res.writeHead(429, { 'content-type': 'application/json; charset=utf-8', 'retry-after': String(f.rateLimit) });
      res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
    } else if ('status' in f) {
      record(f.status, `http_${f.status}`);
      res.writeHead(f.status, { 'content-type': 'text/plain' });
      res.end(f.body ?? `injected HTTP ${f.status}`);
    } else {
      record(200, f.error);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ ok: false, error: f.error, ...f.extra }));
    }
    return true;
  }

  // ---- state --------------------------------------------------------------------------------

  #nextTs(): string {
    this.#seq += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.#seq).padStart(6, '0')}`;
  }
  #nextId(prefix: string): string {
    this.#seq += 1;
    return `${prefix}0${this.#seq.toString(36).toUpperCase().padStart(8, '0')}`;
  }

  /** A user id (U…/W…) stands for the DM with that user, as chat.postMessage allows. */
  #channelFor(channelOrUser: string): string {
    return /^[UW][A-Z0-9]+$/.test(channelOrUser) && this.#users.has(channelOrUser)
      ? this.dmChannel(channelOrUser)
      : channelOrUser;
  }

  #userJson(u: DirectoryUser, withEmail: boolean): Record<string, unknown> {
    const realName = u.real_name ?? u.name;
    return {
      id: u.id,
      team_id: this.teamId,
      name: u.name,
      deleted: u.deleted ?? false,
      color: '9f69e7',
      real_name: realName,
      tz: u.tz ?? 'Europe/London',
      tz_label: 'Greenwich Mean Time',
      tz_offset: 0,
      profile: {
        real_name: realName,
        display_name: u.name,
        real_name_normalized: realName,
        display_name_normalized: u.name,
        ...(withEmail && u.email ? { email: u.email } : {}),
        team: this.teamId,
      },
      is_admin: false,
      is_owner: false,
      is_primary_owner: false,
      is_restricted: false,
      is_ultra_restricted: false,
      is_bot: u.is_bot ?? false,
      is_app_user: false,
      updated: Math.floor(Date.now() / 1000),
    };
  }

  #blocksParam(method: string, params: Params, max: number): Block[] | undefined {
    if (params.blocks === undefined) return undefined;
    const blocks = parseJsonParam(params.blocks, 'blocks');
    const problems = blockProblems(blocks, max);
    if (problems.length) {
      this.#violate('invalid_blocks', method, problems.join('; '), params);
      throw new ApiError('invalid_blocks', { errors: problems });
    }
    return blocks as Block[];
  }

  #replace(msg: StoredMessage, update: { text?: unknown; blocks?: unknown }, at: number): void {
    msg.history.push({ text: msg.text, blocks: msg.blocks, at: msg.updatedAt ?? msg.postedAt });
    if (update.text !== undefined) msg.text = String(update.text);
    if (update.blocks !== undefined) msg.blocks = update.blocks as Block[];
    msg.updatedAt = at;
  }

  #view(method: string, params: Params, type: 'home' | 'modal', base?: StoredView): StoredView {
    const view = parseJsonParam(params.view, 'view') as Record<string, unknown>;
    if (!view || typeof view !== 'object') throw new ApiError('invalid_arguments');
    const problems = viewProblems(view, type);
    if (problems.length) {
      this.#violate('invalid_blocks', method, problems.join('; '), params);
      throw new ApiError('invalid_arguments', { response_metadata: { messages: problems.map((p) => `[ERROR] ${p}`) } });
    }
    const id = base?.id ?? this.#nextId('V');
    return {
      ...view,
      id,
      team_id: this.teamId,
      type,
      blocks: view.blocks as Block[],
      callback_id: String(view.callback_id ?? ''),
      private_metadata: String(view.private_metadata ?? ''),
      external_id: String(view.external_id ?? base?.external_id ?? ''),
      hash: `${Math.floor(Date.now() / 1000)}.${this.#nextId('h')}`,
      state: { values: {} },
      app_id: this.appId,
      bot_id: this.botId,
      root_view_id: base?.root_view_id ?? id,
      previous_view_id: null,
    };
  }

  #knownUser(id: unknown, error = 'user_not_found'): DirectoryUser {
    const user = typeof id === 'string' ? this.#users.get(id) : undefined;
    if (!user) throw new ApiError(error);
    return user;
  }

  #buildHandlers(): Record<(typeof IMPLEMENTED)[number], Handler> {
    const str = (v: unknown) => (v === undefined ? undefined : String(v));
    return {
      'auth.test': () => ({
        url: 'https://breakglass-test.slack.com/',
        team: 'Breakglass Test',
        user: 'breakglass',
        team_id: this.teamId,
        user_id: this.botUserId,
        bot_id: this.botId,
        is_enterprise_install: false,
      }),

      'chat.postMessage': (p) => {
        const blocks = this.#blocksParam('chat.postMessage', p, 50);
        if (p.text === undefined && blocks === undefined && p.attachments === undefined) throw new ApiError('no_text');
        const channel = this.#resolvePostChannel(String(p.channel));
        this.#mayPost(channel);
        if (p.thread_ts !== undefined && !this.#messages.some((m) => m.channel === channel && m.ts === String(p.thread_ts) && !m.deleted)) {
          this.#violate('invalid_param', 'chat.postMessage', `thread_ts=${String(p.thread_ts)} is no message in ${channel}`, p);
        }
        const at = Date.now();
        const msg: StoredMessage = {
          channel,
          ts: this.#nextTs(),
          text: str(p.text),
          blocks,
          attachments: p.attachments === undefined ? undefined : (parseJsonParam(p.attachments, 'attachments') as unknown[]),
          threadTs: str(p.thread_ts),
          postedAt: at,
          deleted: false,
          history: [],
        };
        this.#messages.push(msg);
        return { channel, ts: msg.ts, message: this.#messageJson(msg) };
      },

      'chat.update': (p) => {
        // Strict on purpose: only the channel id chat.postMessage returned is certain to work in Slack.
        const channel = String(p.channel);
        const msg = this.#messages.find((m) => m.channel === channel && m.ts === String(p.ts) && !m.deleted);
        if (!msg) throw new ApiError('message_not_found');
        const blocks = this.#blocksParam('chat.update', p, 50);
        this.#replace(msg, { text: p.text, blocks }, Date.now());
        return { channel, ts: msg.ts, text: msg.text ?? '', message: this.#messageJson(msg) };
      },

      'chat.postEphemeral': (p) => {
        const blocks = this.#blocksParam('chat.postEphemeral', p, 50);
        if (p.text === undefined && blocks === undefined && p.attachments === undefined) throw new ApiError('no_text');
        const user = this.#knownUser(p.user);
        if (user.deleted) throw new ApiError('user_not_in_channel');
        const ts = this.#nextTs();
        this.#ephemerals.push({ channel: String(p.channel), user: user.id, ts, text: str(p.text), blocks, at: Date.now() });
        return { message_ts: ts };
      },

      'chat.delete': (p) => {
        const channel = String(p.channel ?? '');
        const msg = this.#messages.find((m) => m.channel === channel && m.ts === String(p.ts) && !m.deleted);
        if (!msg) throw new ApiError(p.channel === undefined ? 'channel_not_found' : 'message_not_found');
        msg.deleted = true;
        return { channel, ts: msg.ts };
      },

      'conversations.open': (p) => {
        if (p.users === undefined) {
          if (typeof p.channel === 'string' && [...this.#dms.values()].includes(p.channel)) {
            return { no_op: true, already_open: true, channel: { id: p.channel } };
          }
          throw new ApiError(p.channel === undefined ? 'users_list_not_supplied' : 'channel_not_found');
        }
        const ids = String(p.users).split(',').map((s) => s.trim()).filter(Boolean);
        if (ids.length !== 1) throw new ApiError('not_supported_by_fake');
        const user = this.#knownUser(ids[0]);
        if (user.deleted) throw new ApiError('user_disabled');
        const already = this.#dms.has(user.id);
        return { no_op: already, already_open: already, channel: { id: this.dmChannel(user.id) } };
      },

      'conversations.info': (p) => {
        const id = String(p.channel);
        const spec = this.#visibleChannel(id);
        const name = spec.name ?? id.toLowerCase();
        return {
          channel: {
            id,
            name,
            name_normalized: name,
            created: 1449252889,
            creator: 'U0CREATOR',
            is_channel: !spec.isPrivate,
            is_group: Boolean(spec.isPrivate),
            is_im: false,
            is_mpim: false,
            is_private: Boolean(spec.isPrivate),
            is_archived: Boolean(spec.isArchived),
            is_general: false,
            is_member: Boolean(spec.botIsMember),
            is_shared: false,
            is_ext_shared: false,
            is_org_shared: false,
            is_pending_ext_shared: false,
            is_read_only: false,
            unlinked: 0,
          },
        };
      },

      'conversations.members': (p) => {
        const spec = this.#visibleChannel(String(p.channel));
        return { members: [...spec.members, ...(spec.botIsMember ? [this.botUserId] : [])], response_metadata: { next_cursor: '' } };
      },

      'users.info': (p) => {
        const user = this.#knownUser(p.user);
        return { user: this.#userJson(user, this.#scopes?.has('users:read.email') ?? true) };
      },

      'users.lookupByEmail': (p) => {
        const email = String(p.email).toLowerCase();
        const user = [...this.#users.values()].find((u) => u.email?.toLowerCase() === email);
        if (!user) throw new ApiError('users_not_found');
        return { user: this.#userJson(user, true) };
      },

      'usergroups.users.list': (p) => {
        const members = this.#usergroups.get(String(p.usergroup));
        if (!members) throw new ApiError('no_such_subteam');
        return { users: [...members] };
      },

      'views.publish': (p) => {
        const user = this.#knownUser(p.user_id);
        const current = this.#homeViews.get(user.id);
        if (p.hash !== undefined && current && current.hash !== p.hash) throw new ApiError('hash_conflict');
        const view = this.#view('views.publish', p, 'home', current);
        this.#homeViews.set(user.id, view);
        return { view };
      },

      'views.open': (p) => {
        const view = this.#view('views.open', p, 'modal');
        this.#modals.set(view.id, view);
        return { view };
      },

      'views.update': (p) => {
        if (p.view_id === undefined && p.external_id === undefined) throw new ApiError('invalid_arguments');
        const current =
          p.view_id !== undefined
            ? this.#modals.get(String(p.view_id))
            : [...this.#modals.values()].find((v) => v.external_id === p.external_id);
        if (!current) throw new ApiError('not_found');
        if (p.hash !== undefined && current.hash !== p.hash) throw new ApiError('hash_conflict');
        const view = this.#view('views.update', p, 'modal', current);
        this.#modals.set(view.id, view);
        return { view };
      },

      'files.getUploadURLExternal': (p) => {
        const id = this.#nextId('F');
        this.#files.set(id, { id, filename: String(p.filename), length: Number(p.length), completed: false });
        return { upload_url: `${this.#url}/upload/v1/${id}`, file_id: id };
      },

      'files.completeUploadExternal': (p) => {
        const list = parseJsonParam(p.files, 'files');
        if (!Array.isArray(list) || list.length === 0) throw new ApiError('invalid_arguments');
        const done: Record<string, unknown>[] = [];
        for (const entry of list as Array<{ id?: unknown; title?: unknown }>) {
          const file = this.#files.get(String(entry.id));
          if (!file || file.content === undefined) throw new ApiError('file_not_found');
          file.completed = true;
          file.title = entry.title === undefined ? file.filename : String(entry.title);
          file.channelId = str(p.channel_id);
          file.initialComment = str(p.initial_comment);
          file.threadTs = str(p.thread_ts);
          done.push({ id: file.id, name: file.filename, title: file.title, size: file.content.length });
        }
        return { files: done };
      },
    };
  }

  /** A modelled channel as the bot may see it: a private one it is not in does not exist for it. */
  #visibleChannel(id: string): ChannelSpec {
    const spec = this.#channels.get(id);
    if (!spec || (spec.isPrivate && !spec.botIsMember)) throw new ApiError('channel_not_found');
    return spec;
  }

  /** Slack's refusals of a post to a modelled channel; channels not modelled take any post. */
  #mayPost(channel: string): void {
    const spec = this.#channels.get(channel);
    if (!spec) return;
    if (spec.isPrivate && !spec.botIsMember) throw new ApiError('channel_not_found');
    if (spec.isArchived) throw new ApiError('is_archived');
    if (!spec.botIsMember) throw new ApiError('not_in_channel');
  }

  #resolvePostChannel(channel: string): string {
    if (/^[UW][A-Z0-9]+$/.test(channel)) {
      const user = this.#knownUser(channel, 'channel_not_found');
      if (user.deleted) throw new ApiError('user_disabled');
      return this.dmChannel(user.id);
    }
    return channel;
  }

  #messageJson(m: StoredMessage): Record<string, unknown> {
    return {
      type: 'message',
      subtype: 'bot_message',
      text: m.text ?? '',
      ts: m.ts,
      user: this.botUserId,
      bot_id: this.botId,
      app_id: this.appId,
      team: this.teamId,
      ...(m.blocks ? { blocks: m.blocks } : {}),
      ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
    };
  }
}

/** Start a fake Slack on 127.0.0.1:<free port>. */
export async function startSlackServer(opts: SlackServerOptions = {}): Promise<SlackServer> {
  return new SlackServer(opts).listen();
}

/** All text a message or view shows (section text, fields, headers, context, buttons) in one string. */
export function textOf(item: { text?: string; blocks?: readonly unknown[] } | undefined): string {
  if (!item) return '';
  const out: string[] = item.text ? [item.text] : [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ((o.type === 'plain_text' || o.type === 'mrkdwn') && typeof o.text === 'string') out.push(o.text);
      else Object.values(o).forEach(walk);
    }
  };
  walk(item.blocks);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function parseParams(req: IncomingMessage, raw: Buffer): Promise<Params> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (raw.length === 0) return {};
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
  if (type === 'application/json') {
    const body: unknown = JSON.parse(raw.toString('utf8'));
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('JSON body must be an object');
    return body as Params;
  }
  if (type === 'multipart/form-data') {
    const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    const out: Params = {};
    for (const [k, v] of form.entries()) out[k] = typeof v === 'string' ? v : Buffer.from(await v.arrayBuffer());
    return out;
  }
  throw new Error(`unsupported content-type ${type || '(none)'}`);
}

/** Form values arrive as strings; JSON bodies carry native values. Both must fit the spec's type. */
function fitsType(value: unknown, type: string): boolean {
  if (typeof value !== 'string') {
    if (type === 'boolean') return typeof value === 'boolean';
    if (type === 'integer') return Number.isInteger(value);
    if (type === 'number') return typeof value === 'number';
    // JSON bodies may carry blocks/view as objects where the form carries JSON text.
    return type === 'string';
  }
  if (type === 'boolean') return /^(true|false|1|0)$/.test(value);
  if (type === 'integer') return /^-?\d+$/.test(value);
  if (type === 'number') return value.trim() !== '' && Number.isFinite(Number(value));
  return true;
}

function parseJsonParam(value: unknown, name: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new ApiError('invalid_arguments', { detail: `${name} is not valid JSON` });
  }
}
