import { asc } from 'drizzle-orm';
import { beforeAll, expect, it } from 'vitest';
import type { AppDeps } from '../../src/app/deps.ts';
import { approveRequest } from '../../src/app/decide-request.ts';
import { detectOffboarding } from '../../src/app/offboard-person.ts';
import { reconcileDrift } from '../../src/app/reconcile-drift.ts';
import { requestAccess } from '../../src/app/request-access.ts';
import { evidenceEvents } from '../../src/db/schema.ts';
import { readDetails } from '../../src/domain/events.ts';
import { findPerson } from '../../src/reports/access/person-aliases.ts';
import type { AccessEntry, AccessProvider, SlackUser } from '../../src/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { useCaseDeps } from '../support/process-deps.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-admin:
    description: AWS production administrators
    grant: { aws_iam_group: ProdAdmins }
    max_duration: 2h
    approvers: { slack_users: [U0BOB] }
people:
  U0ALICE: { aws_iam_user: alice }
`;

const USERS: SlackUser[] = [
  { id: 'U0ALICE', name: 'Alice Example', email: 'Alice@Example.com', deleted: false, isBot: false },
  { id: 'U0BOB', name: 'Bob', email: 'bob@example.com', deleted: false, isBot: false },
];

/** Where each use case meets people, in process: the Slack directory and IAM's listing are small doubles of their ports. */
describeEachDatabase('people are learnt where breakglass meets them', (context) => {
  const clock = new FakeClock('2026-03-02T09:00:00.000Z');
  let listing: AccessEntry[] = [];
  let deps: AppDeps;
  beforeAll(() => {
    const provider: AccessProvider = { name: 'aws-iam', supports: () => true, grant: async () => {}, revoke: async () => {}, listAccess: async () => listing };
    deps = useCaseDeps(context.database.db, {
      accessYml: ACCESS,
      clock,
      provider,
      directory: {
        user: async (id) => USERS.find((u) => u.id === id),
        usergroupMembers: async () => [],
        userByEmail: async (email) => USERS.find((u) => u.email?.toLowerCase() === email.toLowerCase()),
        channelMembers: async () => [],
        channel: async () => ({ found: false }),
      },
    });
  });
  const personEvents = async () =>
    (await context.database.db.select().from(evidenceEvents).orderBy(asc(evidenceEvents.seq))).filter((e) => e.kind.startsWith('person.'));

  it('a request records the requester with their Slack names and the IAM user their grant maps to', async () => {
    await requestAccess(deps, { requester: 'U0ALICE', resource: 'prod-admin', durationMs: 3_600_000, reason: 'INC-1 replication lag' });
    const [seen] = await personEvents();
    expect(seen).toMatchObject({ kind: 'person.seen', actor: 'breakglass' });
    const details = readDetails('person.seen', seen!.details)!;
    expect(details).toMatchObject({ label: 'Alice Example <Alice@Example.com>', source: 'slack', seen_in: 'request', status: 'active' });
    expect(details.aliases).toEqual([
      { kind: 'slack', value: 'U0ALICE' },
      { kind: 'slack_email', value: 'Alice@Example.com' },
      { kind: 'principal', value: 'alice' },
    ]);
    expect(seen!.subject).toBe(details.person_id);
    expect((await findPerson(context.database.db, 'ALICE'))?.id).toBe(details.person_id);
    // The request names its person by that id, with a label a reader recognises.
    const created = (await context.database.db.select().from(evidenceEvents)).find((e) => e.kind === 'request.created')!;
    expect(readDetails('request.created', created.details)).toMatchObject({ person_id: details.person_id, person_label: 'Alice Example <Alice@Example.com>' });
  });

  it('a decision that counted records the approver; a click by someone who may not decide records nobody', async () => {
    const requestId = (await context.database.db.select().from(evidenceEvents)).find((e) => e.kind === 'request.created')!.requestId!;
    const before = (await personEvents()).length;
    await expect(approveRequest(deps, { requestId: Number(requestId), approver: 'U0MALLORY' })).rejects.toThrow();
    expect((await personEvents()).length).toBe(before);
    await approveRequest(deps, { requestId: Number(requestId), approver: 'U0BOB' });
    const added = (await personEvents()).slice(before);
    expect(added.map((e) => readDetails('person.seen', e.details))).toEqual([
      expect.objectContaining({ seen_in: 'decision', label: 'Bob <bob@example.com>', aliases: [{ kind: 'slack', value: 'U0BOB' }, { kind: 'slack_email', value: 'bob@example.com' }] }),
    ]);
  });

  it('a listing names a principal nobody knew: a person of its own; an unchanged listing writes nothing', async () => {
    listing = [
      { resource: 'prod-admin', principal: 'alice' },
      { resource: 'prod-admin', principal: 'mallory' },
    ];
    const before = (await personEvents()).length;
    await reconcileDrift(deps);
    const added = (await personEvents()).slice(before);
    expect(added.map((e) => [e.kind, readDetails('person.seen', e.details)?.aliases])).toEqual([['person.seen', [{ kind: 'principal', value: 'mallory' }]]]);
    clock.advance(60_000);
    await reconcileDrift(deps);
    expect((await personEvents()).length).toBe(before + 1);
  });

  it('an Okta deactivation adds the Okta login to the same person and marks them deactivated', async () => {
    const deactivatedAt = new Date('2026-03-02T08:30:00.000Z');
    await detectOffboarding(deps, { source: 'okta', email: 'alice@example.com', login: 'alice.e@example.com', status: 'DEPROVISIONED', deactivatedAt, detail: 'Okta status DEPROVISIONED' });
    const last = (await personEvents()).at(-1)!;
    expect(last.kind).toBe('person.changed');
    const changed = readDetails('person.changed', last.details)!;
    expect(changed).toMatchObject({ person_id: (await findPerson(context.database.db, 'U0ALICE'))!.id, source: 'okta', seen_in: 'deactivation' });
    expect(changed.changes).toEqual([
      { field: 'alias:okta_login', from: null, to: 'alice.e@example.com' },
      { field: 'alias:okta_email', from: null, to: 'alice@example.com' },
      { field: 'status:okta', from: null, to: 'DEPROVISIONED' },
      { field: 'status', from: 'active', to: 'deactivated' },
      { field: 'deactivated_at', from: null, to: deactivatedAt.toISOString() },
    ]);
    // The offboarding itself is recorded under the email, and names the person by their id.
    const person = (await findPerson(context.database.db, 'u0alice'))!;
    const detected = (await context.database.db.select().from(evidenceEvents)).find((e) => e.kind === 'offboarding.detected')!;
    expect(detected.subject).toBe('alice@example.com');
    expect(readDetails('offboarding.detected', detected.details)).toMatchObject({ person_id: person.id, person_label: 'Alice Example <Alice@Example.com>' });
    expect(person.aliases).toEqual(expect.arrayContaining(['U0ALICE', 'Alice@Example.com', 'alice', 'alice.e@example.com']));
  });
});
