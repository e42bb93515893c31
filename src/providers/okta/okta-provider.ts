import { Client, DefaultRequestExecutor, type User, type UserStatus } from '@okta/okta-sdk-nodejs';
import { ProviderError, RevokeIneffectiveError, type AccessEntry, type AccessProvider, type GrantSpec, type GrantTarget, type Person, type RevokeOutcome } from '../../ports.ts';
import { isOktaTarget } from './target.ts';
import { DEFAULT_RETRY, withRetry, type RetryOptions } from '../retry.ts';

/** The Okta login a listing reported (`principal`), else the person's email, which Okta matches as login or email. */
const oktaRefOf = (person: Person): string => person.principal ?? person.email;

export type OktaUserStatus = UserStatus;

/** The part of an Okta user the product reads. */
export interface OktaUserSummary {
  id: string;
  login: string;
  email: string | undefined;
  status: OktaUserStatus | undefined;
  profile: Record<string, unknown>;
}

export interface OktaConnection {
  /** https, or http on a loopback address (tests). */
  orgUrl: string;
  token: string;
  /** Per HTTP request; the SDK has none by default, so a hung connection would hang the caller. */
  requestTimeoutMs?: number;
}

export interface OktaProviderOptions {
  retry?: Partial<RetryOptions>;
  /** `limit` asked of list endpoints; Okta recommends at most 200. */
  pageSize?: number;
}

/** People who must not receive new access, whatever a request says. */
const BLOCKED_STATUSES: ReadonlySet<string> = new Set(['SUSPENDED', 'DEPROVISIONED']);

export function isLoopbackUrl(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * An Okta SDK client that answers from Okta only. Three SDK defaults are switched off:
 * the response cache (it serves a suspended user as ACTIVE forever), the executor's own 429
 * retries (withRetry is the one retry budget), and — by pinning every auth setting — whatever
 * OKTA_CLIENT_* variables or okta.yaml files happen to be on the machine.
 */
export function createOktaClient(conn: OktaConnection): Client {
  if (!conn.orgUrl) throw new Error('Okta org URL is empty (OKTA_ORG_URL)');
  if (!conn.token) throw new Error('Okta API token is empty (OKTA_API_TOKEN)');
  const url = new URL(conn.orgUrl);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackUrl(url))) {
    throw new Error(`Okta org URL must be https (got ${conn.orgUrl}); plain http is allowed only on a loopback address`);
  }
  const client = new Client({
    orgUrl: conn.orgUrl,
    token: conn.token,
    authorizationMode: 'SSWS',
    cacheMiddleware: null,
    requestExecutor: new DefaultRequestExecutor({ maxRetries: 0, requestTimeout: conn.requestTimeoutMs ?? 15_000 }),
  });
  // The SDK sends every request through HTTPS_PROXY when it is set, loopback included.
  if (isLoopbackUrl(url)) (client.http as unknown as { agent?: unknown }).agent = undefined;
  return client;
}

/** Okta's 429 says when the window resets (X-Rate-Limit-Reset, epoch seconds, against its Date). */
export function oktaRetryAfterMs(err: unknown): number | undefined {
  const e = err as { status?: unknown; headers?: unknown } | null;
  if (!e || e.status !== 429 || !e.headers) return undefined;
  const h = e.headers as { get?: (n: string) => string | null } & Record<string, string | undefined>;
  const read = (name: string) => (typeof h.get === 'function' ? h.get(name) : h[name]) ?? undefined;
  const reset = Number(read('x-rate-limit-reset'));
  if (!Number.isFinite(reset) || reset <= 0) return undefined;
  const serverNow = Date.parse(read('date') ?? '') || Date.now();
  return Math.max(0, reset * 1000 - serverNow);
}

function searchLiteral(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function summarize(u: User): OktaUserSummary {
  // A plain copy of the attributes Okta set: the SDK's model object carries every attribute of the
  // schema (mostly undefined), which adds up when a review lists thousands of people.
  const profile: Record<string, unknown> = {};
  for (const [key, value] of Object.entries((u.profile ?? {}) as Record<string, unknown>)) if (value !== undefined && value !== null) profile[key] = value;
  return {
    id: u.id ?? '',
    login: typeof profile['login'] === 'string' ? profile['login'] : '',
    email: typeof profile['email'] === 'string' ? profile['email'] : undefined,
    status: u.status,
    profile,
  };
}

/**
 * Okta group membership. A person is found by login (= email), else by primary email. Granting
 * to a member and revoking from a non-member (or from a person Okta no longer knows) succeed.
 * Okta keeps no grant id, so listAccess reports none.
 */
export class OktaProvider implements AccessProvider {
  readonly name = 'okta';
  readonly client: Client;
  private readonly retry: Partial<RetryOptions>;
  private readonly pageSize: number;

  constructor(connection: OktaConnection | { client: Client }, options: OktaProviderOptions = {}) {
    this.client = 'client' in connection ? connection.client : createOktaClient(connection);
    this.retry = options.retry ?? {};
    this.pageSize = options.pageSize ?? 200;
  }

  supports(target: GrantTarget): boolean {
    return isOktaTarget(target);
  }

  async grant(spec: GrantSpec): Promise<void> {
    const groupId = this.groupOf(spec.target);
    const user = await this.lookupUser(oktaRefOf(spec.person));
    if (!user) throw new ProviderError(`Okta has no user with login or email ${oktaRefOf(spec.person)}`, false, 404);
    if (user.status && BLOCKED_STATUSES.has(user.status)) {
      throw new ProviderError(`Okta user ${user.login} is ${user.status}; access is not granted to deactivated people`, false);
    }
    await this.call(`okta assignUserToGroup ${groupId}`, () =>
      this.client.groupApi.assignUserToGroup({ groupId, userId: user.id }),
    );
  }

  async revoke(spec: GrantSpec): Promise<void | RevokeOutcome> {
    const groupId = this.groupOf(spec.target);
    const user = await this.lookupUser(oktaRefOf(spec.person));
    if (!user) return { listed: await this.confirmGone(spec) };
    try {
      await this.call(`okta unassignUserFromGroup ${groupId}`, () =>
        this.client.groupApi.unassignUserFromGroup({ groupId, userId: user.id }),
      );
    } catch (err) {
      if (err instanceof ProviderError && err.status === 404) return { listed: await this.confirmGone(spec) };
      throw err;
    }
  }

  /** "Not found" is not "gone" (a login changed, say): the group's members must no longer include the person. Returns the members. */
  private async confirmGone(spec: GrantSpec): Promise<AccessEntry[]> {
    const names = new Set([oktaRefOf(spec.person), spec.person.email].map((n) => n.toLowerCase()));
    // A group that no longer exists holds nobody.
    const members = await this.listAccess(spec.resource, spec.target).catch((err: unknown) => {
      if (err instanceof ProviderError && err.status === 404) return [];
      throw err;
    });
    const still = members.find((e) => names.has(e.principal.toLowerCase()) || (e.email !== undefined && names.has(e.email.toLowerCase())));
    if (still) throw new RevokeIneffectiveError(`Okta answered "not found" to removing ${oktaRefOf(spec.person)} from the group of ${spec.resource}, but still lists ${still.principal} as a member`, still.principal);
    return members;
  }

  async listAccess(resource: string, target: GrantTarget): Promise<AccessEntry[]> {
    const groupId = this.groupOf(target);
    // A failure mid-way restarts the listing: pages are cursor-based and cheap, a partial list is not.
    return this.call(`okta listGroupUsers ${groupId}`, async () => {
      const entries: AccessEntry[] = [];
      const members = await this.client.groupApi.listGroupUsers({ groupId, limit: this.pageSize });
      for await (const u of members) {
        if (!u) continue;
        const s = summarize(u);
        entries.push({ resource, principal: s.login || s.id, ...(s.email ? { email: s.email } : {}), person: s });
      }
      return entries;
    });
  }

  /**
   * Finds a person by Okta id or login (what GET /users/{id} accepts), then by primary email.
   * An email shared by several users resolves to the one not deprovisioned, else it is an error.
   */
  async lookupUser(ref: string): Promise<OktaUserSummary | undefined> {
    try {
      const u = await this.call('okta getUser', () => this.client.userApi.getUser({ userId: ref }));
      return summarize(u);
    } catch (err) {
      if (!(err instanceof ProviderError && err.status === 404)) throw err;
    }
    if (!ref.includes('@')) return undefined;
    const found = await this.call('okta listUsers', async () => {
      const out: OktaUserSummary[] = [];
      const users = await this.client.userApi.listUsers({ search: `profile.email eq ${searchLiteral(ref)}`, limit: this.pageSize });
      for await (const u of users) if (u) out.push(summarize(u));
      return out;
    });
    if (found.length <= 1) return found[0];
    const live = found.filter((u) => u.status !== 'DEPROVISIONED');
    if (live.length === 1) return live[0];
    // Guessing could grant to, or fail to revoke from, the wrong person.
    throw new ProviderError(
      `${found.length} Okta users have email ${ref} (${found.map((u) => u.login).join(', ')}); make the login unique or set it to the email`,
      false,
    );
  }

  /**
   * People Okta deactivated (DEPROVISIONED) or suspended whose status changed at or after `since`.
   * Okta's search cannot combine that filter with the time, so the time is applied here.
   */
  async listDeactivatedSince(since: Date): Promise<Array<OktaUserSummary & { statusChanged: Date }>> {
    return this.call('okta listUsers deactivated', async () => {
      const out: Array<OktaUserSummary & { statusChanged: Date }> = [];
      const users = await this.client.userApi.listUsers({ search: 'status eq "DEPROVISIONED" or status eq "SUSPENDED"', limit: this.pageSize });
      for await (const u of users) {
        if (!u?.statusChanged) continue;
        const changed = new Date(u.statusChanged);
        if (changed >= since) out.push({ ...summarize(u), statusChanged: changed });
      }
      return out;
    });
  }

  private groupOf(target: GrantTarget): string {
    if (!isOktaTarget(target)) throw new ProviderError(`okta provider cannot handle target kind ${target.kind}`, false);
    return target.groupId;
  }

  private call<T>(label: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, { ...DEFAULT_RETRY, retryAfterMs: oktaRetryAfterMs, ...this.retry, label });
  }
}
