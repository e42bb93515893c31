/**
 * A local Okta org speaking the Management API's wire format (the User and Group schemas of
 * Okta's OpenAPI spec, Link-header pagination, SSWS auth, rate-limit headers, Okta error bodies),
 * so the real @okta/okta-sdk-nodejs can be tested on the wire. In-memory directory; every request
 * is recorded; failures can be injected.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export const DEFAULT_OKTA_TOKEN = '00breakglass-test-api-token';

export type OktaUserStatus =
  | 'ACTIVE'
  | 'DEPROVISIONED'
  | 'LOCKED_OUT'
  | 'PASSWORD_EXPIRED'
  | 'PROVISIONED'
  | 'RECOVERY'
  | 'STAGED'
  | 'SUSPENDED';

export interface OktaUserProfile {
  login: string;
  email: string;
  firstName?: string | null;
  lastName?: string | null;
  managerId?: string | null;
  [attr: string]: unknown;
}

export interface OktaUserRecord {
  id: string;
  status: OktaUserStatus;
  created: string;
  activated: string | null;
  statusChanged: string | null;
  lastLogin: string | null;
  lastUpdated: string;
  passwordChanged: string | null;
  type: { id: string };
  profile: OktaUserProfile;
}

export interface OktaGroupRecord {
  id: string;
  created: string;
  lastUpdated: string;
  lastMembershipUpdated: string;
  objectClass: string[];
  type: 'OKTA_GROUP' | 'APP_GROUP' | 'BUILT_IN';
  profile: { name: string; description?: string };
  /** Member user ids, in the order they were added. */
  members: string[];
}

/** An enrolled factor, as GET /users/{userId}/factors lists it (the spec's UserFactor). */
export interface OktaFactorRecord {
  id: string;
  factorType: string;
  provider: string;
  status: 'ACTIVE' | 'PENDING_ACTIVATION' | 'INACTIVE' | 'NOT_SETUP' | 'ENROLLED' | 'DISABLED' | 'EXPIRED';
}

/**
 * How the person answers the pushes sent to them: WAITING for `afterPolls` polls, then `result`.
 * `result: 'WAITING'` is a phone that never answers.
 */
export interface OktaPushScript {
  result: 'SUCCESS' | 'REJECTED' | 'TIMEOUT' | 'WAITING';
  afterPolls?: number;
}

export interface OktaRecordedRequest {
  method: string;
  /** Path without the query, percent-decoded. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: Date;
  status?: number;
}

export interface OktaFailure {
  status: number;
  errorCode?: string;
  errorSummary?: string;
  /** For 429: seconds until X-Rate-Limit-Reset. */
  resetInSeconds?: number;
}

export interface StartOktaServerOptions {
  token?: string;
  /** Upper bound on a page whatever `limit` asks: tests use it to force pagination. */
  maxPageSize?: number;
}

export interface OktaTestServer {
  url: string;
  token: string;
  close(): Promise<void>;
  users: Map<string, OktaUserRecord>;
  groups: Map<string, OktaGroupRecord>;
  addUser(profile: Partial<OktaUserProfile> & { login: string }, opts?: { id?: string; status?: OktaUserStatus }): OktaUserRecord;
  addGroup(opts?: { id?: string; name?: string; description?: string; members?: string[] }): OktaGroupRecord;
  /** `ref` is an id, login or email. */
  user(ref: string): OktaUserRecord | undefined;
  setStatus(ref: string, status: OktaUserStatus): void;
  updateProfile(ref: string, patch: Partial<OktaUserProfile>): void;
  addMember(groupId: string, ref: string): void;
  removeMember(groupId: string, ref: string): void;
  isMember(groupId: string, ref: string): boolean;
  memberLogins(groupId: string): string[];
  requests: OktaRecordedRequest[];
  /** The next `n` requests (matching `filter`, if given) fail with this status (500 by default). */
  failNext(n: number, failure?: number | OktaFailure, filter?: (r: OktaRecordedRequest) => boolean): void;
  /** Every matching request fails until the returned function is called. */
  failWhen(predicate: (r: OktaRecordedRequest) => boolean, failure?: number | OktaFailure): () => void;
  clearFailures(): void;
  maxPageSize: number;
  /** Enrols a factor for the user (an ACTIVE Okta Verify push by default); returns it. */
  addFactor(ref: string, factor?: Partial<OktaFactorRecord>): OktaFactorRecord;
  /** How this user answers every push from now on (default: SUCCESS at the first poll). */
  scriptPush(ref: string, script: OktaPushScript): void;
  /** Pushes sent (POST …/verify), oldest first. */
  pushes: Array<{ userId: string; factorId: string; transactionId: string; polls: number }>;
}

const ERROR_CODES: Record<number, [string, string]> = {
  400: ['E0000001', 'Api validation failed'],
  401: ['E0000011', 'Invalid token provided'],
  403: ['E0000006', 'You do not have permission to perform the requested action'],
  404: ['E0000007', 'Not found: Resource not found'],
  405: ['E0000022', 'The endpoint does not support the provided HTTP method'],
  429: ['E0000047', 'API call exceeded rate limit due to too many requests.'],
  500: ['E0000009', 'Internal Server Error'],
  503: ['E0000010', 'Service is in read only mode'],
};

class OktaHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    readonly errorSummary: string,
  ) {
    super(errorSummary);
  }
}

const notFound = (id: string, kind: string) => new OktaHttpError(404, 'E0000007', `Not found: Resource not found: ${id} (${kind})`);

function oktaId(prefix: '00u' | '00g' | 'opf' | 'v2mst.'): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(17);
  return prefix + [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, '.000Z');

/** `attr eq "value"` terms joined by `and` / `or` (no parentheses): what the product sends, and then some. */
function compileSearch(expr: string): (u: OktaUserRecord) => boolean {
  const orParts = expr.split(/\s+or\s+/i);
  const ors = orParts.map((part) =>
    part.split(/\s+and\s+/i).map((term) => {
      const m = term.trim().match(/^([\w.]+)\s+(eq|sw|co)\s+"((?:[^"\\]|\\.)*)"$/i);
      if (!m) throw new OktaHttpError(400, 'E0000031', `Invalid search criteria: ${expr}`);
      const [, attr, op, raw] = m as unknown as [string, string, string, string];
      const value = raw.replace(/\\(.)/g, '$1').toLowerCase();
      return (u: OktaUserRecord) => {
        const actual = attr.startsWith('profile.') ? u.profile[attr.slice(8)] : (u as unknown as Record<string, unknown>)[attr];
        if (typeof actual !== 'string') return false;
        const a = actual.toLowerCase();
        const o = op.toLowerCase();
        return o === 'eq' ? a === value : o === 'sw' ? a.startsWith(value) : a.includes(value);
      };
    }),
  );
  return (u) => ors.some((ands) => ands.every((t) => t(u)));
}

export async function startOktaServer(opts: StartOktaServerOptions = {}): Promise<OktaTestServer> {
  const token = opts.token ?? DEFAULT_OKTA_TOKEN;
  const users = new Map<string, OktaUserRecord>();
  const groups = new Map<string, OktaGroupRecord>();
  const requests: OktaRecordedRequest[] = [];
  const oneShot: Array<{ left: number; failure: OktaFailure; filter?: (r: OktaRecordedRequest) => boolean }> = [];
  const standing = new Set<{ predicate: (r: OktaRecordedRequest) => boolean; failure: OktaFailure }>();
  const state = { maxPageSize: opts.maxPageSize ?? 1000, url: '' };
  const factors = new Map<string, OktaFactorRecord[]>();
  const scripts = new Map<string, OktaPushScript>();
  const pushes: OktaTestServer['pushes'] = [];

  const findUser = (ref: string): OktaUserRecord | undefined => {
    const byId = users.get(ref);
    if (byId) return byId;
    const lower = ref.toLowerCase();
    const all = [...users.values()];
    return (
      all.find((u) => u.profile.login.toLowerCase() === lower) ??
      all.find((u) => u.profile.email.toLowerCase() === lower)
    );
  };

  /** GET /users/{id} accepts an id, a login, or an unambiguous login short name — not an email. */
  const resolveUserPath = (ref: string): OktaUserRecord | undefined => {
    const byId = users.get(ref);
    if (byId) return byId;
    const lower = ref.toLowerCase();
    const all = [...users.values()];
    const byLogin = all.find((u) => u.profile.login.toLowerCase() === lower);
    if (byLogin) return byLogin;
    const short = all.filter((u) => u.profile.login.toLowerCase().split('@')[0] === lower);
    return short.length === 1 ? short[0] : undefined;
  };

  const mustUser = (ref: string) => {
    const u = findUser(ref);
    if (!u) throw new Error(`okta test server: no user ${ref}`);
    return u;
  };
  const mustGroup = (id: string) => {
    const g = groups.get(id);
    if (!g) throw new Error(`okta test server: no group ${id}`);
    return g;
  };

  const userJson = (u: OktaUserRecord) => ({
    id: u.id,
    status: u.status,
    created: u.created,
    activated: u.activated,
    statusChanged: u.statusChanged,
    lastLogin: u.lastLogin,
    lastUpdated: u.lastUpdated,
    passwordChanged: u.passwordChanged,
    type: u.type,
    profile: u.profile,
    credentials: { password: {}, provider: { type: 'OKTA', name: 'OKTA' } },
    _links: { self: { href: `${state.url}/api/v1/users/${u.id}` } },
  });

  const groupJson = (g: OktaGroupRecord) => ({
    id: g.id,
    created: g.created,
    lastUpdated: g.lastUpdated,
    lastMembershipUpdated: g.lastMembershipUpdated,
    objectClass: g.objectClass,
    type: g.type,
    profile: g.profile,
    _links: {
      self: { href: `${state.url}/api/v1/groups/${g.id}` },
      users: { href: `${state.url}/api/v1/groups/${g.id}/users` },
      apps: { href: `${state.url}/api/v1/groups/${g.id}/apps` },
    },
  });

  /** Cursor pagination as Okta does it: `after` is the last id seen; `Link` carries self and next. */
  function page<T extends { id: string }>(
    items: T[],
    url: URL,
    defaultLimit: number,
  ): { items: T[]; link: string } {
    const limitRaw = url.searchParams.get('limit');
    const limit = limitRaw === null ? defaultLimit : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1) throw new OktaHttpError(400, 'E0000001', `Api validation failed: limit`);
    const size = Math.min(limit, state.maxPageSize);
    const after = url.searchParams.get('after');
    const start = after ? items.findIndex((i) => i.id === after) + 1 : 0;
    const slice = items.slice(start, start + size);
    const self = `${state.url}${url.pathname}${url.search}`;
    const links = [`<${self}>; rel="self"`];
    if (start + size < items.length && slice.length) {
      const next = new URL(self);
      next.searchParams.set('after', slice[slice.length - 1]!.id);
      if (limitRaw !== null) next.searchParams.set('limit', limitRaw);
      links.push(`<${next.toString()}>; rel="next"`);
    }
    return { items: slice, link: links.join(', ') };
  }

  function route(method: string, url: URL, body = ''): { status: number; body?: unknown; link?: string } {
    const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (segs[0] !== 'api' || segs[1] !== 'v1') throw new OktaHttpError(404, 'E0000007', `Not found: Resource not found: ${url.pathname}`);
    const [, , coll, id, sub, subId, ...more] = segs;
    if (more.length && sub !== 'factors') throw new OktaHttpError(404, 'E0000007', `Not found: Resource not found: ${url.pathname}`);

    if (coll === 'users' && id === undefined && method === 'GET') {
      const search = url.searchParams.get('search') ?? url.searchParams.get('filter');
      const q = url.searchParams.get('q');
      let list = [...users.values()];
      if (search) list = list.filter(compileSearch(search));
      else if (q) {
        const needle = q.toLowerCase();
        list = list.filter((u) =>
          [u.profile.login, u.profile.email, u.profile.firstName, u.profile.lastName].some((v) => typeof v === 'string' && v.toLowerCase().startsWith(needle)),
        );
      }
      // Okta leaves DEPROVISIONED users out of a plain listing, not out of a search.
      if (!search) list = list.filter((u) => u.status !== 'DEPROVISIONED');
      const p = page(list, url, 200);
      return { status: 200, body: p.items.map(userJson), link: p.link };
    }
    if (coll === 'users' && id !== undefined && sub === undefined && method === 'GET') {
      const u = resolveUserPath(id);
      if (!u) throw notFound(id, 'User');
      return { status: 200, body: userJson(u) };
    }
    if (coll === 'groups' && id !== undefined && sub === undefined && method === 'GET') {
      const g = groups.get(id);
      if (!g) throw notFound(id, 'UserGroup');
      return { status: 200, body: groupJson(g) };
    }
    if (coll === 'groups' && id !== undefined && sub === 'users' && subId === undefined && method === 'GET') {
      const g = groups.get(id);
      if (!g) throw notFound(id, 'UserGroup');
      const p = page(g.members.map((m) => users.get(m)!).filter(Boolean), url, 1000);
      return { status: 200, body: p.items.map(userJson), link: p.link };
    }
    if (coll === 'groups' && id !== undefined && sub === 'users' && subId !== undefined && (method === 'PUT' || method === 'DELETE')) {
      const g = groups.get(id);
      if (!g) throw notFound(id, 'UserGroup');
      // Membership calls take the user's id only; a login here is a 404 at Okta too.
      const u = users.get(subId);
      if (!u) throw notFound(subId, 'User');
      if (g.type !== 'OKTA_GROUP') throw new OktaHttpError(403, 'E0000006', 'You do not have permission to perform the requested action');
      const i = g.members.indexOf(u.id);
      if (method === 'PUT' && i < 0) g.members.push(u.id);
      if (method === 'DELETE' && i >= 0) g.members.splice(i, 1);
      if ((method === 'PUT' && i < 0) || (method === 'DELETE' && i >= 0)) g.lastMembershipUpdated = nowIso();
      return { status: 204 };
    }
    if (coll === 'users' && id !== undefined && sub === 'factors') return factorRoute(method, users.get(id), id, subId, more, body);
    const known = (coll === 'users' || coll === 'groups') && (sub === undefined || (coll === 'groups' && sub === 'users'));
    throw known
      ? new OktaHttpError(405, 'E0000022', `The endpoint does not support the provided HTTP method`)
      : new OktaHttpError(404, 'E0000007', `Not found: Resource not found: ${url.pathname}`);
  }

  const factorJson = (userId: string, f: OktaFactorRecord) => ({
    ...f,
    vendorName: f.provider,
    created: '2026-01-05T10:00:00.000Z',
    lastUpdated: '2026-01-05T10:00:00.000Z',
    profile: { credentialId: users.get(userId)?.profile.login, deviceType: 'SmartPhone_IPhone', name: 'Test phone', platform: 'IOS', version: '17.0' },
    _links: {
      verify: { href: `${state.url}/api/v1/users/${userId}/factors/${f.id}/verify`, hints: { allow: ['POST'] } },
      self: { href: `${state.url}/api/v1/users/${userId}/factors/${f.id}`, hints: { allow: ['GET', 'DELETE'] } },
      user: { href: `${state.url}/api/v1/users/${userId}`, hints: { allow: ['GET'] } },
    },
  });

  /**
   * The Factors API for Okta Verify push, as management-minimal.yaml gives it: listFactors,
   * verifyFactor (a push challenge: no body, 201 WAITING with a poll link) and
   * getFactorTransactionStatus. Only ids name the user here, as at Okta.
   */
  function factorRoute(method: string, user: OktaUserRecord | undefined, ref: string, factorId: string | undefined, rest: string[], body: string): { status: number; body?: unknown } {
    if (!user) throw notFound(ref, 'User');
    const enrolled = factors.get(user.id) ?? [];
    if (factorId === undefined) {
      if (method !== 'GET') throw new OktaHttpError(405, 'E0000022', 'The endpoint does not support the provided HTTP method');
      return { status: 200, body: enrolled.map((f) => factorJson(user.id, f)) };
    }
    const factor = enrolled.find((f) => f.id === factorId);
    if (!factor) throw notFound(factorId, 'UserFactor');
    const base = `${state.url}/api/v1/users/${user.id}/factors/${factor.id}`;
    if (rest.length === 1 && rest[0] === 'verify' && method === 'POST') {
      if (factor.factorType !== 'push') throw new OktaHttpError(400, 'E0000001', 'Api validation failed: factorType (only push is served here)');
      if (factor.status !== 'ACTIVE') throw new OktaHttpError(400, 'E0000001', `Api validation failed: factor is ${factor.status}`);
      // A push challenge is a request without a body (or, for number matching, only useNumberMatchingChallenge).
      if (!pushChallengeBody(body)) throw new OktaHttpError(400, 'E0000001', `Api validation failed: a push challenge takes no body, got ${body}`);
      const transactionId = oktaId('v2mst.');
      pushes.push({ userId: user.id, factorId: factor.id, transactionId, polls: 0 });
      const poll = `${base}/transactions/${transactionId}`;
      return { status: 201, body: { expiresAt: new Date(Date.now() + 300_000).toISOString(), factorResult: 'WAITING', profile: { credentialId: user.profile.login }, _links: { poll: { href: poll, hints: { allow: ['GET'] } }, cancel: { href: poll, hints: { allow: ['DELETE'] } } } } };
    }
    if (rest.length === 2 && rest[0] === 'transactions' && method === 'GET') {
      const push = pushes.find((p) => p.transactionId === rest[1] && p.factorId === factor.id);
      if (!push) throw notFound(rest[1]!, 'Transaction');
      push.polls += 1;
      const script = scripts.get(user.id) ?? { result: 'SUCCESS' };
      const result = push.polls > (script.afterPolls ?? 0) ? script.result : 'WAITING';
      const profile = { credentialId: user.profile.login };
      if (result === 'SUCCESS') return { status: 200, body: { factorResult: 'SUCCESS' } };
      if (result === 'WAITING') {
        const poll = `${base}/transactions/${push.transactionId}`;
        return { status: 200, body: { expiresAt: new Date(Date.now() + 300_000).toISOString(), factorResult: 'WAITING', profile, _links: { poll: { href: poll, hints: { allow: ['GET'] } }, cancel: { href: poll, hints: { allow: ['DELETE'] } } } } };
      }
      return { status: 200, body: { factorResult: result, profile, _links: { verify: { href: `${base}/verify`, hints: { allow: ['POST'] } }, factor: { href: base, hints: { allow: ['GET', 'DELETE'] } } } } };
    }
    throw new OktaHttpError(rest.length === 0 || rest[0] === 'verify' || rest[0] === 'transactions' ? 405 : 404, rest.length === 0 ? 'E0000022' : 'E0000007', `Not found: Resource not found: ${method} ${base}/${rest.join('/')}`);
  }

  function pushChallengeBody(body: string): boolean {
    if (body.trim() === '') return true;
    try {
      const parsed = JSON.parse(body) as unknown;
      return typeof parsed === 'object' && parsed !== null && Object.keys(parsed).every((k) => k === 'useNumberMatchingChallenge');
    } catch {
      return false;
    }
  }

  function rateHeaders(remaining: number, resetInSeconds = 60): Record<string, string> {
    return {
      'X-Rate-Limit-Limit': '600',
      'X-Rate-Limit-Remaining': String(remaining),
      'X-Rate-Limit-Reset': String(Math.floor(Date.now() / 1000) + resetInSeconds),
    };
  }

  function sendJson(res: ServerResponse, rec: OktaRecordedRequest, status: number, body: unknown, headers: Record<string, string> = {}) {
    rec.status = status;
    const base = { 'X-Okta-Request-Id': randomBytes(10).toString('hex'), ...rateHeaders(599), ...headers };
    if (body === undefined) {
      res.writeHead(status, base);
      res.end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json', ...base });
    res.end(JSON.stringify(body));
  }

  function sendError(res: ServerResponse, rec: OktaRecordedRequest, f: OktaFailure) {
    const [code, summary] = ERROR_CODES[f.status] ?? ['E0000009', 'Internal Server Error'];
    const headers = f.status === 429 ? rateHeaders(0, f.resetInSeconds ?? 1) : {};
    sendJson(
      res,
      rec,
      f.status,
      { errorCode: f.errorCode ?? code, errorSummary: f.errorSummary ?? summary, errorLink: f.errorCode ?? code, errorId: `oae${randomBytes(8).toString('hex')}`, errorCauses: [] },
      headers,
    );
  }

  function injected(rec: OktaRecordedRequest): OktaFailure | undefined {
    for (const f of standing) if (f.predicate(rec)) return f.failure;
    const i = oneShot.findIndex((f) => !f.filter || f.filter(rec));
    if (i < 0) return undefined;
    const f = oneShot[i]!;
    if (--f.left <= 0) oneShot.splice(i, 1);
    return f.failure;
  }

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    const url = new URL(req.url ?? '/', state.url);
    const rec: OktaRecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname.split('/').map(decodeURIComponent).join('/'),
      query: Object.fromEntries(url.searchParams),
      headers: { ...req.headers },
      body,
      at: new Date(),
    };
    requests.push(rec);
    if (req.headers.authorization !== `SSWS ${token}`) return sendError(res, rec, { status: 401 });
    const failure = injected(rec);
    if (failure) return sendError(res, rec, failure);
    try {
      const out = route(rec.method, url, rec.body);
      sendJson(res, rec, out.status, out.body, out.link ? { Link: out.link } : {});
    } catch (err) {
      if (err instanceof OktaHttpError) return sendError(res, rec, err);
      sendError(res, rec, { status: 500, errorSummary: (err as Error).message });
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const failureFor = (f: number | OktaFailure | undefined): OktaFailure => (typeof f === 'object' ? f : { status: f ?? 500 });

  return {
    url: state.url,
    token,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
    users,
    groups,
    addUser(profile, o = {}) {
      const id = o.id ?? oktaId('00u');
      const at = nowIso();
      const status = o.status ?? 'ACTIVE';
      const rec: OktaUserRecord = {
        id,
        status,
        created: at,
        activated: status === 'ACTIVE' ? at : null,
        statusChanged: at,
        lastLogin: null,
        lastUpdated: at,
        passwordChanged: null,
        type: { id: 'oty1breakglasstest0g4' },
        profile: { firstName: null, lastName: null, email: profile.login, ...profile } as OktaUserProfile,
      };
      users.set(id, rec);
      return rec;
    },
    addGroup(o = {}) {
      const id = o.id ?? oktaId('00g');
      const at = nowIso();
      const g: OktaGroupRecord = {
        id,
        created: at,
        lastUpdated: at,
        lastMembershipUpdated: at,
        objectClass: ['okta:user_group'],
        type: 'OKTA_GROUP',
        profile: { name: o.name ?? id, ...(o.description !== undefined ? { description: o.description } : {}) },
        members: [],
      };
      groups.set(id, g);
      for (const m of o.members ?? []) g.members.push(mustUser(m).id);
      return g;
    },
    user: findUser,
    setStatus(ref, status) {
      const u = mustUser(ref);
      u.status = status;
      u.statusChanged = u.lastUpdated = nowIso();
    },
    updateProfile(ref, patch) {
      const u = mustUser(ref);
      Object.assign(u.profile, patch);
      u.lastUpdated = nowIso();
    },
    addMember(groupId, ref) {
      const g = mustGroup(groupId);
      const u = mustUser(ref);
      if (!g.members.includes(u.id)) g.members.push(u.id);
    },
    removeMember(groupId, ref) {
      const g = mustGroup(groupId);
      const u = mustUser(ref);
      g.members = g.members.filter((m) => m !== u.id);
    },
    isMember(groupId, ref) {
      const u = findUser(ref);
      return !!u && (groups.get(groupId)?.members.includes(u.id) ?? false);
    },
    memberLogins(groupId) {
      return (groups.get(groupId)?.members ?? []).map((m) => users.get(m)?.profile.login ?? m);
    },
    requests,
    failNext(n, failure, filter) {
      oneShot.push({ left: n, failure: failureFor(failure), ...(filter ? { filter } : {}) });
    },
    failWhen(predicate, failure) {
      const entry = { predicate, failure: failureFor(failure) };
      standing.add(entry);
      return () => standing.delete(entry);
    },
    clearFailures() {
      oneShot.length = 0;
      standing.clear();
    },
    addFactor(ref, factor = {}) {
      const u = mustUser(ref);
      const record: OktaFactorRecord = { id: factor.id ?? oktaId('opf'), factorType: factor.factorType ?? 'push', provider: factor.provider ?? 'OKTA', status: factor.status ?? 'ACTIVE' };
      factors.set(u.id, [...(factors.get(u.id) ?? []), record]);
      return record;
    },
    scriptPush(ref, script) {
      scripts.set(mustUser(ref).id, script);
    },
    pushes,
    get maxPageSize() {
      return state.maxPageSize;
    },
    set maxPageSize(v: number) {
      state.maxPageSize = v;
    },
  };
}
