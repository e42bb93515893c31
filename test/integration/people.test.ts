import { PassThrough } from 'node:stream';
import { asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { learnPeople } from '../../src/app/learn-people.ts';
import { evidenceEvents, people as people_ } from '../../src/db/schema.ts';
import { readDetails } from '../../src/domain/events.ts';
import { exportEvents } from '../../src/reports/export/export.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { findPerson } from '../../src/reports/access/person-aliases.ts';
import { namesOfPerson } from '../../src/reports/access/person-filter.ts';
import { PeopleHistory } from '../../src/reports/access/people-csv.ts';
import { readEvents } from '../../src/ledger/read.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { createLogger } from '../../src/logger.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { uncatalogued } from '../support/uncatalogued.ts';

const HOUR = 3_600_000;

describeEachDatabase('people and their aliases', (context) => {
  const clock = new FakeClock('2026-02-02T09:00:00.000Z');
  const deps = () => ({ db: context.database.db, ledger: new Ledger(clock), clock, logger: createLogger('silent') });
  const personEvents = async () =>
    (await context.database.db.select().from(evidenceEvents).orderBy(asc(evidenceEvents.seq))).filter((e) => e.kind.startsWith('person.'));

  it('a person seen in Slack and then in Okta is one person with both names, recorded once each time', async () => {
    await learnPeople(deps(), 'request', [
      { system: 'slack', aliases: [{ kind: 'slack', value: 'U0ALICE' }, { kind: 'slack_email', value: 'Alice@Example.com' }], name: 'alice', status: 'active' },
    ]);
    clock.advance(HOUR);
    await learnPeople(deps(), 'review', [
      {
        system: 'okta',
        aliases: [{ kind: 'okta', value: '00u1alice' }, { kind: 'okta_login', value: 'alice@example.com' }, { kind: 'okta_email', value: 'alice@example.com' }],
        name: 'Alice Example',
        manager: 'bob@example.com',
        status: 'ACTIVE',
      },
    ]);
    // The same again: nothing changed, nothing written.
    await learnPeople(deps(), 'listing', [{ system: 'provider', aliases: [{ kind: 'principal', value: 'ALICE@example.com' }] }]);

    const events = await personEvents();
    expect(events.map((e) => e.kind)).toEqual(['person.seen', 'person.changed']);
    const seen = readDetails('person.seen', events[0]!.details)!;
    const changed = readDetails('person.changed', events[1]!.details)!;
    expect(changed.person_id).toBe(seen.person_id);
    expect(events[1]!.subject).toBe(seen.person_id);
    expect(seen.label).toBe('alice <Alice@Example.com>');
    expect(changed.label).toBe('Alice Example <Alice@Example.com>');
    expect(changed.changes).toEqual(
      expect.arrayContaining([
        { field: 'alias:okta', from: null, to: '00u1alice' },
        { field: 'name', from: 'alice', to: 'Alice Example' },
        { field: 'manager', from: null, to: 'bob@example.com' },
      ]),
    );

    for (const alias of ['U0ALICE', 'u0alice', '00U1ALICE', 'alice@EXAMPLE.com', seen.person_id.toLowerCase()]) {
      const person = await findPerson(context.database.db, alias);
      expect(person?.id, alias).toBe(seen.person_id);
    }
    const person = (await findPerson(context.database.db, 'U0ALICE'))!;
    expect(person.label).toBe('Alice Example <Alice@Example.com>');
    expect(person.aliases).toEqual(['U0ALICE', 'Alice@Example.com', '00u1alice']);
    expect(await findPerson(context.database.db, 'mallory@example.com')).toBeNull();
  });

  it('an email change is recorded as person.changed and the old email still finds the person', async () => {
    clock.advance(HOUR);
    await learnPeople(deps(), 'request', [
      { system: 'slack', aliases: [{ kind: 'slack', value: 'U0ALICE' }, { kind: 'slack_email', value: 'alice.smith@example.com' }], name: 'alice', status: 'active' },
    ]);
    const last = (await personEvents()).at(-1)!;
    expect(last.kind).toBe('person.changed');
    expect(readDetails('person.changed', last.details)!.changes).toEqual([{ field: 'alias:slack_email', from: 'Alice@Example.com', to: 'alice.smith@example.com' }]);
    const byOld = await findPerson(context.database.db, 'alice@example.com');
    const byNew = await findPerson(context.database.db, 'ALICE.SMITH@example.com');
    expect(byOld?.id).toBe(byNew?.id);
    expect(byNew!.aliases).toContain('alice.smith@example.com');
  });

  it('a deactivation makes the person deactivated, with when', async () => {
    clock.advance(HOUR);
    const at = new Date('2026-02-02T11:30:00.000Z');
    await learnPeople(deps(), 'deactivation', [
      { system: 'okta', aliases: [{ kind: 'okta_login', value: 'alice@example.com' }], status: 'DEPROVISIONED', deactivatedAt: at },
    ]);
    const changed = readDetails('person.changed', (await personEvents()).at(-1)!.details)!;
    expect(changed.changes).toEqual(
      expect.arrayContaining([
        { field: 'status:okta', from: 'ACTIVE', to: 'DEPROVISIONED' },
        { field: 'status', from: 'active', to: 'deactivated' },
        { field: 'deactivated_at', from: null, to: at.toISOString() },
      ]),
    );
  });

  it('two people known apart become one when a sighting links them; the folded id still finds them', async () => {
    await learnPeople(deps(), 'listing', [{ system: 'provider', aliases: [{ kind: 'principal', value: 'carol' }] }]);
    clock.advance(60_000);
    await learnPeople(deps(), 'request', [{ system: 'slack', aliases: [{ kind: 'slack', value: 'U0CAROL' }, { kind: 'slack_email', value: 'carol@example.com' }], name: 'Carol' }]);
    const principalOnly = (await findPerson(context.database.db, 'carol'))!;
    const slack = (await findPerson(context.database.db, 'U0CAROL'))!;
    expect(principalOnly.id).not.toBe(slack.id);
    await learnPeople(deps(), 'request', [{ system: 'config', aliases: [{ kind: 'slack', value: 'U0CAROL' }, { kind: 'principal', value: 'Carol' }] }]);
    // The one known longest keeps their id; the other's id becomes an alias.
    const merged = (await findPerson(context.database.db, 'U0CAROL'))!;
    expect(merged.id).toBe(principalOnly.id);
    expect(merged.aliases).toEqual(expect.arrayContaining(['carol', 'U0CAROL', 'carol@example.com', slack.id]));
    expect((await findPerson(context.database.db, slack.id))?.id).toBe(principalOnly.id);
    const last = readDetails('person.changed', (await personEvents()).at(-1)!.details)!;
    expect(last.merged_from).toEqual([slack.id]);
    expect(last.label).toBe('Carol <carol@example.com>');
  });

  it('people.csv, replayed from the ledger alone, lists each person once with every alias, manager, status and dates', async () => {
    await learnPeople(deps(), 'review', [
      { system: 'okta', aliases: [{ kind: 'okta', value: '00u1bob' }, { kind: 'okta_login', value: 'bob@example.com' }], name: 'Bob Boss', status: 'ACTIVE' },
    ]);
    const people = new PeopleHistory();
    for await (const event of readEvents(context.database.db)) people.add(event);
    const rows = people.rows(new Date('2100-01-01T00:00:00Z'));
    const alice = rows.find((r) => r.aliases?.includes('U0ALICE'))!;
    expect(alice).toEqual({
      id: (await findPerson(context.database.db, 'U0ALICE'))!.id,
      name: 'Alice Example',
      aliases: 'U0ALICE; Alice@Example.com; 00u1alice; alice.smith@example.com',
      manager: 'bob@example.com',
      manager_id: (await findPerson(context.database.db, 'bob@example.com'))!.id,
      status: 'deactivated',
      first_seen_at: '2026-02-02T09:00:00.000Z',
      deactivated_at: '2026-02-02T11:30:00.000Z',
      evidence_seqs: expect.stringMatching(/^\d+ \d+ \d+ \d+$/),
    });
    // The two Carols are one row, under the id kept, with both ids' names and the earlier first sighting.
    const carol = rows.filter((r) => r.aliases?.toLowerCase().includes('carol'));
    expect(carol).toHaveLength(1);
    expect(carol[0]!.aliases!.split('; ')).toEqual(expect.arrayContaining(['carol', 'U0CAROL', 'carol@example.com']));
    expect(rows.map((r) => r.id).sort()).toEqual(
      (await context.database.db.select().from(people_)).map((p) => p.id).sort(),
    );
    // As known before Alice was seen in Okta: one alias fewer, no manager.
    const before = people.rows(new Date('2026-02-02T09:30:00.000Z'));
    expect(before).toEqual([expect.objectContaining({ name: 'alice', aliases: 'U0ALICE; Alice@Example.com', manager: null, status: 'active' })]);
  });

  it('evidence export --user with a Slack id finds the events recorded under the email, and the other way round', async () => {
    const ledger = new Ledger(clock);
    for (const event of [
      { kind: 'offboarding.detected', actor: 'breakglass', subject: 'alice@example.com' },
      { kind: 'grant.revoked', actor: 'breakglass', subject: 'U0ALICE', resource: 'prod-db' },
      { kind: 'request.created', actor: 'U0CAROL', subject: 'U0CAROL', resource: 'prod-db' },
    ] as const) {
      await context.database.db.transaction((tx) => ledger.append(tx, uncatalogued(event)));
    }
    const exported = async (user: string) => {
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      await exportEvents(context.database.db, { user: await namesOfPerson(context.database.db, user) }, 'jsonl', out);
      return Buffer.concat(chunks).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; subject: string });
    };
    const bySlack = await exported('u0alice');
    expect(bySlack.filter((e) => !e.kind.startsWith('person.')).map((e) => `${e.kind} ${e.subject}`)).toEqual([
      'offboarding.detected alice@example.com',
      'grant.revoked U0ALICE',
    ]);
    expect(bySlack.filter((e) => e.kind.startsWith('person.')).length).toBe(4);
    const byOldEmail = await exported('ALICE@example.com');
    expect(byOldEmail).toEqual(bySlack);
    // Someone breakglass never met is looked for by the name given, still without case.
    expect(await exported('u0carol')).not.toEqual([]);
    expect((await verifyLedger(context.database.db)).ok).toBe(true);
  });

  it('every event names its person by id and label as known when it was recorded, and nobody it cannot name', async () => {
    const db = context.database.db;
    await learnPeople(deps(), 'request', [{ system: 'slack', aliases: [{ kind: 'slack', value: 'U0ERIN' }, { kind: 'slack_email', value: 'erin@example.com' }], name: 'erin' }]);
    const erin = (await findPerson(db, 'U0ERIN'))!;
    const ledger = new Ledger(clock);
    const append = (event: Parameters<typeof uncatalogued>[0]) => db.transaction((tx) => ledger.append(tx, uncatalogued(event)));
    const named = [
      await append({ kind: 'grant.revoked', actor: 'breakglass', subject: 'U0ERIN', resource: 'prod-db' }),
      await append({ kind: 'offboarding.detected', actor: 'breakglass', subject: 'ERIN@example.com' }),
      // No subject: the person who acted.
      await append({ kind: 'alert.acknowledged', actor: 'U0ERIN' }),
    ];
    const unnamed = [
      await append({ kind: 'access.observed', actor: 'breakglass', subject: 'svc-deploy', resource: 'prod-db' }),
      await append({ kind: 'bot.started', actor: 'breakglass' }),
      await append({ kind: 'log.exported', actor: 'cli:erin' }),
    ];
    for (const event of named) expect(event.details).toMatchObject({ person_id: erin.id, person_label: 'erin <erin@example.com>' });
    for (const event of unnamed) expect(event.details).not.toHaveProperty('person_id');

    clock.advance(HOUR);
    await learnPeople(deps(), 'review', [{ system: 'okta', aliases: [{ kind: 'okta_login', value: 'erin@example.com' }], name: 'Erin Example', status: 'ACTIVE' }]);
    const later = await append({ kind: 'grant.applied', actor: 'breakglass', subject: 'U0ERIN', resource: 'prod-db' });
    expect(later.details).toMatchObject({ person_id: erin.id, person_label: 'Erin Example <erin@example.com>' });
    // What was recorded before keeps the label it had then.
    const [first] = await db.select().from(evidenceEvents).where(eq(evidenceEvents.seq, named[0]!.seq));
    expect(first!.details).toMatchObject({ person_label: 'erin <erin@example.com>' });
    expect((await verifyLedger(db)).ok).toBe(true);
  });
});
