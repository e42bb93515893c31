import type { WebClient } from '@slack/web-api';
import { mapLimit } from '../app/limit.ts';
import { ProviderError, type ChannelAccess, type ChatDirectory, type SlackUser } from '../ports.ts';

const TTL_MS = 60_000;
const MEMBER_LOOKUPS = 8;
/** A channel that does not exist, or a private one the bot is not in: Slack does not tell them apart. */
const CHANNEL_UNSEEN = new Set(['channel_not_found', 'not_in_channel']);
/** Slack's `ok: false` answers that mean "not now" rather than "no". */
const TRANSIENT_ANSWERS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited']);

/**
 * A failed call as the ChatDirectory port promises it: a ProviderError saying whether trying again may
 * help. A definite answer from Slack (`ok: false`) is final unless it is an outage; HTTP errors are
 * final below 500 (except 429); anything else (a dropped connection, retries spent) is transient.
 */
function directoryError(method: string, error: unknown): ProviderError {
  const e = error as { code?: unknown; statusCode?: unknown; data?: { error?: unknown } };
  const answer = typeof e.data?.error === 'string' ? e.data.error : undefined;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const transient = e.code === 'slack_webapi_platform_error' ? TRANSIENT_ANSWERS.has(answer ?? '') : status === undefined || status === 429 || status >= 500;
  return new ProviderError(`Slack ${method} failed: ${answer ?? (error instanceof Error ? error.message : String(error))}`, transient, status, { cause: error });
}

/** Slack's users and user groups, cached for a minute: requests and clicks come in bursts. */
export class SlackDirectory implements ChatDirectory {
  private readonly users = new Map<string, { at: number; value: SlackUser | undefined }>();
  private readonly groups = new Map<string, { at: number; value: string[] }>();
  private readonly byEmail = new Map<string, { at: number; value: SlackUser | undefined }>();
  private readonly channels = new Map<string, { at: number; value: string[] }>();

  constructor(private readonly client: WebClient) {}

  async user(id: string): Promise<SlackUser | undefined> {
    const cached = this.users.get(id);
    if (cached && Date.now() - cached.at < TTL_MS) return cached.value;
    let value: SlackUser | undefined;
    try {
      const result = await this.client.users.info({ user: id });
      const u = result.user;
      value = u?.id
        ? { id: u.id, name: u.real_name || u.name || u.id, email: u.profile?.email, deleted: Boolean(u.deleted), isBot: Boolean(u.is_bot) }
        : undefined;
    } catch (error) {
      if ((error as { data?: { error?: string } }).data?.error !== 'user_not_found') throw directoryError('users.info', error);
    }
    this.users.set(id, { at: Date.now(), value });
    return value;
  }

  async usergroupMembers(groupId: string): Promise<string[]> {
    const cached = this.groups.get(groupId);
    if (cached && Date.now() - cached.at < TTL_MS) return cached.value;
    let value: string[] = [];
    try {
      value = (await this.client.usergroups.users.list({ usergroup: groupId })).users ?? [];
    } catch (error) {
      if ((error as { data?: { error?: string } }).data?.error !== 'no_such_subteam') throw directoryError('usergroups.users.list', error);
    }
    this.groups.set(groupId, { at: Date.now(), value });
    return value;
  }

  /**
   * users.lookupByEmail (scope users:read.email), cached like `user`. Unknown emails are cached
   * too: an access review asks about every manager once, and most of them more than once.
   */
  async userByEmail(email: string): Promise<SlackUser | undefined> {
    const key = email.trim().toLowerCase();
    const cached = this.byEmail.get(key);
    if (cached && Date.now() - cached.at < TTL_MS) return cached.value;
    let value: SlackUser | undefined;
    try {
      const u = (await this.client.users.lookupByEmail({ email: key })).user;
      value = u?.id ? { id: u.id, name: u.real_name || u.name || u.id, email: u.profile?.email, deleted: Boolean(u.deleted), isBot: Boolean(u.is_bot) } : undefined;
    } catch (error) {
      if ((error as { data?: { error?: string } }).data?.error !== 'users_not_found') throw directoryError('users.lookupByEmail', error);
    }
    this.byEmail.set(key, { at: Date.now(), value });
    if (value) this.users.set(value.id, { at: Date.now(), value });
    return value;
  }

  /**
   * conversations.members (channels:read, groups:read), all pages, without bots (the bot itself is
   * in the channel): they approve nothing. A channel Slack will not show is cached as empty.
   */
  async channelMembers(channelId: string): Promise<string[]> {
    const cached = this.channels.get(channelId);
    if (cached && Date.now() - cached.at < TTL_MS) return cached.value;
    const members: string[] = [];
    try {
      let cursor: string | undefined;
      do {
        const page = await this.client.conversations.members({ channel: channelId, limit: 200, ...(cursor ? { cursor } : {}) });
        members.push(...(page.members ?? []));
        cursor = page.response_metadata?.next_cursor || undefined;
      } while (cursor);
    } catch (error) {
      if (!CHANNEL_UNSEEN.has((error as { data?: { error?: string } }).data?.error ?? '')) throw directoryError('conversations.members', error);
    }
    // A few users.info calls at a time: a large channel must not burst into Slack's rate limit.
    const people = await mapLimit(members, MEMBER_LOOKUPS, async (id) => ((await this.user(id).catch(() => undefined))?.isBot ? undefined : id));
    const value = people.filter((id): id is string => id !== undefined);
    this.channels.set(channelId, { at: Date.now(), value });
    return value;
  }

  /** conversations.info, asked afresh each time: it is asked at start and on a policy reload. */
  async channel(channelId: string): Promise<ChannelAccess> {
    try {
      const found = (await this.client.conversations.info({ channel: channelId })).channel;
      return { found: true, name: found?.name ?? channelId, isMember: Boolean(found?.is_member), isArchived: Boolean(found?.is_archived) };
    } catch (error) {
      if (CHANNEL_UNSEEN.has((error as { data?: { error?: string } }).data?.error ?? '')) return { found: false };
      throw directoryError('conversations.info', error);
    }
  }

  /** A user changed (deactivated, new email): forget what we knew. */
  forget(userId: string): void {
    this.users.delete(userId);
    for (const [email, entry] of this.byEmail) if (entry.value?.id === userId) this.byEmail.delete(email);
  }
}
