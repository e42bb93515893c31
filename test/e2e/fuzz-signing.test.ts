/**
 * Forged, stale, future-dated, unsigned, tampered and replayed requests against the running bot.
 * Each forged variant of a request that would be legitimate if signed properly (a requester's
 * command, an approver's click and deny, a deactivation) gets a 401 and changes nothing; fuzzed
 * signatures and timestamps never get past the check (and never a 5xx); and the very same signed
 * bytes sent again have no further effect.
 */
import { eq } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceEvents } from '../../src/db/schema.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { ACTIONS, DENY_MODAL, VIEWS } from '../../src/slack/blocks/view-models.ts';
import { postgresAvailable } from '../support/databases.ts';
import { waitForCard, waitForEvent } from '../support/flows.ts';
import { buildFuzzWorld, effects, expectStatus, FUZZ_ACCESS, FUZZ_USERS, healthz, send, settle, signedForm, signedInteraction, signedJson, type Effects, type FuzzWorld } from '../support/fuzz.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import {
  appHomeOpenedEvent,
  blockAction,
  eventCallback,
  post,
  signedHeaders,
  slashCommand,
  TEST_SIGNING_SECRET,
  userChangeEvent,
  viewSubmission,
  type SignOptions,
  type Signing,
  type SlackRequest,
} from '../support/slack-requests.ts';

const FORGED: Signing[] = ['wrong-secret', 'stale', 'future', 'missing', 'tampered'];

let counter = 0;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`forged and replayed requests [${database}]`, () => {
    let h: Harness;
    let world: FuzzWorld;
    let before: Effects;

    beforeAll(async () => {
      h = await startHarness({ database, accessYml: FUZZ_ACCESS, slack: { users: FUZZ_USERS } });
      world = await buildFuzzWorld(h);
      before = await effects(h);
    });
    afterAll(async () => h?.stop());

    const kindCount = async (kind: string) => (await h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, kind))).length;

    /** Requests that would each change something if they were signed properly. */
    const legitimate = (sign: SignOptions): Array<[string, SlackRequest]> => [
      ['Alice requests prod-db', slashCommand({ text: 'prod-db 1h INC-9 forged?', userId: 'U0ALICE', responseUrl: h.slack.responseUrl(`forged-${++counter}`), ...sign })],
      ['Bob approves', blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: world.card, responseUrl: h.slack.responseUrl(`forged-${++counter}`), ...sign })],
      [
        'Bob denies',
        viewSubmission({ userId: 'U0BOB', callbackId: VIEWS.denyReason, privateMetadata: String(world.pendingId), values: { [DENY_MODAL.block]: { [DENY_MODAL.action]: 'forged' } }, ...sign }),
      ],
      ['Alice ends her grant', blockAction({ userId: 'U0ALICE', actionId: ACTIONS.endGrant, value: String(world.grantId), view: { id: 'V0HOME', type: 'home', blocks: [] }, ...sign })],
      ['Eve is deactivated', eventCallback(userChangeEvent({ id: 'U0EVE', name: 'eve', deleted: true, profile: { email: 'eve@example.com' } }), sign)],
      ['Eve opens App Home', eventCallback(appHomeOpenedEvent('U0EVE', h.slack.dmChannel('U0EVE')), sign)],
    ];

    it('answers 401 to forged, stale, future-dated, unsigned and tampered requests, changing nothing', async () => {
      for (const signing of FORGED) {
        for (const [what, req] of legitimate({ signing })) {
          const res = await send(h, req);
          expectStatus(res.status, [401], `${what} (${signing})`);
        }
      }
      // Signed with the right secret, but far outside the five-minute window either side.
      for (const skewSeconds of [-86_400 * 365, -3_600, -301 - 10, 310, 3_600, 86_400 * 365]) {
        for (const [what, req] of legitimate({ now: Date.now() + skewSeconds * 1_000 })) {
          const res = await send(h, req);
          expectStatus(res.status, [401], `${what} (${skewSeconds}s)`);
        }
      }
      await settle(h);
      expect(await effects(h)).toEqual(before);
      expect(h.slack.homeView('U0EVE')).toBeUndefined();
    });

    it('never lets fuzzed signatures and timestamps through, and never answers 5xx', async () => {
      const header = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        fc.stringMatching(/^v[0-9]=[0-9a-f]{0,70}$/),
        fc.constantFrom('', 'v0=', 'v1=abc', `v0=${'0'.repeat(64)}`, `v0=${'f'.repeat(64)}`, 'V0=00', 'x'.repeat(10_000)),
      );
      const timestamp = fc.oneof(
        fc.integer({ min: -1e12, max: 1e12 }).map(String),
        fc.constantFrom('', 'abc', 'NaN', 'Infinity', '-Infinity', '1e10', '0x10', ' ', `${Math.floor(Date.now() / 1000)}.5`, `0${Math.floor(Date.now() / 1000)}`),
        fc.string({ unit: 'binary', maxLength: 20 }),
      );
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.option(header, { nil: undefined }), fc.option(timestamp, { nil: undefined }), async (pick, signature, stamp) => {
          const all = legitimate({});
          const [what, req] = all[pick % all.length]!;
          const headers: Record<string, string> = { ...req.headers };
          // Strings that could not travel as header values are sent as what a client could send.
          const safe = (v: string) => v.replace(/[^\t\x20-\x7e]/g, '?');
          if (signature === undefined) delete headers['x-slack-signature'];
          else headers['x-slack-signature'] = safe(signature);
          if (stamp === undefined) delete headers['x-slack-request-timestamp'];
          else headers['x-slack-request-timestamp'] = safe(stamp);
          // The genuine pair stays valid only if neither was replaced by chance with itself.
          fc.pre(headers['x-slack-signature'] !== req.headers['x-slack-signature'] || headers['x-slack-request-timestamp'] !== req.headers['x-slack-request-timestamp']);
          const res = await send(h, { ...req, headers });
          expectStatus(res.status, [401], `${what} with signature ${JSON.stringify(signature?.slice(0, 40))} at ${JSON.stringify(stamp)}`);
        }),
        { numRuns: 150 },
      );
      // A signature over a different timestamp than the header says, and a signature for a different body.
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 299 }), async (pick, shift) => {
          const all = legitimate({});
          const [what, req] = all[pick % all.length]!;
          const moved = { ...req.headers, 'x-slack-request-timestamp': String(Number(req.headers['x-slack-request-timestamp']) - shift) };
          expectStatus((await send(h, { ...req, headers: moved })).status, [401], `${what} with its timestamp moved by ${shift}s`);
          const other = signedHeaders(`${req.body}&x=1`, req.headers['content-type']!, { signingSecret: TEST_SIGNING_SECRET });
          expectStatus((await send(h, { ...req, headers: { ...req.headers, 'x-slack-signature': other['x-slack-signature']!, 'x-slack-request-timestamp': other['x-slack-request-timestamp']! } })).status, [401], `${what} with another body's signature`);
        }),
        { numRuns: 30 },
      );
      await settle(h);
      expect(await effects(h)).toEqual(before);
      expect(await healthz(h)).toBe(200);
    });

    it('answers a body that parses to null (signed: 200, unsigned: 401) and keeps running', async () => {
      // Bolt read a property of the parsed body outside any handler: a signed `null` crashed the process.
      const cases: Array<[string, SlackRequest, number]> = [
        ['JSON null, signed', signedJson(null), 200],
        ['JSON null, wrong secret', signedJson(null, { signing: 'wrong-secret' }), 401],
        ['JSON null, unsigned', signedJson(null, { signing: 'missing' }), 401],
        ['JSON null, stale', signedJson(null, { signing: 'stale' }), 401],
        ['JSON null, future', signedJson(null, { signing: 'future' }), 401],
        ['payload=null, signed', signedInteraction(null), 200],
        ['payload=null, tampered', signedInteraction(null, { signing: 'tampered' }), 401],
        ['payload= null , signed', signedForm({ payload: ' null ' }), 200],
      ];
      for (const [what, req, status] of cases) {
        const res = await send(h, req);
        expectStatus(res.status, [status], what);
        expect(await healthz(h)).toBe(200);
      }
      await settle(h);
      expect(await effects(h)).toEqual(before);
    });

    it('gives the same signed bytes sent again no further effect', async () => {
      // A requester's command, captured and replayed within the five-minute window.
      const created = await kindCount('request.created');
      const command = slashCommand({ text: 'prod-db 1h INC-10 replayed', userId: 'U0ALICE', responseUrl: h.slack.responseUrl(`replay-${++counter}`) });
      const statuses = await Promise.all(Array.from({ length: 5 }, () => send(h, command).then((r) => r.status)));
      expect(statuses.every((s) => s === 200 || s === 401)).toBe(true);
      await settle(h);
      expect(await kindCount('request.created')).toBe(created + 1);
      const [latest] = (await h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'request.created'))).slice(-1);
      const replayedId = Number(latest!.requestId);

      // The approver's click on it, replayed.
      const card = await waitForCard(h, 'U0BOB', replayedId);
      const approve = blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: card, responseUrl: h.slack.responseUrl(`replay-${++counter}`) });
      await Promise.all(Array.from({ length: 5 }, () => send(h, approve)));
      await waitForEvent(h, replayedId, 'grant.applied');
      await settle(h);
      const afterApproval = (await h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.requestId, String(replayedId)))).map((e) => e.kind);
      expect(afterApproval.filter((k) => k === 'request.approved')).toHaveLength(1);
      expect(afterApproval.filter((k) => k === 'grant.applied')).toHaveLength(1);

      // The approver's deny of the other pending request, replayed.
      const deny = viewSubmission({ userId: 'U0BOB', callbackId: VIEWS.denyReason, privateMetadata: String(world.pendingId), values: { [DENY_MODAL.block]: { [DENY_MODAL.action]: 'not during the freeze' } } });
      const denyStatuses = await Promise.all(Array.from({ length: 5 }, () => send(h, deny).then((r) => r.status)));
      expect(denyStatuses.every((s) => s === 200 || s === 401)).toBe(true);
      await settle(h);
      const denied = (await h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.requestId, String(world.pendingId)))).filter((e) => e.kind === 'request.denied');
      expect(denied).toHaveLength(1);

      // A deactivation event, replayed.
      const deactivated = eventCallback(userChangeEvent({ id: 'U0EVE', name: 'eve', deleted: true, profile: { email: 'eve@example.com' } }));
      await Promise.all(Array.from({ length: 5 }, () => send(h, deactivated)));
      await settle(h);
      const offboarded = (await h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'offboarding.detected'))).filter((e) => e.subject === 'eve@example.com');
      expect(offboarded).toHaveLength(1);

      expect(await verifyLedger(h.bot.database.db)).toMatchObject({ ok: true });
      expect(await healthz(h)).toBe(200);
    });

    it('answers a replayed help or invalid command empty, as the first answer is not shown twice', async () => {
      for (const text of ['help', 'prod-db forever']) {
        const command = slashCommand({ text, userId: 'U0ALICE', responseUrl: h.slack.responseUrl(`replay-${++counter}`) });
        const first = await send(h, command);
        expect(first.status).toBe(200);
        expect(first.body).toMatch(/"text"/);
        const again = await send(h, command);
        expect(again.status).toBe(200);
        expect(again.body).not.toMatch(/"text"/);
      }
    });

    it('ignores the same signed command replayed to another replica or after a restart', async () => {
      const created = await kindCount('request.created');
      const command = slashCommand({ text: 'prod-db 1h INC-11 replayed elsewhere', userId: 'U0ALICE', responseUrl: h.slack.responseUrl(`replay-${++counter}`) });
      expect((await send(h, command)).status).toBe(200);
      await settle(h);
      expect(await kindCount('request.created')).toBe(created + 1);
      if (database === 'postgres') {
        const replica = await h.replica();
        expect((await post(`http://127.0.0.1:${replica.port}`, command)).status).toBe(200);
        await settle(h);
        expect(await kindCount('request.created')).toBe(created + 1);
      }
      await h.restart();
      expect((await send(h, command)).status).toBe(200);
      await settle(h);
      expect(await kindCount('request.created')).toBe(created + 1);
      expect(h.logs()).toMatch(/the same signed Slack request arrived again; ignored as a replay/);
    });
  });
}
