/**
 * Fuzzed button clicks against the running bot: wrong types where Slack sends strings (numbers,
 * objects, arrays, null for value, action_id and user), 100 KB values, other people's request and
 * grant ids, unknown action ids and missing fields. Every click is signed (Slack's own bytes could
 * be this odd after a platform change), comes from someone who owns and decides nothing, and must
 * get a 200, leave the bot serving, and change nothing: no evidence, no call to Okta or IAM.
 * The deny modal's submissions get the same treatment: wrong private_metadata (types, other
 * people's requests, requests no longer pending), wrong callback ids and reasons.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, DENY_MODAL, VIEWS } from '../../src/slack/blocks/view-models.ts';
import { postgresAvailable } from '../support/databases.ts';
import { click, waitForEvent } from '../support/flows.ts';
import {
  buildFuzzWorld,
  effects,
    expectStatus,
  FUZZ_ACCESS,
  FUZZ_USERS,
  healthz,
  HUGE,
  junk,
  mutateAt,
  OUTSIDERS,
  pathsOf,
  send,
  settle,
  signedInteraction,
  type Effects,
  type FuzzWorld,
  unexpectedErrorsSince,
} from '../support/fuzz.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { blockAction, viewSubmission } from '../support/slack-requests.ts';

const ACTION_IDS = [...Object.values(ACTIONS), 'bg_unknown', '', ' bg_approve', 'BG_APPROVE', 'bg_approve\u0000', 'constructor', '__proto__', 'toString', 'hasOwnProperty'];

let counter = 0;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`fuzzed button clicks [${database}]`, () => {
    let h: Harness;
    let world: FuzzWorld;
    let before: Effects;

    beforeAll(async () => {
      h = await startHarness({ database, accessYml: FUZZ_ACCESS, slack: { users: FUZZ_USERS } });
      world = await buildFuzzWorld(h);
      before = await effects(h);
    });
    afterAll(async () => h?.stop());

    /** Ids that exist (someone else's request, grant, alert) and ids that do not. */
    const idValue = () =>
      fc.oneof(
        fc.constantFrom(String(world.pendingId), String(world.emergencyId), String(world.grantId), '1', '2', '3', '0', '999999999', '1000000000'),
        junk,
      );

    /** A click built as Slack sends it, then bent: action id, value, user and any other field. */
    const clickArb = () =>
      fc
        .record({
          user: fc.constantFrom(...OUTSIDERS),
          actionId: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ACTION_IDS) }, { weight: 1, arbitrary: junk }),
          value: idValue(),
          userField: fc.option(junk, { freq: 4 }),
          onView: fc.boolean(),
          mutations: fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constant({ delete: true } as const), junk.map((value) => ({ value })))), { maxLength: 3 }),
        })
        .map((input) => {
          const name = `fuzz-click-${++counter}`;
          const base = input.onView
            ? blockAction({ userId: input.user, actionId: ACTIONS.approve, value: '1', view: { id: 'V0HOME', type: 'home', blocks: [] } })
            : blockAction({ userId: input.user, actionId: ACTIONS.approve, value: '1', message: world.card, responseUrl: h.slack.responseUrl(name) });
          let payload: unknown = base.payload;
          payload = input.actionId === undefined ? mutateAt(payload, ['actions', 0, 'action_id'], { delete: true }) : mutateAt(payload, ['actions', 0, 'action_id'], { value: input.actionId });
          payload = input.value === undefined ? mutateAt(payload, ['actions', 0, 'value'], { delete: true }) : mutateAt(payload, ['actions', 0, 'value'], { value: input.value });
          if (input.userField !== null) payload = mutateAt(payload, ['user'], input.userField === undefined ? { delete: true } : { value: input.userField });
          for (const [pick, change] of input.mutations) {
            const paths = pathsOf(payload);
            if (paths.length > 0) payload = mutateAt(payload, paths[pick % paths.length]!, change);
          }
          return { payload, input };
        });

    it('answers 200 to every fuzzed click and changes nothing', async () => {
      const logOffset = h.logs().length;
      await fc.assert(
        fc.asyncProperty(clickArb(), async ({ payload }) => {
          const res = await send(h, signedInteraction(payload));
          expectStatus(res.status, [200], `click ${JSON.stringify(payload).slice(0, 600)}`);
        }),
        { numRuns: 150 },
      );
      await settle(h);
      expect(await effects(h)).toEqual(before);
      expect(await healthz(h)).toBe(200);
      expect(unexpectedErrorsSince(h, logOffset)).toEqual([]);
    });

    it('answers 200 to clicks with 100 KB values and ids, and changes nothing', async () => {
      const logOffset = h.logs().length;
      for (const actionId of [...Object.values(ACTIONS), HUGE]) {
        for (const value of [HUGE, `${world.pendingId}${'0'.repeat(100_000)}`, ' '.repeat(100_000) + world.pendingId]) {
          const req = blockAction({ userId: 'U0MALLORY', actionId, value, message: world.card, responseUrl: h.slack.responseUrl(`huge-${++counter}`) });
          const res = await send(h, req);
          expectStatus(res.status, [200], `a ${value.length}-character value on ${actionId.slice(0, 20)}`);
        }
      }
      await settle(h);
      expect(await effects(h)).toEqual(before);
      expect(await healthz(h)).toBe(200);
      expect(unexpectedErrorsSince(h, logOffset)).toEqual([]);
    });

    it('refuses every action on someone else\'s request, grant and alert, with no effect', async () => {
      const logOffset = h.logs().length;
      const ids = [...new Set([world.pendingId, world.emergencyId, world.grantId, 1, 2])];
      for (const user of ['U0MALLORY', 'W0GUEST']) {
        for (const actionId of Object.values(ACTIONS)) {
          // A button on a message (answered through response_url) and one on the App Home (answered by postEphemeral).
          await Promise.all(
            ids.flatMap((value) => [
              blockAction({ userId: user, actionId, value: String(value), message: world.card, responseUrl: h.slack.responseUrl(`other-${++counter}`) }),
              blockAction({ userId: user, actionId, value: String(value), view: { id: 'V0HOME', type: 'home', blocks: [] } }),
            ]).map(async (req) => {
              const res = await send(h, req);
              expectStatus(res.status, [200], `${user} ${actionId} ${JSON.stringify(req.payload.actions)}`);
            }),
          );
        }
      }
      await settle(h);
      expect(await effects(h)).toEqual(before);
      expect(unexpectedErrorsSince(h, logOffset)).toEqual([]);
    });

    /** A deny-modal submission as Slack sends it, then bent. */
    const submissionArb = () =>
      fc
        .record({
          user: fc.constantFrom(...OUTSIDERS),
          metadata: fc.oneof(fc.constantFrom(String(world.pendingId), String(world.emergencyId), '', '0', '999999999', `${world.pendingId}\n`, ` ${world.pendingId}`, `{"id":${world.pendingId}}`), junk),
          callbackId: fc.oneof({ weight: 4, arbitrary: fc.constant(VIEWS.denyReason) }, { weight: 1, arbitrary: junk }),
          reason: fc.oneof(fc.constantFrom('not now', '   ', HUGE), junk),
          mutations: fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constant({ delete: true } as const), junk.map((value) => ({ value })))), { maxLength: 3 }),
        })
        .map((input) => {
          let payload: unknown = viewSubmission({ userId: input.user, callbackId: VIEWS.denyReason, privateMetadata: '1', values: { [DENY_MODAL.block]: { [DENY_MODAL.action]: 'x' } } }).payload;
          const set = (path: Array<string | number>, value: unknown) => {
            payload = mutateAt(payload, path, value === undefined ? { delete: true } : { value });
          };
          set(['view', 'private_metadata'], input.metadata);
          set(['view', 'callback_id'], input.callbackId);
          set(['view', 'state', 'values', DENY_MODAL.block, DENY_MODAL.action, 'value'], input.reason);
          for (const [pick, change] of input.mutations) {
            const paths = pathsOf(payload);
            if (paths.length > 0) payload = mutateAt(payload, paths[pick % paths.length]!, change);
          }
          return payload;
        });

    it('answers 200 to every fuzzed deny-modal submission and changes nothing', async () => {
      const logOffset = h.logs().length;
      await fc.assert(
        fc.asyncProperty(submissionArb(), async (payload) => {
          const res = await send(h, signedInteraction(payload));
          expectStatus(res.status, [200], `submission ${JSON.stringify(payload).slice(0, 600)}`);
        }),
        { numRuns: 150 },
      );
      await settle(h);
      expect(await effects(h)).toEqual(before);
      expect(await healthz(h)).toBe(200);
      expect(unexpectedErrorsSince(h, logOffset)).toEqual([]);
    });

    it('refuses the approver\'s own submissions with wrong private_metadata, with no effect', async () => {
      const logOffset = h.logs().length;
      const wrong: unknown[] = ['', 'abc', '-1', '1.5', '0', '999999999', '1000000000', String(world.emergencyId), `${world.pendingId} `, `#${world.pendingId}`, HUGE, null, 42, world.pendingId, [world.pendingId], { id: world.pendingId }, true];
      for (const metadata of wrong) {
        const base = viewSubmission({ userId: 'U0BOB', callbackId: VIEWS.denyReason, privateMetadata: '1', values: { [DENY_MODAL.block]: { [DENY_MODAL.action]: 'not now' } } }).payload;
        const payload = mutateAt(base, ['view', 'private_metadata'], { value: metadata });
        const res = await send(h, signedInteraction(payload));
        expectStatus(res.status, [200], `private_metadata ${JSON.stringify(metadata).slice(0, 40)}`);
      }
      await settle(h);
      expect(await effects(h)).toEqual(before);
      expect(unexpectedErrorsSince(h, logOffset)).toEqual([]);
    });

    it('still serves a legitimate click afterwards', async () => {
      expect(await healthz(h)).toBe(200);
      // Fuzzed clicks without a team leave Bolt no token for postEphemeral; only what follows must be clean.
      const violations = h.slack.violations.length;
      const res = await click(h, 'U0BOB', ACTIONS.approve, { message: world.card });
      expect(res.status).toBe(200);
      await waitForEvent(h, world.pendingId, 'grant.applied');
      const after = await settle(h);
      expect(after.ledger).toBeGreaterThan(before.ledger);
      expect(after.okta).toBeGreaterThan(before.okta);
      expect(h.slack.violations.slice(violations)).toEqual([]);
    });
  });
}
