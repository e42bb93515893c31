/**
 * Use cases called in the test's own process against a real database and the real Okta provider
 * on the wire-level Okta test server: the people are Slack users and Okta users alike, and the
 * clock only moves when the test says so.
 */
import { asc, eq } from 'drizzle-orm';
import type { AppDeps } from '../../src/app/deps.ts';
import { approveRequest } from '../../src/app/decide-request.ts';
import { requestAccess } from '../../src/app/request-access.ts';
import type { Db } from '../../src/db/client.ts';
import { evidenceEvents, grants } from '../../src/db/schema.ts';
import type { SlackUser } from '../../src/ports.ts';
import { OktaProvider } from '../../src/providers/okta/okta-provider.ts';
import type { FakeClock } from './clock.ts';
import { startOktaServer, type OktaTestServer } from './okta-server.ts';
import { useCaseDeps } from './process-deps.ts';

/** The Okta group access.yml's `okta_group` names in these tests. */
export const OKTA_GROUP = '00gPRODDB';

export interface Person {
  slack: string;
  email: string;
  name: string;
}

const person = (slack: string, name: string): Person => ({ slack, name, email: `${name.toLowerCase()}@example.com` });
export const ALICE = person('U0ALICE', 'Alice');
export const BOB = person('U0BOB', 'Bob');
export const CAROL = person('U0CAROL', 'Carol');
export const DAVE = person('U0DAVE', 'Dave');
export const SECURITY = person('U0SEC', 'Sam');
const EVERYONE = [ALICE, BOB, CAROL, DAVE, SECURITY];

export interface OktaUseCases {
  deps: AppDeps;
  okta: OktaTestServer;
}

/** Everyone above is known to Slack and Okta alike; the Okta group starts empty. Close `okta` after. */
export async function oktaUseCases(db: Db, input: { accessYml: string; clock: FakeClock }): Promise<OktaUseCases> {
  const okta = await startOktaServer();
  for (const p of EVERYONE) okta.addUser({ login: p.email, firstName: p.name, lastName: 'Example' });
  okta.addGroup({ id: OKTA_GROUP, name: 'prod-db' });
  const users: SlackUser[] = EVERYONE.map((p) => ({ id: p.slack, name: p.name, email: p.email, deleted: false, isBot: false }));
  const provider = new OktaProvider({ orgUrl: okta.url, token: okta.token }, { retry: { attempts: 2, baseMs: 1, maxMs: 5 } });
  const deps = useCaseDeps(db, {
    ...input,
    provider,
    directory: {
      user: async (id) => users.find((u) => u.id === id),
      usergroupMembers: async () => [],
      userByEmail: async (email) => users.find((u) => u.email?.toLowerCase() === email.toLowerCase()),
      channelMembers: async () => [],
      channel: async () => ({ found: false }),
    },
  });
  // As the bot runs with Okta configured: the provider is the identity directory too (status, managers).
  return { deps: { ...deps, identities: provider }, okta };
}

/** Access granted the ordinary way: requested, approved, and applied at Okta. Returns the grant row. */
export async function activeGrant(deps: AppDeps, input: { requester: Person; approver: Person; resource: string; durationMs: number }) {
  const asked = await requestAccess(deps, { requester: input.requester.slack, resource: input.resource, durationMs: input.durationMs, reason: 'INC-42 replication lag' });
  await approveRequest(deps, { requestId: asked.requestId, approver: input.approver.slack });
  const [grant] = await deps.db.select().from(grants).where(eq(grants.requestId, asked.requestId));
  if (grant?.state !== 'active') throw new Error(`grant for request #${asked.requestId} is ${grant?.state ?? 'missing'}`);
  return grant;
}

/** The evidence on record, oldest first, optionally of one kind. */
export async function evidence(db: Db, kind?: string) {
  const all = await db.select().from(evidenceEvents).orderBy(asc(evidenceEvents.seq));
  return kind ? all.filter((e) => e.kind === kind) : all;
}
