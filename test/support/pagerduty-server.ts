/**
 * A local PagerDuty REST API v2 for the two calls on-call auto-approval makes, written by hand
 * from /work/shared/peers/pagerduty/openapiv3.json: GET /users (listUsers) and GET /oncalls
 * (listOnCalls). Each request is checked the way the spec describes it — the `Token token=…`
 * API key, the versioned Accept header, the Content-Type the spec marks required, and only the
 * query parameters each operation declares, with their types — and answered with the spec's
 * shapes (Pagination plus `users` / `oncalls`, User and Oncall objects, the error object).
 * A request the spec would not accept is answered 400 and recorded as a violation, so a test can
 * assert the bot never sent one. Failures can be injected.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const DEFAULT_PAGERDUTY_TOKEN = 'y_NbAkKc66ryYTWUXYEu';
const ACCEPT = 'application/vnd.pagerduty+json;version=2';

export interface PagerDutyUser {
  id: string;
  name: string;
  email: string;
}

export interface PagerDutyOnCall {
  userId: string;
  scheduleId: string;
  escalationPolicyId: string;
  escalationLevel: number;
  /** ISO 8601 with an offset, as PagerDuty writes it; null: a permanent on-call. */
  start: string | null;
  end: string | null;
}

export interface PagerDutyRecordedRequest {
  method: string;
  path: string;
  query: Array<[string, string]>;
  headers: IncomingMessage['headers'];
}

export interface PagerDutyTestServer {
  url: string;
  token: string;
  users: PagerDutyUser[];
  oncalls: PagerDutyOnCall[];
  requests: PagerDutyRecordedRequest[];
  /** Requests the spec would refuse (the reason each was answered 400 or 401). */
  violations: string[];
  /** Answer every request with this status (a PagerDuty error body) until cleared with undefined. */
  failWith(status: number | undefined): void;
  /** Hold every answer this long (for timeouts) until cleared with 0. */
  delayMs(ms: number): void;
  close(): Promise<void>;
}

/** Query parameters each operation declares (name → type), from the spec's parameters. */
export const DECLARED: Record<string, Record<string, 'string' | 'integer' | 'boolean' | 'string[]' | 'date-time' | 'include'>> = {
  '/users': { query: 'string', 'team_ids[]': 'string[]', limit: 'integer', offset: 'integer', total: 'boolean', 'include[]': 'include' },
  '/oncalls': {
    time_zone: 'string',
    limit: 'integer',
    offset: 'integer',
    total: 'boolean',
    'include[]': 'include',
    'user_ids[]': 'string[]',
    'escalation_policy_ids[]': 'string[]',
    'schedule_ids[]': 'string[]',
    since: 'date-time',
    until: 'date-time',
    earliest: 'boolean',
  },
};
export const INCLUDES: Record<string, string[]> = { '/users': ['contact_methods', 'notification_rules', 'teams', 'subdomains'], '/oncalls': ['escalation_policies', 'users', 'schedules'] };

/** Why the request does not match the spec, or undefined. */
function specProblem(path: string, query: URLSearchParams, headers: IncomingMessage['headers']): string | undefined {
  if (headers.accept !== ACCEPT) return `Accept is ${String(headers.accept)}, not ${ACCEPT}`;
  if (headers['content-type'] !== 'application/json') return `Content-Type is ${String(headers['content-type'])}, not application/json (required by the spec)`;
  const declared = DECLARED[path]!;
  for (const [name, value] of query) {
    const type = declared[name];
    if (!type) return `${path} declares no query parameter ${name}`;
    if (type === 'integer' && !/^\d+$/.test(value)) return `${name} must be an integer, got ${value}`;
    if (type === 'boolean' && value !== 'true' && value !== 'false') return `${name} must be a boolean, got ${value}`;
    if (type === 'date-time' && Number.isNaN(Date.parse(value))) return `${name} must be a date-time, got ${value}`;
    if (type === 'include' && !INCLUDES[path]!.includes(value)) return `include[] ${value} is not one of ${INCLUDES[path]!.join(', ')}`;
    if (!type.endsWith('[]') && name.endsWith('[]')) return `${name} is an array`;
    if (!name.endsWith('[]') && query.getAll(name).length > 1) return `${name} is given more than once`;
  }
  for (const name of Object.keys(declared).filter((n) => n.endsWith('[]'))) {
    const values = query.getAll(name);
    if (new Set(values).size !== values.length) return `${name} items must be unique`;
  }
  return undefined;
}

const errorBody = (status: number, message: string, errors: string[] = []) => ({ error: { message, code: status === 401 ? 2006 : status === 400 ? 2001 : 2000 + Math.floor(status / 100), errors } });

function userObject(base: string, u: PagerDutyUser) {
  return {
    id: u.id,
    type: 'user',
    summary: u.name,
    self: `${base}/users/${u.id}`,
    html_url: `https://breakglass-test.pagerduty.com/users/${u.id}`,
    name: u.name,
    email: u.email,
    time_zone: 'Etc/UTC',
    color: 'green',
    role: 'user',
    avatar_url: 'https://pd-static-assets.pagerduty.com/users/blank-avatar.png',
    description: null,
    invitation_sent: false,
    job_title: 'Engineer',
    teams: [],
    contact_methods: [],
    notification_rules: [],
  };
}

function oncallObject(base: string, o: PagerDutyOnCall, users: PagerDutyUser[]) {
  const ref = (type: string, id: string, summary: string, collection: string) => ({ id, type, summary, self: `${base}/${collection}/${id}`, html_url: `https://breakglass-test.pagerduty.com/${collection}/${id}` });
  return {
    escalation_policy: ref('escalation_policy_reference', o.escalationPolicyId, 'Production escalation', 'escalation_policies'),
    escalation_level: o.escalationLevel,
    schedule: ref('schedule_reference', o.scheduleId, `Schedule ${o.scheduleId}`, 'schedules'),
    user: ref('user_reference', o.userId, users.find((u) => u.id === o.userId)?.name ?? o.userId, 'users'),
    start: o.start,
    end: o.end,
  };
}

/** An offset page of `items`, echoing limit and offset as the spec's Pagination does. */
function page<T>(items: T[], query: URLSearchParams) {
  const limit = Number(query.get('limit') ?? 25);
  const offset = Number(query.get('offset') ?? 0);
  return { slice: items.slice(offset, offset + limit), pagination: { limit, offset, more: offset + limit < items.length, total: query.get('total') === 'true' ? items.length : null } };
}

function covers(o: PagerDutyOnCall, since: number, until: number): boolean {
  const start = o.start === null ? -Infinity : Date.parse(o.start);
  const end = o.end === null ? Infinity : Date.parse(o.end);
  return start <= until && since < end;
}

export async function startPagerDutyServer(options: { token?: string } = {}): Promise<PagerDutyTestServer> {
  const token = options.token ?? DEFAULT_PAGERDUTY_TOKEN;
  let failure: number | undefined;
  let delay = 0;
  const state = { url: '' };
  const server: PagerDutyTestServer = {
    url: '',
    token,
    users: [],
    oncalls: [],
    requests: [],
    violations: [],
    failWith: (status) => (failure = status),
    delayMs: (ms) => (delay = ms),
    close: () => new Promise((resolve) => { http.close(() => resolve()); http.closeAllConnections(); }),
  };
  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    server.requests.push({ method: req.method ?? '', path: url.pathname, query: [...url.searchParams], headers: req.headers });
    if (failure !== undefined) return answer(res, failure, errorBody(failure, 'Internal Server Error'));
    if (req.method !== 'GET' || !(url.pathname in DECLARED)) return answer(res, 404, errorBody(404, 'Not Found'));
    if (req.headers.authorization !== `Token token=${token}`) {
      server.violations.push(`Authorization is not "Token token=<the key>"`);
      return answer(res, 401, errorBody(401, 'Unauthorized'));
    }
    const problem = specProblem(url.pathname, url.searchParams, req.headers);
    if (problem) {
      server.violations.push(problem);
      return answer(res, 400, errorBody(400, 'Invalid Input Provided', [problem]));
    }
    if (url.pathname === '/users') {
      const q = (url.searchParams.get('query') ?? '').toLowerCase();
      const { slice, pagination } = page(server.users.filter((u) => u.name.toLowerCase().includes(q) || u.email.toLowerCase().includes(q)), url.searchParams);
      return answer(res, 200, { users: slice.map((u) => userObject(state.url, u)), ...pagination });
    }
    const schedules = url.searchParams.getAll('schedule_ids[]');
    const userIds = url.searchParams.getAll('user_ids[]');
    const since = Date.parse(url.searchParams.get('since') ?? new Date().toISOString());
    const until = Date.parse(url.searchParams.get('until') ?? new Date().toISOString());
    const matching = server.oncalls.filter(
      (o) => (schedules.length === 0 || schedules.includes(o.scheduleId)) && (userIds.length === 0 || userIds.includes(o.userId)) && covers(o, since, until),
    );
    const { slice, pagination } = page(matching, url.searchParams);
    return answer(res, 200, { oncalls: slice.map((o) => oncallObject(state.url, o, server.users)), ...pagination });
  };
  const http = createServer((req, res) => {
    req.resume();
    req.on('end', () => (delay > 0 ? setTimeout(() => handle(req, res), delay) : handle(req, res)));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  server.url = state.url;
  return server;
}
