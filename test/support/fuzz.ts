/**
 * Shared pieces for the end-to-end fuzz tests: raw signed Slack bodies (so a payload can carry
 * what no builder would produce), arbitraries for junk values, and the "no side effect" checks
 * (ledger size, the Okta and IAM servers' request logs, errors in the bot's log, /healthz).
 */
import { count } from 'drizzle-orm';
import fc from 'fast-check';
import { expect } from 'vitest';
import { evidenceEvents } from '../../src/db/schema.ts';
import { grantOf, request, waitForCard, waitForEvent } from './flows.ts';
import type { Harness } from './harness.ts';
import { post, signedHeaders, type SignOptions, type SlackPostResult, type SlackRequest } from './slack-requests.ts';

const FORM = 'application/x-www-form-urlencoded';

/** Signs `body` as slack-requests.ts does, `tampered` included (signed, then the last byte changed). */
function signed(body: string, contentType: string, payload: Record<string, unknown>, opts: SignOptions): SlackRequest {
  const headers = signedHeaders(body, contentType, opts);
  const sent = opts.signing === 'tampered' ? body.slice(0, -1) + (body.endsWith('0') ? '1' : '0') : body;
  return { body: sent, headers, payload };
}

/** An interactivity body (`payload=<json>`), signed, whatever the payload holds. */
export function signedInteraction(payload: unknown, opts: SignOptions = {}): SlackRequest {
  return signed(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), FORM, { payload }, opts);
}

/** A form body (slash commands), signed, with any fields. */
export function signedForm(fields: Record<string, string>, opts: SignOptions = {}): SlackRequest {
  return signed(new URLSearchParams(fields).toString(), FORM, fields, opts);
}

/** A JSON body (Events API), signed, whatever it holds. */
export function signedJson(payload: unknown, opts: SignOptions = {}): SlackRequest {
  return signed(JSON.stringify(payload), 'application/json', { payload }, opts);
}

/**
 * What the bot has done so far that matters: evidence written and changes asked of the providers.
 * Reads are not effects: checking whether a clicker or requester has left asks Okta, and must.
 */
export interface Effects {
  ledger: number;
  okta: number;
  iam: number;
}

const IAM_READS = /^(Get|List)/;

export async function effects(h: Harness): Promise<Effects> {
  const [row] = await h.bot.database.db.select({ n: count() }).from(evidenceEvents);
  return {
    ledger: Number(row?.n ?? 0),
    okta: h.okta.requests.filter((r) => r.method !== 'GET').length,
    iam: h.iam.requests.filter((r) => !IAM_READS.test(r.action)).length,
  };
}

/** Waits until nothing changes for `quietMs` (the workers and the outbox have finished what they had). */
export async function settle(h: Harness, quietMs = 400, timeoutMs = 10_000): Promise<Effects> {
  const deadline = Date.now() + timeoutMs;
  let last = await effects(h);
  let lastLogs = h.logs().length;
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = await effects(h);
    const logs = h.logs().length;
    if (now.ledger !== last.ledger || now.okta !== last.okta || now.iam !== last.iam || logs !== lastLogs) {
      last = now;
      lastLogs = logs;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return now;
    }
  }
  return last;
}

export interface LogLine {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

/** The bot's log lines written after `offset` (a length of h.logs()), parsed. */
export function logLinesSince(h: Harness, offset: number): LogLine[] {
  return h
    .logs()
    .slice(offset)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        return { level: 60, msg: `unparseable log line: ${line.slice(0, 200)}` };
      }
    });
}

/** Errors (pino level 50 and above) logged after `offset`: an input reached a code path nobody expected. */
export function errorsSince(h: Harness, offset: number): LogLine[] {
  return logLinesSince(h, offset).filter((line) => line.level >= 50);
}

/**
 * Errors the fuzzing may cause and that are right to log: a response_url that is not a URL cannot
 * be answered through (Slack never sends one; if it did, the failure belongs in the log).
 */
const ACCEPTED_ERRORS = [/Failed to parse URL from/, /Invalid URL/];

/** Errors after `offset` other than the accepted ones, reduced to what identifies them. */
export function unexpectedErrorsSince(h: Harness, offset: number): Array<{ msg?: string; err?: unknown }> {
  return errorsSince(h, offset)
    .filter((line) => {
      const err = line.err as { message?: string } | string | undefined;
      const text = `${line.msg ?? ''} ${typeof err === 'string' ? err : (err?.message ?? '')}`;
      return !ACCEPTED_ERRORS.some((re) => re.test(text));
    })
    .map((line) => ({ msg: line.msg, err: line.err }));
}

export async function healthz(h: Harness): Promise<number> {
  const res = await fetch(`${h.baseUrl}/healthz`);
  await res.text();
  return res.status;
}

export async function send(h: Harness, req: SlackRequest): Promise<SlackPostResult> {
  return post(h.baseUrl, req);
}

// -------------------------------------------------------------------------------------------
// Arbitraries

/** 100 KB of text: larger than any field Slack sends, well under Bolt's 4 MB body limit. */
export const HUGE = 'x'.repeat(100 * 1024);

/** A value of the wrong type (or the right type with a wrong value) for any field. */
export const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 1e21, Number.MAX_SAFE_INTEGER, 2 ** 31, 999_999_999, 1_000_000_000),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '0', '-1', '1.5', '1e3', '0x10', '01', '#1', '１', 'NaN', 'null', '[]', '{}', '__proto__', 'constructor', HUGE, `1${'0'.repeat(40)}`),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null)), { maxKeys: 3 }),
  fc.constant({ id: 'U0NOBODY' }),
  fc.constant([{ id: 'U0NOBODY' }]),
);

/** Deletes or replaces a value at a path inside a JSON-like object (a copy is returned). */
export function mutateAt(root: unknown, path: ReadonlyArray<string | number>, replacement: { delete: true } | { value: unknown }): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node: unknown = copy;
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return copy;
    node = (node as Record<string | number, unknown>)[key];
  }
  if (node === null || typeof node !== 'object') return copy;
  const last = path[path.length - 1]!;
  if ('delete' in replacement) delete (node as Record<string | number, unknown>)[last];
  else (node as Record<string | number, unknown>)[last] = replacement.value;
  return copy;
}

/** Every path of a JSON-like object, depth first (objects and arrays), to pick mutation targets from. */
export function pathsOf(value: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = [], depth = 0): Array<Array<string | number>> {
  if (depth > 6 || value === null || typeof value !== 'object') return out;
  // Array.from, not map: a deleted element leaves a hole that map would skip.
  const entries: Array<[string | number, unknown]> = Array.isArray(value) ? Array.from(value, (v, i) => [i, v] as [number, unknown]) : Object.entries(value);
  for (const [key, child] of entries) {
    const path = [...prefix, key];
    out.push(path);
    pathsOf(child, path, out, depth + 1);
  }
  return out;
}

/** Asserts a status is one of the allowed ones, naming the input when not. */
export function expectStatus(status: number, allowed: readonly number[], what: string): void {
  expect(allowed, `${what} answered ${status}`).toContain(status);
}

// -------------------------------------------------------------------------------------------
// A small world to fuzz against

/**
 * Alice is the only one who may request; Bob approves; Sam is security. Fuzzing users (Mallory,
 * Eve and ids nobody knows) own nothing and decide nothing, so nothing they send may have an effect.
 */
export const FUZZ_ACCESS = `security_channel: C0SEC
security: { slack_users: [U0SAM] }
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
    requesters: { slack_users: [U0ALICE] }
  prod-admin:
    description: Admin for incidents
    grant: { aws_iam_group: BreakGlass }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
    requesters: { slack_users: [U0ALICE] }
    emergency_self_grant: true
`;

export const FUZZ_USERS: Array<{ id: string; name: string; email?: string }> = [
  ...['alice', 'bob', 'sam', 'mallory', 'eve', 'nobody'].map((n) => ({ id: `U0${n.toUpperCase()}`, name: n, email: `${n}@example.com` })),
  // A guest (W…) and a member without a visible email: Slack only sends clicks from real users.
  { id: 'W0GUEST', name: 'guest', email: 'guest@partner.example' },
  { id: 'UXXXXXXXX', name: 'noemail' },
];

/** Users whose input must never change anything (they own no request and may decide none). */
export const OUTSIDERS = ['U0MALLORY', 'U0EVE', 'U0NOBODY', 'W0GUEST', 'UXXXXXXXX'] as const;

export interface FuzzWorld {
  /** Alice's pending prod-db request (Bob's to decide). */
  pendingId: number;
  /** Alice's active emergency prod-admin request (and its grant). */
  emergencyId: number;
  grantId: number;
  /** Bob's approval card for the pending request, as Slack shows it. */
  card: { channel: string; ts: string; text?: string; blocks?: ReadonlyArray<Record<string, unknown>> };
}

/** Starts nothing: fills a harness started with FUZZ_ACCESS and FUZZ_USERS with a pending and an active request. */
export async function buildFuzzWorld(h: Harness): Promise<FuzzWorld> {
  for (const u of FUZZ_USERS) if (u.email) h.okta.addUser({ login: u.email, email: u.email, firstName: u.name, lastName: 'Test' });
  h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
  h.iam.account().addGroup('BreakGlass');
  h.iam.account().addUser('alice@example.com');
  const pending = await request(h, 'U0ALICE', 'prod-db 2h INC-1 replication lag');
  const card = await waitForCard(h, 'U0BOB', pending.requestId);
  const emergency = await request(h, 'U0ALICE', 'prod-admin 1h SEV-1 outage');
  await waitForEvent(h, emergency.requestId, 'grant.applied');
  const grant = await grantOf(h, emergency.requestId);
  if (!grant) throw new Error('no emergency grant');
  await settle(h);
  return { pendingId: pending.requestId, emergencyId: emergency.requestId, grantId: grant.id, card };
}

// -------------------------------------------------------------------------------------------
// Slash-command text

const commandWord = fc.oneof(
  fc.constantFrom('help', 'list', 'end', 'extend', 'log', 'prod-db', 'prod-admin', 'PROD-DB', 'prod-dbb', '#1', '1', '2', '3', '0', '999999999'),
  fc.constantFrom('2h', '30m', '1h30m', '1d', 'PT2H', '4h', '5h', '0m', `${'9'.repeat(400)}d`, 'P99999Y', 'INC-1234', '<!channel>', '<@U0BOB>', '`', '*bold*', '&amp;'),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);
const commandSpace = fc.constantFrom(' ', '  ', '\t', '\n', '\u00a0', '\u2028', '\u200b', '\u0000');

/** What people (and pasted garbage) type after /breakglass: command-shaped, arbitrary, or long. */
export const commandText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.tuple(commandWord, commandSpace), { maxLength: 7 }).map((parts) => parts.map(([w, s]) => w + s).join('')) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.tuple(commandWord, fc.string({ unit: 'binary', minLength: 3_990, maxLength: 6_000 })).map(([w, tail]) => `${w} 2h ${tail}`) },
);
