/**
 * Requests exactly as Slack sends them to `POST /slack/events`, signed with the app's signing
 * secret. Payload shapes start from real payloads Slack's own SDK tests use (peers/payloads,
 * see peers/SOURCES.md) and only override values, so a field Slack really sends is never
 * forgotten by a hand-written fixture.
 */
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The example signing secret from Slack's request-verification docs; use it unless a test needs its own. */
export const TEST_SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';

/**
 * How to sign: `valid` (default); `wrong-secret`; `stale` (timestamp 6 minutes old, outside Slack's
 * 5-minute window); `future` (6 minutes ahead); `missing` (no x-slack-signature header);
 * `tampered` (signed, then one byte of the body changed, as a proxy rewriting the body would).
 */
export type Signing = 'valid' | 'wrong-secret' | 'stale' | 'future' | 'missing' | 'tampered';

export interface SignOptions {
  signingSecret?: string;
  signing?: Signing;
  /** Epoch milliseconds the request is "sent" at; default Date.now(). */
  now?: number;
}

export interface SlackRequest {
  body: string;
  headers: Record<string, string>;
  /** What the body carries, decoded, for assertions and debugging. */
  payload: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Peer fixtures

const PEERS_ENV = 'BREAKGLASS_PEERS_DIR';

/**
 * Absolute path inside the peers folder (third-party specs and payloads): test/peers, vendored
 * with the tests, unless BREAKGLASS_PEERS_DIR names another copy (its `payloads` folder is
 * accepted too).
 */
export function peersPath(...segments: string[]): string {
  const candidates: string[] = [];
  const fromEnv = process.env[PEERS_ENV];
  if (fromEnv) {
    candidates.push(fromEnv);
    // Someone pointing the variable at peers/payloads means the same folder's parent.
    candidates.push(join(fromEnv, '..'));
  }
  candidates.push(fileURLToPath(new URL('../peers/', import.meta.url)));
  for (const dir of candidates) {
    if (existsSync(join(dir, 'payloads', 'slash_command.bolt-python.form.txt'))) {
      return join(dir, ...segments);
    }
  }
  throw new Error(
    `Slack peer fixtures not found (looked in ${candidates.join(', ')}). ` +
      `Restore test/peers from git, or set ${PEERS_ENV} to a folder that holds payloads/, slack/, okta/ and iam/.`,
  );
}

const fixtureCache = new Map<string, string>();
function fixture(name: string): string {
  let text = fixtureCache.get(name);
  if (text === undefined) {
    text = readFileSync(peersPath('payloads', name), 'utf8');
    fixtureCache.set(name, text);
  }
  return text;
}
function jsonFixture(name: string): Record<string, unknown> {
  // A fresh copy each time: builders mutate what they get.
  return JSON.parse(fixture(name)) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Signing

export function signedHeaders(body: string, contentType: string, opts: SignOptions = {}): Record<string, string> {
  const secret = opts.signingSecret ?? TEST_SIGNING_SECRET;
  const signing = opts.signing ?? 'valid';
  const nowSec = Math.floor((opts.now ?? Date.now()) / 1000);
  const skew = signing === 'stale' ? -360 : signing === 'future' ? 360 : 0;
  const ts = String(nowSec + skew);
  const key = signing === 'wrong-secret' ? `${secret}-not-the-real-one` : secret;
  const signature = `v0=${createHmac('sha256', key).update(`v0:${ts}:${body}`).digest('hex')}`;
  const headers: Record<string, string> = {
    'content-type': contentType,
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    'x-slack-request-timestamp': ts,
  };
  if (signing !== 'missing') headers['x-slack-signature'] = signature;
  return headers;
}

function finish(body: string, contentType: string, payload: Record<string, unknown>, opts: SignOptions): SlackRequest {
  const headers = signedHeaders(body, contentType, opts);
  if (opts.signing === 'tampered') {
    // Flip the last character so the signature no longer covers the body that arrives.
    body = body.slice(0, -1) + (body.endsWith('0') ? '1' : '0');
  }
  return { body, headers, payload };
}

/**
 * Used when a test gives no response_url: the fixtures' hooks.slack.com address would send a
 * test's reply to the real Slack; a .invalid host (RFC 2606) never resolves, so it fails fast.
 * Pass `slack.responseUrl(name)` from the fake server to see what the app answers.
 */
export const UNSET_RESPONSE_URL = 'https://response-url-not-set.invalid/commands/T111/111/xxxxx';

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

// ---------------------------------------------------------------------------------------------
// Slash commands

export interface SlashCommandOptions extends SignOptions {
  text: string;
  userId?: string;
  userName?: string;
  command?: string;
  channelId?: string;
  channelName?: string;
  teamId?: string;
  teamDomain?: string;
  apiAppId?: string;
  responseUrl?: string;
  triggerId?: string;
  /** Any other form field; `undefined` removes one the fixture has (e.g. enterprise_id). */
  fields?: Record<string, string | undefined>;
}

/** `/breakglass …` as Slack posts it: a form body, fields in the order of the real example. */
export function slashCommand(opts: SlashCommandOptions): SlackRequest {
  const base = Object.fromEntries(new URLSearchParams(fixture('slash_command.bolt-python.form.txt')));
  const fields: Record<string, string | undefined> = {
    ...base,
    team_id: opts.teamId ?? base.team_id,
    team_domain: opts.teamDomain ?? base.team_domain,
    channel_id: opts.channelId ?? base.channel_id,
    channel_name: opts.channelName ?? base.channel_name,
    user_id: opts.userId ?? base.user_id,
    user_name: opts.userName ?? (opts.userId ? opts.userId.toLowerCase() : base.user_name),
    command: opts.command ?? '/breakglass',
    text: opts.text,
    response_url: opts.responseUrl ?? UNSET_RESPONSE_URL,
    trigger_id: opts.triggerId ?? uniqueTriggerId(),
    // Slack sends these two today; the 2020-era bolt-python example predates them
    // (they are in java-slack-sdk's SlashCommandPayload shape).
    api_app_id: opts.apiAppId ?? 'A111',
    is_enterprise_install: 'false',
    ...opts.fields,
  };
  const defined = Object.fromEntries(
    Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined),
  );
  return finish(form(defined), FORM, defined, opts);
}

// ---------------------------------------------------------------------------------------------
// Interactivity

/** The parts of a posted message a button click needs: what the fake Slack server stores fits. */
export interface MessageRef {
  channel: string;
  ts: string;
  text?: string;
  blocks?: ReadonlyArray<Record<string, unknown>>;
}

/** A view as Slack holds it (the fake server's stored views fit). */
export interface ViewRef {
  id: string;
  type?: string;
  blocks?: ReadonlyArray<Record<string, unknown>>;
  [key: string]: unknown;
}

export interface BlockActionOptions extends SignOptions {
  userId: string;
  userName?: string;
  actionId: string;
  /** Defaults to the value of the element with `actionId` in `message`/`view`, as Slack would send. */
  value?: string;
  /** Defaults to the block holding that element. */
  blockId?: string;
  /** The message the button sits in; sets channel, container and message like Slack does. */
  message?: MessageRef;
  /** The view (App Home or modal) the button sits in, instead of a message. */
  view?: ViewRef;
  /** Overrides the container Slack would derive from message/view. */
  container?: Record<string, unknown>;
  channelId?: string;
  responseUrl?: string;
  triggerId?: string;
  teamId?: string;
  /** Merged over the action object (e.g. `{ type: 'static_select', selected_option: … }`). */
  action?: Record<string, unknown>;
}

export interface FoundElement {
  blockId: string | undefined;
  element: Record<string, unknown>;
}

/** Every interactive element in a block list, with the block that holds it. */
export function interactiveElements(blocks: ReadonlyArray<Record<string, unknown>> | undefined): FoundElement[] {
  const found: FoundElement[] = [];
  for (const block of blocks ?? []) {
    const blockId = typeof block.block_id === 'string' ? block.block_id : undefined;
    const candidates: unknown[] = [];
    if (Array.isArray(block.elements)) candidates.push(...(block.elements as unknown[]));
    if (block.accessory) candidates.push(block.accessory);
    if (block.element) candidates.push(block.element);
    for (const el of candidates) {
      if (el && typeof el === 'object' && typeof (el as Record<string, unknown>).action_id === 'string') {
        found.push({ blockId, element: el as Record<string, unknown> });
      }
    }
  }
  return found;
}

/** A click on a button (or other element) as Slack posts it: `payload=<json>` form body. */
export function blockAction(opts: BlockActionOptions): SlackRequest {
  const payload = jsonFixture('block_actions.bolt-python.json');
  const blocks = opts.message?.blocks ?? opts.view?.blocks;
  const hit = interactiveElements(blocks).find((f) => f.element.action_id === opts.actionId);
  if ((opts.message || opts.view) && !hit && opts.value === undefined) {
    throw new Error(`blockAction: no element with action_id ${opts.actionId} in the given message/view`);
  }
  const el = hit?.element ?? {};
  const teamId = opts.teamId ?? 'T111';
  const userName = opts.userName ?? opts.userId.toLowerCase();
  payload.user = { id: opts.userId, username: userName, name: userName, team_id: teamId };
  payload.team = { ...(payload.team as object), id: teamId };
  payload.trigger_id = opts.triggerId ?? uniqueTriggerId();

  if (opts.view) {
    // App Home / modal clicks carry the view and no channel, message or response_url.
    delete payload.channel;
    delete payload.response_url;
    payload.container = opts.container ?? { type: 'view', view_id: opts.view.id };
    payload.view = { ...opts.view, state: opts.view.state ?? { values: {} } };
  } else {
    const channelId = opts.channelId ?? opts.message?.channel ?? (payload.channel as { id: string }).id;
    payload.channel = { id: channelId, name: channelId.startsWith('D') ? 'directmessage' : 'privategroup' };
    payload.container = opts.container ?? {
      type: 'message',
      message_ts: opts.message?.ts ?? '111.222',
      channel_id: channelId,
      is_ephemeral: opts.message === undefined,
    };
    if (opts.message) {
      payload.message = {
        type: 'message',
        subtype: 'bot_message',
        text: opts.message.text ?? '',
        ts: opts.message.ts,
        bot_id: 'B0BGBOT',
        blocks: opts.message.blocks ?? [],
      };
    }
    payload.response_url = opts.responseUrl ?? UNSET_RESPONSE_URL;
  }
  payload.state = { values: {} };
  payload.actions = [
    {
      action_id: opts.actionId,
      block_id: opts.blockId ?? hit?.blockId ?? 'b',
      text: el.text ?? { type: 'plain_text', text: 'Button', emoji: true },
      value: opts.value ?? el.value,
      ...(el.style ? { style: el.style } : {}),
      type: el.type ?? 'button',
      action_ts: actionTs(),
      ...opts.action,
    },
  ];
  payload.is_enterprise_install = false;
  return finish(form({ payload: JSON.stringify(payload) }), FORM, payload, opts);
}

/** A value in `state.values`: a string is shorthand for a plain_text_input. */
export type InputValue = string | Record<string, unknown>;

export interface ViewSubmissionOptions extends SignOptions {
  userId: string;
  userName?: string;
  /** The modal being submitted, e.g. what the fake server stored from views.open. */
  view?: ViewRef;
  callbackId?: string;
  privateMetadata?: string;
  /** state.values: `{ blockId: { actionId: 'typed text' | {type, …} } }` */
  values?: Record<string, Record<string, InputValue>>;
  triggerId?: string;
  teamId?: string;
  responseUrls?: unknown[];
}

/** A modal's Submit as Slack posts it. */
export function viewSubmission(opts: ViewSubmissionOptions): SlackRequest {
  const payload = jsonFixture('view_submission.bolt-python.json');
  const teamId = opts.teamId ?? 'T111';
  const userName = opts.userName ?? opts.userId.toLowerCase();
  payload.user = { id: opts.userId, username: userName, name: userName, team_id: teamId };
  payload.team = { ...(payload.team as object), id: teamId };
  payload.trigger_id = opts.triggerId ?? uniqueTriggerId();
  const values: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const [blockId, actions] of Object.entries(opts.values ?? {})) {
    values[blockId] = Object.fromEntries(
      Object.entries(actions).map(([actionId, v]) => [
        actionId,
        typeof v === 'string' ? { type: 'plain_text_input', value: v } : v,
      ]),
    );
  }
  const view = { ...(payload.view as Record<string, unknown>), ...opts.view };
  if (opts.callbackId !== undefined) view.callback_id = opts.callbackId;
  if (opts.privateMetadata !== undefined) view.private_metadata = opts.privateMetadata;
  view.state = { values };
  view.team_id = teamId;
  payload.view = view;
  payload.response_urls = opts.responseUrls ?? [];
  payload.is_enterprise_install = false;
  return finish(form({ payload: JSON.stringify(payload) }), FORM, payload, opts);
}

export interface GlobalShortcutOptions extends SignOptions {
  userId: string;
  callbackId: string;
  triggerId?: string;
  teamId?: string;
}

/**
 * A global shortcut (the ⚡ menu) as Slack posts it. No peer fixture holds one; the fields are
 * the ones Slack documents for `type: shortcut` (token, action_ts, team, user, callback_id,
 * trigger_id), with team, token and app id taken from the view_submission fixture.
 */
export function globalShortcut(opts: GlobalShortcutOptions): SlackRequest {
  const base = jsonFixture('view_submission.bolt-python.json');
  const teamId = opts.teamId ?? 'T111';
  const userName = opts.userId.toLowerCase();
  const payload: Record<string, unknown> = {
    type: 'shortcut',
    token: base.token,
    action_ts: actionTs(),
    team: { ...(base.team as object), id: teamId },
    user: { id: opts.userId, username: userName, team_id: teamId },
    is_enterprise_install: false,
    enterprise: null,
    api_app_id: base.api_app_id,
    callback_id: opts.callbackId,
    trigger_id: opts.triggerId ?? uniqueTriggerId(),
  };
  return finish(form({ payload: JSON.stringify(payload) }), FORM, payload, opts);
}

// ---------------------------------------------------------------------------------------------
// Events API

export interface EventCallbackOptions extends SignOptions {
  teamId?: string;
  apiAppId?: string;
  eventId?: string;
  /** The bot user the event is delivered to (authorizations[0].user_id). */
  botUserId?: string;
  /** When the event happened (ms), if not when it is sent: Slack redelivers old events. */
  eventTime?: number;
}

/**
 * An Events API delivery. No peer fixture exists for the envelope; the fields are the ones
 * Slack documents for `event_callback` (token, team_id, api_app_id, event, type, event_id,
 * event_time, authorizations, is_ext_shared_channel, event_context).
 */
export function eventCallback(event: Record<string, unknown>, opts: EventCallbackOptions = {}): SlackRequest {
  const teamId = opts.teamId ?? 'T111';
  const now = opts.now ?? Date.now();
  const payload: Record<string, unknown> = {
    token: 'verification_token',
    team_id: teamId,
    context_team_id: teamId,
    context_enterprise_id: null,
    api_app_id: opts.apiAppId ?? 'A111',
    event,
    type: 'event_callback',
    event_id: opts.eventId ?? `Ev${uniqueSuffix()}`,
    event_time: Math.floor((opts.eventTime ?? now) / 1000),
    authorizations: [
      {
        enterprise_id: null,
        team_id: teamId,
        user_id: opts.botUserId ?? 'U0BGBOT',
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
    event_context: `4-${Buffer.from(JSON.stringify({ et: event.type, tid: teamId })).toString('base64url')}`,
  };
  return finish(JSON.stringify(payload), JSON_TYPE, payload, opts);
}

/** `user_change`: Slack sends the whole user object (as users.info returns it). */
export function userChangeEvent(user: Record<string, unknown>, now = Date.now()): Record<string, unknown> {
  return { type: 'user_change', user, cache_ts: Math.floor(now / 1000), event_ts: eventTs(now) };
}

/** `app_home_opened` for the Home tab. `channel` is the user's DM with the app. */
export function appHomeOpenedEvent(userId: string, channel: string, now = Date.now()): Record<string, unknown> {
  return { type: 'app_home_opened', user: userId, channel, tab: 'home', event_ts: eventTs(now) };
}

/** The handshake Slack sends when the Request URL is saved. */
export function urlVerification(opts: SignOptions & { challenge?: string } = {}): SlackRequest {
  const payload = jsonFixture('url_verification.bolt-python.json');
  if (opts.challenge !== undefined) payload.challenge = opts.challenge;
  return finish(JSON.stringify(payload), JSON_TYPE, payload, opts);
}

// ---------------------------------------------------------------------------------------------
// Sending

export interface SlackPostResult<T = unknown> {
  status: number;
  body: string;
  /** The body parsed, when it is JSON. */
  json?: T;
  headers: Headers;
}

/** POST the request to `${baseUrl}/slack/events` (or `path`) and read the whole answer. */
export async function post<T = unknown>(
  baseUrl: string,
  req: SlackRequest,
  path = '/slack/events',
): Promise<SlackPostResult<T>> {
  const res = await fetch(`${baseUrl.replace(/\/+$/, '')}${path}`, {
    method: 'POST',
    headers: req.headers,
    body: req.body,
  });
  const body = await res.text();
  let json: T | undefined;
  if (body && (res.headers.get('content-type') ?? '').includes('json')) {
    json = JSON.parse(body) as T;
  }
  return { status: res.status, body, json, headers: res.headers };
}

// ---------------------------------------------------------------------------------------------

let counter = 0;
function uniqueSuffix(): string {
  counter += 1;
  return `${Date.now().toString(36)}${counter.toString(36)}`.toUpperCase();
}
function uniqueTriggerId(): string {
  // Slack's trigger ids look like "<digits>.<digits>.<hex>"; each click gets a new one.
  counter += 1;
  return `${Date.now()}.${1000 + counter}.${createHmac('sha256', 't').update(String(counter)).digest('hex').slice(0, 32)}`;
}
function eventTs(now: number): string {
  return (now / 1000).toFixed(6);
}
function actionTs(): string {
  return eventTs(Date.now());
}
