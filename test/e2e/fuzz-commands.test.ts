/**
 * Fuzzed slash commands and Events API deliveries against the running bot. Arbitrary text
 * (unicode, control characters, more than Slack's 4,000 characters) from several people who may
 * request nothing, slash-command forms with odd or missing fields, and events of any shape: each
 * is answered 200 (never a 5xx), the bot keeps serving, and nothing changes — no evidence, no call
 * to Okta or IAM — except where the input is a legitimate action (a real deactivation).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceEvents } from '../../src/db/schema.ts';
import { postgresAvailable } from '../support/databases.ts';
import {
  buildFuzzWorld,
  commandText,
  effects,
  expectStatus,
  FUZZ_ACCESS,
  FUZZ_USERS,
  healthz,
  junk,
  mutateAt,
  OUTSIDERS,
  pathsOf,
  send,
  settle,
  signedForm,
  signedJson,
  unexpectedErrorsSince,
  type Effects,
} from '../support/fuzz.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { appHomeOpenedEvent, eventCallback, post, slashCommand, userChangeEvent } from '../support/slack-requests.ts';

let counter = 0;

/** A user_change Slack really means: a deactivation, which must offboard (and so has effects). */
function isLegitimateDeactivation(payload: unknown): boolean {
  const event = (payload as { event?: { type?: unknown; user?: { id?: unknown; deleted?: unknown } } } | null)?.event;
  return event?.type === 'user_change' && typeof event.user?.id === 'string' && event.user.deleted === true;
}

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`fuzzed commands and events [${database}]`, () => {
    let h: Harness;
    let before: Effects;

    beforeAll(async () => {
      h = await startHarness({ database, accessYml: FUZZ_ACCESS, slack: { users: FUZZ_USERS } });
      await buildFuzzWorld(h);
      before = await effects(h);
    });
    afterAll(async () => h?.stop());

    it('answers arbitrary /breakglass text from several people with 200 and a clean answer, changing nothing', async () => {
      const logOffset = h.logs().length;
      const names: string[] = [];
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...OUTSIDERS), commandText, async (user, text) => {
          const name = `fuzz-cmd-${++counter}`;
          names.push(name);
          const res = await post<{ text?: string }>(h.baseUrl, slashCommand({ text, userId: user, responseUrl: h.slack.responseUrl(name) }));
          expectStatus(res.status, [200], `/breakglass ${JSON.stringify(text.slice(0, 200))} from ${user}`);
          // Answered in the ack (help, parse errors) or later through response_url: never an apology for a crash.
          if (res.json?.text !== undefined) expect(res.json.text).not.toMatch(/Something went wrong/);
        }),
        { numRuns: 150 },
      );
      await settle(h);
      const replies = names.flatMap((name) => h.slack.responses(name).map((r) => String(r.body.text ?? '')));
      expect(replies.filter((text) => /Something went wrong/.test(text))).toEqual([]);
      expect(await effects(h)).toEqual(before);
      expect(await healthz(h)).toBe(200);
      expect(unexpectedErrorsSince(h, logOffset)).toEqual([]);
    });

    it('answers slash-command forms with odd, missing and oversized fields with 200, changing nothing', async () => {
      const logOffset = h.logs().length;
      const fields = ['user_id', 'user_name', 'command', 'text', 'team_id', 'channel_id', 'trigger_id', 'api_app_id', 'enterprise_id', 'is_enterprise_install'] as const;
      const fieldValue = fc.oneof(
        fc.constant(undefined),
        fc.string({ unit: 'binary', maxLength: 30 }),
        fc.constantFrom('', ' ', '/breakglass', '/BREAKGLASS', '/other', 'U0ALICE ', 'true', 'null', '[object Object]', 'x'.repeat(100 * 1024)),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...OUTSIDERS), commandText, fc.dictionary(fc.constantFrom(...fields), fieldValue, { maxKeys: 4 }), async (user, text, changes) => {
          const name = `fuzz-form-${++counter}`;
          const base = slashCommand({ text, userId: user, responseUrl: h.slack.responseUrl(name) }).payload as Record<string, string>;
          const form: Record<string, string> = { ...base };
          for (const [key, value] of Object.entries(changes)) {
            // Never Alice (the one requester): a form naming her would be her legitimate request.
            if (value === undefined || /U0ALICE/.test(value)) delete form[key];
            else form[key] = value;
          }
          const res = await send(h, signedForm(form));
          expectStatus(res.status, [200], `form ${JSON.stringify(form).slice(0, 400)}`);
        }),
        { numRuns: 100 },
      );
      await settle(h);
      expect(await effects(h)).toEqual(before);
      expect(await healthz(h)).toBe(200);
      expect(unexpectedErrorsSince(h, logOffset)).toEqual([]);
    });

    it('answers events of arbitrary shape with 200, changing nothing', async () => {
      const logOffset = h.logs().length;
      const eventType = fc.oneof(fc.constantFrom('user_change', 'app_home_opened', 'message', 'team_join', 'tokens_revoked', 'app_uninstalled', 'url_verification'), junk);
      const userObject = fc.oneof(
        junk,
        fc.record({ id: fc.oneof(fc.constantFrom(...OUTSIDERS), junk), deleted: junk, profile: fc.oneof(junk, fc.record({ email: fc.oneof(junk, fc.constant('mallory@example.com')) })) }, { requiredKeys: [] }),
      );
      const event = fc.oneof(
        fc.record({ type: eventType, user: userObject, tab: fc.oneof(fc.constant('home'), junk), channel: junk, event_ts: junk }, { requiredKeys: ['type'] }),
        fc.anything({ maxDepth: 3 }),
      );
      const envelopeChange = fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constant({ delete: true } as const), junk.map((value) => ({ value })))), { maxLength: 3 });
      await fc.assert(
        fc.asyncProperty(event, envelopeChange, async (ev, changes) => {
          let payload: unknown = { ...eventCallback({ type: 'app_mention' }).payload, event: ev };
          for (const [pick, change] of changes) {
            const paths = pathsOf(payload);
            if (paths.length > 0) payload = mutateAt(payload, paths[pick % paths.length]!, change);
          }
          fc.pre(!isLegitimateDeactivation(payload));
          const res = await send(h, signedJson(payload));
          expectStatus(res.status, [200], `event ${JSON.stringify(payload).slice(0, 600)}`);
        }),
        { numRuns: 200 },
      );
      // Whole bodies that are not an event envelope at all.
      for (const body of [null, 0, 'x', [], [1, 2], {}, { type: 'event_callback' }, { type: 'event_callback', event: null }, { type: 'event_callback', event: [] }, { type: {} }, eventCallback(appHomeOpenedEvent('', 'D0EMPTY')).payload]) {
        const res = await send(h, signedJson(body));
        expectStatus(res.status, [200], `body ${JSON.stringify(body)}`);
      }
      await settle(h);
      expect(await effects(h)).toEqual(before);
      expect(await healthz(h)).toBe(200);
      expect(unexpectedErrorsSince(h, logOffset)).toEqual([]);
    });

    it('does not offboard on a user_change whose "deleted" is not true, and does on one that is', async () => {
      for (const deleted of ['true', 'false', 1, {}, [], 'yes']) {
        const res = await send(h, eventCallback(userChangeEvent({ id: 'U0MALLORY', name: 'mallory', deleted, profile: { email: 'mallory@example.com' } })));
        expect(res.status).toBe(200);
      }
      expect((await settle(h)).ledger).toBe(before.ledger);

      const res = await send(h, eventCallback(userChangeEvent({ id: 'U0MALLORY', name: 'mallory', deleted: true, profile: { email: 'mallory@example.com' } })));
      expect(res.status).toBe(200);
      await h.slack.waitFor(async () => {
        const rows = await h.bot.database.db.select().from(evidenceEvents);
        return rows.find((e) => e.kind === 'offboarding.detected' && e.subject === 'mallory@example.com');
      }, 5_000, 'offboarding.detected for mallory');
    });

    it('keeps serving: /healthz, help and App Home still answer', async () => {
      expect(await healthz(h)).toBe(200);
      const help = await post<{ text?: string }>(h.baseUrl, slashCommand({ text: 'help', userId: 'U0EVE' }));
      expect(help.status).toBe(200);
      expect(help.json?.text).toMatch(/prod-db/);
      const home = await send(h, eventCallback(appHomeOpenedEvent('U0EVE', h.slack.dmChannel('U0EVE'))));
      expect(home.status).toBe(200);
      await h.slack.waitFor(() => h.slack.homeView('U0EVE'), 5_000, 'Eve\'s App Home');
    });
  });
}
