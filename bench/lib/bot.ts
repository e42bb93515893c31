/**
 * The whole bot in this process, through the tests' harness (test/support/harness.ts): real Bolt
 * over signed HTTP, the real use cases and workers, a real database (a throwaway PostgreSQL
 * database, dropped afterwards, or PGlite), and wire-level Slack, Okta and IAM servers.
 *
 * Note for reading the figures: the load generator and the fake Slack/Okta/IAM servers share
 * this process (and its event loop) with the bot, so every latency here includes their work too.
 */
import type { Clock } from '../../src/ports.ts';
import { startHarness, type Harness } from '../../test/support/harness.ts';
import { post, slashCommand } from '../../test/support/slack-requests.ts';
import type { DirectoryUser } from '../../test/support/slack-server.ts';
import type { BenchDbKind } from './databases.ts';

export const APPROVER = 'U0BOB';
export const OKTA_GROUP = '00gPRODDB';

export const ACCESS_YML = `security_channel: C0SECURITY
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: ${OKTA_GROUP} }
    max_duration: 4h
    approvers: { slack_users: [${APPROVER}] }
`;

export function requester(i: number): DirectoryUser & { email: string } {
  const id = `U0R${String(i).padStart(5, '0')}`;
  return { id, name: `requester${i}`, email: `requester${i}@example.com` };
}

export interface BenchBot {
  h: Harness;
  requesters: Array<DirectoryUser & { email: string }>;
  stop(): Promise<void>;
}

/** Starts the bot with `people` requesters known to Slack and Okta, and one approver. */
export async function startBenchBot(kind: BenchDbKind, options: { people: number; tickMs?: number; clock?: Clock }): Promise<BenchBot> {
  const requesters = Array.from({ length: options.people }, (_, i) => requester(i + 1));
  const h = await startHarness({
    database: kind,
    accessYml: ACCESS_YML,
    // The product's default worker tick is 1 s (the harness's own default, 100 ms, is for fast tests).
    tickMs: options.tickMs ?? 1_000,
    // And logs at info, as in production: the harness's debug logs every Slack call, into memory.
    logLevel: 'info',
    ...(options.clock ? { clock: options.clock } : {}),
    slack: { users: [{ id: APPROVER, name: 'bob', email: 'bob@example.com' }, ...requesters] },
  });
  h.okta.addGroup({ id: OKTA_GROUP, name: 'prod-db' });
  h.okta.addUser({ login: 'bob@example.com', email: 'bob@example.com', firstName: 'Bob', lastName: 'B' });
  for (const r of requesters) h.okta.addUser({ login: r.email, email: r.email, firstName: r.name, lastName: 'R' });
  return { h, requesters, stop: () => h.stop() };
}

let counter = 0;

/** A signed `/breakglass <text>` from `userId`, ready to send (signing is not part of the timed work). */
export function signedCommand(h: Harness, userId: string, text: string): { name: string; send(): Promise<{ status: number; ms: number; sentAt: number }> } {
  const name = `bench-${++counter}`;
  const req = slashCommand({ text, userId, responseUrl: h.slack.responseUrl(name) });
  return {
    name,
    async send() {
      const sentAt = Date.now();
      const started = performance.now();
      const res = await post(h.baseUrl, req);
      return { status: res.status, ms: performance.now() - started, sentAt };
    },
  };
}

/** Polls (every 50 ms) until `check` is truthy; throws after `timeoutMs`. */
export async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
