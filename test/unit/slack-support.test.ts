/**
 * The Slack test doubles are only worth something if real Slack clients agree with them:
 * the fake Web API is driven by the real @slack/web-api WebClient, and the signed requests are
 * checked by Bolt's own verification and by a real Bolt app over HTTP.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { App, LogLevel, verifySlackRequest } from '@slack/bolt';
import { ErrorCode, WebClient, type WebAPIPlatformError } from '@slack/web-api';
import { parse as parseYaml } from 'yaml';
import { manifestBotScopes, startSlackServer, textOf, type SlackServer } from '../support/slack-server.ts';
import {
  TEST_SIGNING_SECRET,
  blockAction,
  eventCallback,
  peersPath,
  post,
  slashCommand,
  urlVerification,
  userChangeEvent,
  viewSubmission,
  type Signing,
} from '../support/slack-requests.ts';

let slack: SlackServer;
let client: WebClient;

beforeAll(async () => {
  slack = await startSlackServer({
    users: [
      { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
      { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
    ],
    usergroups: { S0DBA: ['U0BOB'] },
  });
  client = new WebClient(slack.token, {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 0 },
    logLevel: LogLevel.ERROR,
  });
});
afterAll(async () => {
  await slack.close();
});
beforeEach(() => slack.reset());

async function platformError(p: Promise<unknown>): Promise<WebAPIPlatformError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toMatchObject({ code: ErrorCode.PlatformError });
  return err as WebAPIPlatformError;
}

describe('fake Slack Web API, driven by @slack/web-api', () => {
  it('accepts well-formed calls to spec methods and keeps the state they make', async () => {
    const auth = await client.auth.test();
    expect(auth).toMatchObject({ ok: true, user_id: slack.botUserId, bot_id: slack.botId, team_id: slack.teamId });

    const dm = await client.conversations.open({ users: 'U0ALICE' });
    expect(dm.channel?.id).toBe(slack.dmChannel('U0ALICE'));
    const posted = await client.chat.postMessage({
      channel: dm.channel!.id!,
      text: 'Approve prod-db?',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: '*prod-db* for 2h' } },
        {
          type: 'actions',
          block_id: 'decide',
          elements: [{ type: 'button', action_id: 'approve', value: 'req-1', text: { type: 'plain_text', text: 'Approve' } }],
        },
      ],
    });
    await client.chat.update({ channel: posted.channel!, ts: posted.ts!, text: 'Approved', blocks: [] });
    const info = await client.users.info({ user: 'U0ALICE' });
    const members = await client.usergroups.users.list({ usergroup: 'S0DBA' });
    await client.views.publish({ user_id: 'U0ALICE', view: { type: 'home', blocks: [] } });

    expect(info.user?.profile?.email).toBe('alice@example.com');
    expect(members.users).toEqual(['U0BOB']);
    const last = slack.lastMessage('U0ALICE');
    expect(last?.text).toBe('Approved');
    expect(textOf(last?.history[0])).toContain('*prod-db* for 2h');
    expect(slack.homeView('U0ALICE')?.type).toBe('home');
    expect(slack.calls().map((c) => c.method)).toEqual([
      'auth.test',
      'conversations.open',
      'chat.postMessage',
      'chat.update',
      'users.info',
      'usergroups.users.list',
      'views.publish',
    ]);
    expect(slack.violations).toEqual([]);
  });

  it('flags a call missing a parameter the spec requires, and an unknown method', async () => {
    // chat.update without ts: the spec's requestBody lists channel and ts as required.
    await platformError(client.apiCall('chat.update', { channel: 'C0SEC', text: 'x' }));
    const unknown = await platformError(client.apiCall('chat.postMessages', { channel: 'C0SEC', text: 'x' }));

    expect(unknown.data.error).toBe('unknown_method');
    expect(slack.violations.map((v) => [v.kind, v.method, v.detail])).toEqual([
      ['missing_param', 'chat.update', 'missing required ts'],
      ['unknown_method', 'chat.postMessages', 'chat.postMessages is not a Slack Web API method'],
    ]);
  });

  it('refuses a missing or wrong token as Slack does', async () => {
    const none = new WebClient(undefined, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
    const wrong = new WebClient('xoxb-wrong', { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
    expect((await platformError(none.auth.test())).data.error).toBe('not_authed');
    expect((await platformError(wrong.auth.test())).data.error).toBe('invalid_auth');
  });

  it('refuses a method needing a scope manifest.yml does not grant', async () => {
    // conversations.history needs channels/groups/im/mpim:history; breakglass asks for none.
    const err = await platformError(client.conversations.history({ channel: 'C0SEC' }));
    expect(err.data.error).toBe('missing_scope');
    expect(slack.violations.map((v) => v.kind)).toEqual(['missing_scope']);
  });

  it('flags Block Kit a real workspace would reject', async () => {
    const tooMany = Array.from({ length: 51 }, () => ({ type: 'divider' }));
    const err = await platformError(client.chat.postMessage({ channel: 'C0SEC', text: 'x', blocks: tooMany }));
    expect(err.data.error).toBe('invalid_blocks');
    expect(slack.violations[0]).toMatchObject({ kind: 'invalid_blocks', method: 'chat.postMessage' });
  });

  it('takes a file upload the way filesUploadV2 sends it', async () => {
    const dm = slack.dmChannel('U0ALICE');
    const csv = 'seq,kind\n1,grant.applied\n';
    await client.filesUploadV2({ channel_id: dm, filename: 'grants.csv', content: csv, initial_comment: 'Your log' });

    const [file] = slack.filesTo('U0ALICE');
    expect(file?.content?.toString('utf8')).toBe(csv);
    expect(file).toMatchObject({ filename: 'grants.csv', initialComment: 'Your log', completed: true });
    expect(slack.calls().map((c) => c.method)).toEqual([
      'files.getUploadURLExternal',
      'upload',
      'files.completeUploadExternal',
    ]);
    expect(slack.violations).toEqual([]);
  });

  it('injects failures: ok:false, HTTP errors, 429 with Retry-After, and an outage', async () => {
    slack.failNext('chat.postMessage', 1, { error: 'channel_not_found' });
    expect((await platformError(client.chat.postMessage({ channel: 'C0SEC', text: 'x' }))).data.error).toBe('channel_not_found');
    await expect(client.chat.postMessage({ channel: 'C0SEC', text: 'x' })).resolves.toMatchObject({ ok: true });

    slack.failNext('auth.test', 1, { status: 503 });
    await expect(client.auth.test()).rejects.toMatchObject({ code: ErrorCode.HTTPError, statusCode: 503 });

    slack.rateLimitNext('users.info', 7);
    const impatient = new WebClient(slack.token, {
      slackApiUrl: slack.apiUrl,
      rejectRateLimitedCalls: true,
      logLevel: LogLevel.ERROR,
    });
    await expect(impatient.users.info({ user: 'U0BOB' })).rejects.toMatchObject({
      code: ErrorCode.RateLimitedError,
      retryAfter: 7,
    });

    slack.setOutage('unreachable');
    await expect(client.auth.test()).rejects.toMatchObject({ code: ErrorCode.RequestError });
    slack.setOutage(500);
    await expect(client.auth.test()).rejects.toMatchObject({ code: ErrorCode.HTTPError, statusCode: 500 });
    slack.setOutage(null);
    await expect(client.auth.test()).resolves.toMatchObject({ ok: true });
  });
});

describe('signed Slack requests', () => {
  const verify = (req: { body: string; headers: Record<string, string> }) =>
    verifySlackRequest({
      signingSecret: TEST_SIGNING_SECRET,
      body: req.body,
      headers: {
        'x-slack-signature': req.headers['x-slack-signature']!,
        'x-slack-request-timestamp': Number(req.headers['x-slack-request-timestamp']),
      },
    });

  it("pass Bolt's own verification when signed right, and fail it when not", () => {
    expect(() => verify(slashCommand({ text: 'prod-db 2h INC-1 lag' }))).not.toThrow();
    expect(() => verify(slashCommand({ text: 'x', signing: 'wrong-secret' }))).toThrow(/signature mismatch/);
    expect(() => verify(slashCommand({ text: 'x', signing: 'tampered' }))).toThrow(/signature mismatch/);
    expect(() => verify(slashCommand({ text: 'x', signing: 'stale' }))).toThrow(/stale/);
    expect(slashCommand({ text: 'x', signing: 'missing' }).headers['x-slack-signature']).toBeUndefined();
  });

  it("keep every field of Slack's real slash command payload", () => {
    const real = JSON.parse(readFileSync(peersPath('payloads', 'slash_command.bolt-python.decoded.json'), 'utf8')) as object;
    const ours = Object.fromEntries(new URLSearchParams(slashCommand({ text: 'list', userId: 'U0ALICE' }).body));
    expect(Object.keys(ours)).toEqual(expect.arrayContaining(Object.keys(real)));
    expect(ours).toMatchObject({ command: '/breakglass', text: 'list', user_id: 'U0ALICE' });
  });
});

describe('a real Bolt app over HTTP, with both doubles', () => {
  let app: App;
  let base: string;
  const seen: { commands: string[]; actions: string[]; userChanges: unknown[]; submissions: unknown[] } = {
    commands: [],
    actions: [],
    userChanges: [],
    submissions: [],
  };

  beforeAll(async () => {
    app = new App({
      token: slack.token,
      signingSecret: TEST_SIGNING_SECRET,
      clientOptions: { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } },
      deferInitialization: true,
      logLevel: LogLevel.ERROR,
    });
    app.command('/breakglass', async ({ ack, command, respond }) => {
      await ack();
      seen.commands.push(command.text);
      await respond({ response_type: 'ephemeral', text: `got ${command.text}` });
    });
    app.action('approve', async ({ ack, body, action }) => {
      await ack();
      seen.actions.push(`${body.user.id}:${'value' in action ? action.value : ''}`);
    });
    app.view('deny_reason', async ({ ack, view, body }) => {
      await ack();
      seen.submissions.push({ user: body.user.id, meta: view.private_metadata, values: view.state.values });
    });
    app.event('user_change', async ({ event }) => {
      seen.userChanges.push(event.user);
    });
    await app.init();
    const server = (await app.start(0)) as { address(): AddressInfo | string | null };
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.stop();
  });

  it('delivers a signed slash command and its response_url answer', async () => {
    const res = await post(base, slashCommand({ text: 'prod-db 2h INC-7', userId: 'U0ALICE', responseUrl: slack.responseUrl('cmd') }));
    expect(res.status).toBe(200);
    const [answer] = await slack.waitFor(() => slack.responses('cmd').length > 0 && slack.responses('cmd'));
    expect(answer?.body).toEqual({ response_type: 'ephemeral', text: 'got prod-db 2h INC-7' });
    expect(seen.commands).toContain('prod-db 2h INC-7');
  });

  it.each<Signing>(['wrong-secret', 'stale', 'missing', 'tampered'])('answers 401 to a %s request', async (signing) => {
    const before = seen.commands.length;
    const res = await post(base, slashCommand({ text: 'forged', signing }));
    expect(res.status).toBe(401);
    expect(seen.commands.length).toBe(before);
  });

  it('delivers a click on a button the app posted, with the value from the message', async () => {
    const posted = await client.chat.postMessage({
      channel: 'U0BOB',
      text: 'approve?',
      blocks: [
        {
          type: 'actions',
          block_id: 'decide',
          elements: [{ type: 'button', action_id: 'approve', value: 'req-42', text: { type: 'plain_text', text: 'Approve' } }],
        },
      ],
    });
    const message = slack.message(posted.channel!, posted.ts!)!;
    const res = await post(base, blockAction({ userId: 'U0BOB', actionId: 'approve', message }));
    expect(res.status).toBe(200);
    expect(seen.actions).toEqual(['U0BOB:req-42']);
  });

  it('delivers a click from the App Home and a modal submission built from what the app opened', async () => {
    await client.views.publish({
      user_id: 'U0BOB',
      view: {
        type: 'home',
        blocks: [
          {
            type: 'section',
            block_id: 'req-7',
            text: { type: 'mrkdwn', text: 'prod-db' },
            accessory: { type: 'button', action_id: 'approve', value: 'req-7', text: { type: 'plain_text', text: 'Approve' } },
          },
        ],
      },
    });
    const home = slack.homeView('U0BOB')!;
    expect((await post(base, blockAction({ userId: 'U0BOB', actionId: 'approve', view: home }))).status).toBe(200);
    expect(seen.actions).toContain('U0BOB:req-7');

    const opened = await client.views.open({
      trigger_id: 'from-a-click',
      view: {
        type: 'modal',
        callback_id: 'deny_reason',
        private_metadata: 'req-7',
        title: { type: 'plain_text', text: 'Deny request' },
        submit: { type: 'plain_text', text: 'Deny' },
        blocks: [
          { type: 'input', block_id: 'reason', label: { type: 'plain_text', text: 'Why?' }, element: { type: 'plain_text_input', action_id: 'text' } },
        ],
      },
    });
    const modal = slack.modals.get(opened.view!.id!)!;
    const res = await post(base, viewSubmission({ userId: 'U0BOB', view: modal, values: { reason: { text: 'not on call' } } }));
    expect(res.status).toBe(200);
    expect(seen.submissions).toEqual([
      { user: 'U0BOB', meta: 'req-7', values: { reason: { text: { type: 'plain_text_input', value: 'not on call' } } } },
    ]);
    expect(slack.violations).toEqual([]);
  });

  it('delivers an Events API user_change and answers url_verification', async () => {
    slack.updateUser('U0ALICE', { deleted: true });
    expect((await post(base, eventCallback(userChangeEvent(slack.userObject('U0ALICE'))))).status).toBe(200);
    await slack.waitFor(() => seen.userChanges.length > 0);
    expect(seen.userChanges[0]).toMatchObject({ id: 'U0ALICE', deleted: true, profile: { email: 'alice@example.com' } });
    slack.updateUser('U0ALICE', { deleted: false });

    const res = await post<{ challenge: string }>(base, urlVerification({ challenge: 'c-123' }));
    expect(res.json?.challenge).toBe('c-123');
  });
});

describe('manifest.yml', () => {
  it('asks for exactly the bot scopes breakglass uses', () => {
    expect(manifestBotScopes().sort()).toEqual(
      ['channels:read', 'chat:write', 'commands', 'files:write', 'groups:read', 'im:write', 'usergroups:read', 'users:read', 'users:read.email'].sort(),
    );
    const manifest = parseYaml(readFileSync(new URL('../../manifest.yml', import.meta.url), 'utf8')) as {
      settings: { event_subscriptions: { bot_events: string[] }; socket_mode_enabled: boolean };
      features: { slash_commands: Array<{ command: string; url: string }> };
    };
    expect(manifest.settings.event_subscriptions.bot_events.sort()).toEqual(['app_home_opened', 'user_change']);
    expect(manifest.features.slash_commands[0]).toMatchObject({ command: '/breakglass', url: 'https://breakglass.example.com/slack/events' });
    expect(manifest.settings.socket_mode_enabled).toBe(false);
  });
});
