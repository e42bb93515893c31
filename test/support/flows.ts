/**
 * Small steps the end-to-end flow tests share: a slash command and its answer, a click and its
 * answer, the approval card an approver sees, and the evidence rows a request left behind.
 */
import { eq } from 'drizzle-orm';
import { evidenceEvents, grants } from '../../src/db/schema.ts';
import { findPerson } from '../../src/reports/access/person-aliases.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { FakeClock } from './clock.ts';
import type { Harness } from './harness.ts';
import { blockAction, interactiveElements, post, slashCommand, type MessageRef, type ViewRef } from './slack-requests.ts';
import { textOf, type StoredMessage } from './slack-server.ts';

export type EvidenceRow = typeof evidenceEvents.$inferSelect;
export type GrantRow = typeof grants.$inferSelect;

/**
 * A FakeClock at the current whole second. The AWS provider checks an inline policy's expiry
 * against real time (AWS evaluates the condition against real time too), so fake time must not
 * start in the past.
 */
export function clockAtNow(): FakeClock {
  return new FakeClock(new Date(Math.floor(Date.now() / 1000) * 1000));
}

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

export interface CommandResult {
  status: number;
  /** Text of the immediate ack, when the command answered in it (parse errors, help). */
  ack: string | undefined;
  /** The answer posted later to the command's response_url. */
  reply(timeoutMs?: number): Promise<string>;
}

/** `/breakglass <text>` typed by `userId`. */
export async function slash(h: Harness, userId: string, text: string): Promise<CommandResult> {
  const name = unique('cmd');
  const res = await post<{ text?: string }>(h.baseUrl, slashCommand({ text, userId, responseUrl: h.slack.responseUrl(name) }));
  return {
    status: res.status,
    ack: res.json?.text,
    reply: async (timeoutMs = 5_000) => {
      const answer = await h.slack.waitFor(() => h.slack.responses(name)[0], timeoutMs, `the answer to /breakglass ${text}`);
      return String(answer.body.text ?? '');
    },
  };
}

/** A `/breakglass <resource> …` request; returns the request id from the answer. */
export async function request(h: Harness, userId: string, text: string): Promise<{ requestId: number; reply: string }> {
  const cmd = await slash(h, userId, text);
  if (cmd.status !== 200) throw new Error(`/breakglass ${text} answered ${cmd.status}`);
  const reply = await cmd.reply();
  const id = /request #(\d+)/i.exec(reply)?.[1];
  if (!id) throw new Error(`no request id in the answer to /breakglass ${text}: ${reply}`);
  return { requestId: Number(id), reply };
}

export interface ClickResult {
  status: number;
  /** What the bot told the clicker (ephemeral via response_url), if anything, within the wait. */
  reply(timeoutMs?: number): Promise<string>;
  /** Resolves undefined when the bot said nothing within the wait. */
  maybeReply(timeoutMs?: number): Promise<string | undefined>;
  /** The first of the bot's answers to this click (it may answer more than once) that matches. */
  replyMatching(matching: RegExp, timeoutMs?: number): Promise<string>;
}

/** A button click on a message (with a response_url the test can read) or on a view (App Home). */
export async function click(
  h: Harness,
  userId: string,
  actionId: string,
  where: { message: MessageRef } | { view: ViewRef },
  extra: { triggerId?: string } = {},
): Promise<ClickResult> {
  const name = unique('click');
  const req =
    'message' in where
      ? blockAction({ userId, actionId, message: where.message, responseUrl: h.slack.responseUrl(name), ...extra })
      : blockAction({ userId, actionId, view: where.view, ...extra });
  const res = await post(h.baseUrl, req);
  const read = () => h.slack.responses(name)[0];
  return {
    status: res.status,
    reply: async (timeoutMs = 5_000) => String((await h.slack.waitFor(read, timeoutMs, `the answer to a ${actionId} click`)).body.text ?? ''),
    replyMatching: async (matching, timeoutMs = 5_000) =>
      h.slack.waitFor(
        () => h.slack.responses(name).map((r) => String(r.body.text ?? '')).find((text) => matching.test(text)),
        timeoutMs,
        `an answer to a ${actionId} click matching ${matching}`,
      ),
    maybeReply: async (timeoutMs = 1_000) => {
      const got = await h.slack.waitFor(read, timeoutMs).catch(() => undefined);
      return got ? String(got.body.text ?? '') : undefined;
    },
  };
}

/** The approval (or extension) card for a request in an approver's DMs, as it is now (live, not a copy). */
export function approvalCard(h: Harness, approver: string, requestId: number): StoredMessage | undefined {
  return h.slack.messagesTo(approver).find((m) => new RegExp(`^(Access|Extension) request #${requestId}:`).test(m.text ?? ''));
}

export function waitForCard(h: Harness, approver: string, requestId: number, matching?: RegExp, timeoutMs = 5_000): Promise<StoredMessage> {
  return h.slack.waitFor(
    () => {
      const card = approvalCard(h, approver, requestId);
      // A copy: the server updates its stored message in place, and a test keeps what the approver saw then.
      return card && (!matching || matching.test(textOf(card))) ? structuredClone(card) : undefined;
    },
    timeoutMs,
    `${approver}'s card for request #${requestId}${matching ? ` matching ${matching}` : ''}`,
  );
}

/** Whether a message or view still offers a button with this action id. */
export function hasButton(item: { blocks?: readonly unknown[] } | undefined, actionId: string): boolean {
  return interactiveElements(item?.blocks as ReadonlyArray<Record<string, unknown>> | undefined).some((f) => f.element.action_id === actionId);
}

/** A DM to `user` whose text matches. */
export function waitForDm(h: Harness, user: string, matching: RegExp, timeoutMs = 5_000): Promise<StoredMessage> {
  return h.slack.waitFor(() => h.slack.messagesTo(user).find((m) => matching.test(textOf(m))), timeoutMs, `a DM to ${user} matching ${matching}`);
}

export async function ledger(h: Harness): Promise<EvidenceRow[]> {
  return h.bot.database.db.select().from(evidenceEvents).orderBy(evidenceEvents.seq);
}

/** Evidence about one request, oldest first. */
export async function eventsOf(h: Harness, requestId: number): Promise<EvidenceRow[]> {
  return h.bot.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.requestId, String(requestId))).orderBy(evidenceEvents.seq);
}

export async function waitForEvent(h: Harness, requestId: number, kind: string, timeoutMs = 5_000): Promise<EvidenceRow> {
  return h.slack.waitFor(async () => (await eventsOf(h, requestId)).find((e) => e.kind === kind), timeoutMs, `${kind} for request #${requestId}`);
}

/** What the ledger adds to the details of an event about this person (src/ledger/event-person.ts): their id and label now. */
export async function personFields(h: Harness, alias: string): Promise<{ person_id: string; person_label: string }> {
  const person = await findPerson(h.bot.database.db, alias);
  if (!person) throw new Error(`breakglass knows nobody as ${alias}`);
  return { person_id: person.id, person_label: person.label };
}

export async function grantOf(h: Harness, requestId: number): Promise<GrantRow | undefined> {
  const [grant] = await h.bot.database.db.select().from(grants).where(eq(grants.requestId, requestId));
  return grant;
}

/** Request, have each approver click Approve on their card, and wait until the grant is applied. */
export async function requestAndApprove(h: Harness, requester: string, text: string, approvers: string[]): Promise<{ requestId: number; grant: GrantRow }> {
  const { requestId } = await request(h, requester, text);
  for (const approver of approvers) {
    const card = await waitForCard(h, approver, requestId);
    const res = await click(h, approver, ACTIONS.approve, { message: card });
    if (res.status !== 200) throw new Error(`Approve click answered ${res.status}`);
  }
  await waitForEvent(h, requestId, 'grant.applied');
  const grant = await grantOf(h, requestId);
  if (!grant) throw new Error(`no grant for request #${requestId}`);
  return { requestId, grant };
}

/** Whole-second ISO time, as IAM policy conditions carry it. */
export function iamTime(iso: string | Date): string {
  return (typeof iso === 'string' ? iso : iso.toISOString()).replace(/\.\d{3}Z$/, 'Z');
}
