import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileDrift } from '../../src/app/reconcile-drift.ts';
import { recordListing } from '../../src/app/record-listing.ts';
import type { Database } from '../../src/db/client.ts';
import { readTimeline, resolveUser } from '../../src/reports/access/access-record.ts';
import { accessBetween, accessToCsv, accessToJson, userAt, userAtToJson, whoAt, whoAtToJson } from '../../src/reports/access/access-render.ts';
import { userAtToText, whoAtToText } from '../../src/reports/access/access-text.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import type { AccessTimeline } from '../../src/reports/access/timeline.ts';
import type { AccessEntry, AccessProvider } from '../../src/ports.ts';
import { runCli } from '../support/cli.ts';
import { cliDatabaseVariants, type CliDatabase } from '../support/cli-databases.ts';
import { FakeClock } from '../support/clock.ts';
import { EvidenceStory } from '../support/evidence-story.ts';
import { useCaseDeps } from '../support/process-deps.ts';

/** Every person is named by their stable breakglass id (see People and aliases). */
const PERSON_ID = expect.stringMatching(/^P-[0-9a-f]{12}$/);
const DAY = '2026-03-04';
const t = (time: string) => `${DAY}T${time}Z`;
const HOUR = 3_600_000;
const POLICY_A = 'a'.repeat(64);
const POLICY_B = 'b'.repeat(64);

const ACCESS_YML = `
security_channel: C0SECURITY
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
people:
  U0ALICE: { email: alice@example.com }
drift:
  every: 1h
`;

/** What the provider really holds, moved by the story; every listing reads it. */
class ProviderState {
  held = new Map<string, AccessEntry>();
  add(principal: string): void {
    this.held.set(principal, { resource: 'prod-db', principal, email: principal });
  }
  remove(principal: string): void {
    this.held.delete(principal);
  }
  provider(): AccessProvider {
    return {
      name: 'okta',
      supports: () => true,
      grant: async () => ({ providerExpiry: new Date(0) }) as never,
      revoke: async () => {},
      listAccess: async () => [...this.held.values()],
    };
  }
}

/**
 * One day of prod-db, as the drift pass (hourly, from 01:00) and the ledger saw it:
 *  stan@      standing access from before the first start; kept by U0MGR in review 1 at 07:30
 *  mallory@   added by hand at 02:20 (seen 03:00), removed by hand at 03:30 (seen gone 04:00)
 *  alice      grant 1 04:10 → 05:10 under policy A; policy B loaded 06:10; grant 2 06:20 → 07:20 under B
 */
async function writeDay(database: Database): Promise<void> {
  const clock = new FakeClock(t('00:00:00'));
  const state = new ProviderState();
  const deps = useCaseDeps(database.db, { accessYml: ACCESS_YML, clock, provider: state.provider() });
  const story = new EvidenceStory();
  let written = 0;
  const flush = async () => {
    for (const entry of story.entries.slice(written)) {
      await database.db.transaction((tx) => new Ledger({ now: () => entry.at }).append(tx, entry.input));
    }
    written = story.entries.length;
  };
  const drift = async (time: string) => {
    await flush();
    clock.set(t(time));
    await reconcileDrift(deps);
  };

  story.config(t('00:00:00'), POLICY_A);
  state.add('stan@example.com');
  await drift('01:00:00');
  await drift('02:00:00');
  state.add('mallory@example.com'); // 02:20, by hand
  await drift('03:00:00');
  state.remove('mallory@example.com'); // 03:30, by hand
  await drift('04:00:00');

  const first = story.request(t('04:05:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: HOUR, reason: 'INC-7 replication lag', ticket: 'INC-7', approvers: ['U0BOB'] });
  story.approve(t('04:09:00'), first, 'U0BOB');
  const grant1 = story.apply(t('04:10:00'), first);
  state.add('alice@example.com');
  await drift('05:00:00');
  story.revoke(t('05:10:00'), grant1);
  state.remove('alice@example.com');
  await drift('06:00:00');

  story.raw(t('06:10:00'), { kind: 'config.loaded', actor: 'breakglass', subject: './access.yml', details: { config_hash: POLICY_B, previous_hash: POLICY_A, resources: ['prod-db'], source: { kind: 'file', path: './access.yml', host: 'bot-1' } } });
  const second = story.request(t('06:15:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: HOUR, reason: 'CHG-9 index rebuild', ticket: 'CHG-9', approvers: ['U0BOB'] });
  (story.entries.at(-1)!.input.details as { config_hash: string }).config_hash = POLICY_B;
  story.approve(t('06:19:00'), second, 'U0BOB');
  const grant2 = story.apply(t('06:20:00'), second);
  state.add('alice@example.com');

  // The review's snapshot is a listing too; then the manager keeps stan's standing access.
  await flush();
  clock.set(t('07:00:00'));
  await recordListing(deps, { resource: 'prod-db', provider: 'okta', entries: [...state.held.values()], source: 'review' });
  story.review(t('07:00:00'), { kind: 'review.started', actor: 'breakglass', details: { campaign_id: 1, period: '2026-Q1' } });
  story.review(t('07:30:00'), { kind: 'review.decided', actor: 'U0MGR', subject: 'stan@example.com', resource: 'prod-db', details: { campaign_id: 1, decision: 'keep', principal: 'stan@example.com', email: 'stan@example.com', granted_by: 'unmanaged', reviewer: 'U0MGR' } });
  story.revoke(t('07:20:00'), grant2);
  state.remove('alice@example.com');
  await drift('08:00:00');
  await drift('09:00:00');
}

const holders = (timeline: AccessTimeline, at: string) =>
  whoAt(timeline, 'prod-db', new Date(at)).holders.map((h) => ({ person: h.person.label, basis: h.basis.kind }));

for (const variant of cliDatabaseVariants) {
  describe.skipIf(variant.skip)(`the access record [${variant.kind}]`, () => {
    let database: CliDatabase;
    let timeline: AccessTimeline;
    let db: Database;

    beforeAll(async () => {
      database = await variant.setup();
      db = await database.open();
      await writeDay(db);
      timeline = await readTimeline(db.db);
    });
    afterAll(async () => {
      await db?.close().catch(() => {});
      await database?.cleanup();
    });

    it('an unchanged listing writes no event; a change writes one, with the listing before it', async () => {
      const rows = await db.db.query.evidenceEvents.findMany({ where: (e, { inArray }) => inArray(e.kind, ['access.observed', 'access.gone']), orderBy: (e, { asc }) => asc(e.seq) });
      expect(rows.map((r) => [r.kind, r.details.principal, r.details.listed_at, r.kind === 'access.observed' ? (r.details.previous_listing_at ?? null) : r.details.last_seen_at])).toEqual([
        ['access.observed', 'stan@example.com', t('01:00:00.000'), null],
        ['access.observed', 'mallory@example.com', t('03:00:00.000'), t('02:00:00.000')],
        ['access.gone', 'mallory@example.com', t('04:00:00.000'), t('03:00:00.000')],
        ['access.observed', 'alice@example.com', t('05:00:00.000'), t('04:00:00.000')],
        ['access.gone', 'alice@example.com', t('06:00:00.000'), t('05:00:00.000')],
        ['access.observed', 'alice@example.com', t('07:00:00.000'), t('06:00:00.000')],
        ['access.gone', 'alice@example.com', t('08:00:00.000'), t('07:00:00.000')],
      ]);
      expect(rows.find((r) => r.details.principal === 'alice@example.com')?.subject).toBe('U0ALICE');
    });

    it('before the first listing it does not know, and never says nobody', () => {
      const answer = whoAt(timeline, 'prod-db', new Date('2026-03-03T12:00:00Z'));
      expect(whoAtToJson(answer)).toMatchObject({ holders: [], coverage: { state: 'before_first_listing', known: false, next_listing_after: t('01:00:00.000') } });
      const text = whoAtToText(answer);
      expect(text).toMatch(/^NOT KNOWN who had access to prod-db/);
      expect(text).not.toMatch(/Nobody/);
    });

    it('standing access present before the first start: unmanaged from the first listing, which may not be its start', () => {
      const json = whoAtToJson(whoAt(timeline, 'prod-db', new Date(t('01:30:00'))));
      expect(json).toMatchObject({
        coverage: { state: 'covered', known: true },
        holders: [{ person: { id: PERSON_ID, label: 'stan@example.com' }, principal: 'stan@example.com', basis: { kind: 'unmanaged' }, from: t('01:00:00.000'), start: 'first_seen', appeared_after: null, to: t('07:30:00.000'), ended: null }],
      });
    });

    it('access added and removed by hand between passes: seen from the listing after, gone at the listing after its removal', () => {
      expect(holders(timeline, t('02:30:00'))).toEqual([{ person: 'stan@example.com', basis: 'unmanaged' }]);
      expect(holders(timeline, t('03:15:00'))).toEqual([
        { person: 'stan@example.com', basis: 'unmanaged' },
        { person: 'mallory@example.com', basis: 'unmanaged' },
      ]);
      const mallory = whoAtToJson(whoAt(timeline, 'prod-db', new Date(t('03:15:00')))).holders as Array<Record<string, unknown>>;
      expect(mallory[1]).toMatchObject({ from: t('03:00:00.000'), appeared_after: t('02:00:00.000'), to: t('04:00:00.000'), ended: { how: 'removed_outside_breakglass', seen_gone_at: t('04:00:00.000'), last_seen_at: t('03:00:00.000'), by: null } });
      expect(holders(timeline, t('04:05:00'))).toEqual([{ person: 'stan@example.com', basis: 'unmanaged' }]);
    });

    it('a grant holds from its start to its revocation, with its approvers and the policy version it was decided under', () => {
      const answer = whoAtToJson(whoAt(timeline, 'prod-db', new Date(t('04:30:00'))));
      expect(answer.holders).toEqual([
        expect.objectContaining({ person: { id: PERSON_ID, label: 'stan@example.com' }, basis: { kind: 'unmanaged', note: null } }),
        expect.objectContaining({ person: { id: PERSON_ID, label: 'alice@example.com' }, basis: expect.objectContaining({ kind: 'grant', grant_id: '1', request_id: '1', approved_by: ['U0BOB'], reason: 'INC-7 replication lag', ticket: 'INC-7', config_hash: POLICY_A }), from: t('04:10:00.000'), to: t('05:10:00.000'), ended: expect.objectContaining({ how: 'expired' }) }),
      ]);
      // Seen gone an hour after the revoke: the revoke ended it, nobody held it unmanaged in between.
      expect(holders(timeline, t('05:30:00'))).toEqual([{ person: 'stan@example.com', basis: 'unmanaged' }]);
    });

    it('a policy change between two grants: each carries the version in force when it was decided', () => {
      const json = whoAtToJson(whoAt(timeline, 'prod-db', new Date(t('06:30:00'))));
      expect(json.holders).toContainEqual(expect.objectContaining({ basis: expect.objectContaining({ grant_id: '2', config_hash: POLICY_B, policy_source: { kind: 'file', path: './access.yml', host: 'bot-1' } }) }));
    });

    it("a review's Keep: kept from the decision on, unmanaged before it", () => {
      const json = whoAtToJson(whoAt(timeline, 'prod-db', new Date(t('08:30:00'))));
      expect(json).toMatchObject({
        coverage: { state: 'covered' },
        holders: [{ person: { label: 'stan@example.com' }, basis: { kind: 'review_keep', campaign_id: 1, period: '2026-Q1', reviewer: 'U0MGR', decided_at: t('07:30:00.000') }, from: t('07:30:00.000'), to: null }],
      });
      expect(whoAtToText(whoAt(timeline, 'prod-db', new Date(t('08:30:00'))))).toMatch(/kept in access review 2026-Q1 \(campaign 1\) by U0MGR/);
    });

    it('after the last listing it says the answer is incomplete', () => {
      const answer = whoAt(timeline, 'prod-db', new Date(t('09:30:00')));
      expect(answer.coverage).toMatchObject({ state: 'after_last_listing', lastListingBefore: new Date(t('09:00:00')) });
      expect(whoAtToText(answer)).toMatch(/INCOMPLETE: this is after breakglass last listed prod-db/);
    });

    it('who --user: any alias, any case, finds the grants recorded under the Slack id', async () => {
      for (const alias of ['ALICE@example.com', 'u0alice']) {
        const user = await resolveUser(db.db, timeline, alias);
        const json = userAtToJson(userAt(timeline, { alias, ...user }, new Date(t('04:30:00'))));
        expect(json).toMatchObject({ person: { id: PERSON_ID, label: 'alice@example.com' }, holders: [{ resource: 'prod-db', basis: { kind: 'grant', grant_id: '1' } }], not_known: [] });
      }
      const stan = await resolveUser(db.db, timeline, 'Stan@Example.com');
      expect(userAtToJson(userAt(timeline, { alias: 'Stan@Example.com', ...stan }, new Date(t('08:30:00'))))).toMatchObject({ holders: [{ basis: { kind: 'review_keep' } }] });
      const before = userAt(timeline, { alias: 'u0alice', ...(await resolveUser(db.db, timeline, 'u0alice')) }, new Date('2026-03-03T00:00:00Z'));
      expect(before.notKnown.map((c) => c.state)).toEqual(['before_first_listing']);
      expect(userAtToText(before)).toMatch(/Not known/);
    });

    it('access: every interval overlapping the period, whatever its basis', () => {
      const json = accessToJson(accessBetween(timeline, new Date(t('00:00:00')), new Date(t('10:00:00')), 'prod-db'));
      const intervals = json.intervals as Array<{ person: { label: string }; basis: { kind: string }; from: string; to: string | null }>;
      expect(intervals.map((i) => [i.person.label, i.basis.kind, i.from, i.to])).toEqual([
        ['stan@example.com', 'unmanaged', t('01:00:00.000'), t('07:30:00.000')],
        ['mallory@example.com', 'unmanaged', t('03:00:00.000'), t('04:00:00.000')],
        ['alice@example.com', 'grant', t('04:10:00.000'), t('05:10:00.000')],
        ['alice@example.com', 'grant', t('06:20:00.000'), t('07:20:00.000')],
        ['stan@example.com', 'review_keep', t('07:30:00.000'), null],
      ]);
      expect(json.uncovered).toEqual([
        { resource: 'prod-db', from: t('00:00:00.000'), to: t('01:00:00.000') },
        { resource: 'prod-db', from: t('09:00:00.001'), to: t('10:00:00.000') },
      ]);
      const csv = accessToCsv(accessBetween(timeline, new Date(t('03:00:00')), new Date(t('03:30:00'))).intervals, { bom: false });
      expect(csv.split('\n')[0]).toBe('resource,person_id,person,principal,basis,from,start,appeared_after,to,ended_how,ended_by,seen_gone_at,grant_id,request_id,approved_by,reason,ticket,config_hash,campaign_id,reviewer,kept_at,note,evidence_seqs');
      expect(csv).toMatch(/\nprod-db,P-[0-9a-f]{12},mallory@example\.com,mallory@example\.com,unmanaged,2026-03-04T03:00:00\.000Z,first_seen,2026-03-04T02:00:00\.000Z,2026-03-04T04:00:00\.000Z,removed_outside_breakglass,/);
    });

    it('the commands are wired: who and access from the real CLI', async () => {
      await db.close();
      if (variant.kind === 'pglite') {
        const who = await runCli(['who', 'prod-db', '--at', t('03:15:00'), '--format', 'json'], database.env);
        expect(who.code, who.stderr).toBe(0);
        expect(JSON.parse(who.stdout)).toEqual(whoAtToJson(whoAt(timeline, 'prod-db', new Date(t('03:15:00')))));
        return;
      }
      const access = await runCli(['access', '--from', t('00:00:00'), '--to', t('10:00:00'), '--format', 'json'], database.env);
      expect(access.code, access.stderr).toBe(0);
      expect(JSON.parse(access.stdout)).toEqual(accessToJson(accessBetween(timeline, new Date(t('00:00:00')), new Date(t('10:00:00')))));
    });
  });
}
