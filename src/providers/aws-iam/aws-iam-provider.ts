import {
  AddUserToGroupCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  GetUserCommand,
  IAMClient,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  paginateGetAccountAuthorizationDetails,
  paginateGetGroup,
  paginateListRolePolicies,
  type IAMClientConfig,
  type UserDetail,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { ProviderError, RevokeIneffectiveError, systemClock, type AccessEntry, type AccessProvider, type Clock, type GrantApplied, type GrantSpec, type GrantTarget, type Person, type RevokeOutcome, type SessionsEnded } from '../../ports.ts';
import { isAwsIamTarget, type AwsIamTarget } from './target.ts';
import {
  grantPolicyDocument,
  grantPolicyName,
  INLINE_USER_POLICY_LIMIT,
  MAX_ROLE_SESSION_MS,
  policySize,
  readGrantPolicy,
  roleNameOf,
  sessionDenyDocument,
  sessionDenyIssuedAt,
  sessionDenyName,
  sessionDenyTime,
} from './iam-policy.ts';
import { DEFAULT_RETRY, withRetry, type RetryOptions } from '../retry.ts';

export type AwsCredentials = NonNullable<IAMClientConfig['credentials']>;

export interface AwsIamProviderOptions {
  /** IAM is global; the region picks the partition and the STS endpoint. Default us-east-1. */
  region?: string;
  /** Otherwise the SDK's own AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL_STS apply. */
  iamEndpoint?: string;
  stsEndpoint?: string;
  /** Otherwise the SDK's default credential chain. */
  credentials?: AwsCredentials;
  retry?: Partial<RetryOptions>;
  clock?: Clock;
  roleSessionName?: string;
  roleSessionSeconds?: number;
  /** Assumed-role credentials are replaced this long before they expire. */
  refreshMarginMs?: number;
  requestTimeoutMs?: number;
  /**
   * How long one account's user listing (GetAccountAuthorizationDetails) serves further listings,
   * so a drift pass over many resources reads the account once. Any grant or revoke made here
   * discards it at once. Default 5 s.
   */
  listingTtlMs?: number;
}

interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  obtainedAt: Date;
}

/** The IAM user name: the one a listing reported or access.yml `people:` gave, else the email. */
export const iamUserOf = (person: Person): string => person.principal ?? person.email;

/** A person with no IAM user of that name: the message names the access.yml override that maps them. */
function unknownIamUser(person: Person): string {
  const who = person.slackUserId ?? '<their Slack user id>';
  const name = iamUserOf(person);
  if (person.principal !== undefined) return `IAM has no user named ${name}; correct aws_iam_user for ${who} under people: in access.yml`;
  return `IAM has no user named ${name} (their email); if their IAM user has another name, add it to access.yml: people: { ${who}: { aws_iam_user: <their IAM user name> } }`;
}

function awsCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && typeof e === 'object' && i < 3; i++) {
    const rec = e as { name?: unknown; Code?: unknown; cause?: unknown };
    if (typeof rec.Code === 'string') return rec.Code;
    if (typeof rec.name === 'string' && rec.name !== 'Error' && rec.name !== 'ProviderError') return rec.name;
    e = rec.cause;
  }
  return undefined;
}

const isNoSuchEntity = (err: unknown) => {
  const code = awsCode(err);
  return code === 'NoSuchEntity' || code === 'NoSuchEntityException';
};
const isLimitExceeded = (err: unknown) => {
  const code = awsCode(err);
  return code === 'LimitExceeded' || code === 'LimitExceededException';
};

/**
 * AWS IAM access: group membership (`aws_iam_group`) and an inline user policy
 * `breakglass-<resource>` (`aws_iam_policy`) whose statements all end at the expiry by
 * themselves. Adding a member twice, replacing the policy and removing what is already gone
 * succeed. With `accountRoleArn` the calls run in that account under an assumed role.
 */
export class AwsIamProvider implements AccessProvider {
  readonly name = 'aws-iam';
  private readonly opts: AwsIamProviderOptions;
  private readonly clock: Clock;
  private readonly sts: STSClient;
  private readonly iamClients = new Map<string, IAMClient>();
  private readonly roleCredentials = new Map<string, Promise<TemporaryCredentials>>();
  /** Per account (its role ARN, '' for the bot's own): the users with their inline policies and groups. */
  private readonly userListings = new Map<string, { at: number; users: Promise<UserDetail[]> }>();

  constructor(options: AwsIamProviderOptions = {}) {
    this.opts = options;
    this.clock = options.clock ?? systemClock;
    this.sts = new STSClient({
      ...this.baseConfig(),
      ...(options.stsEndpoint ? { endpoint: options.stsEndpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
  }

  supports(target: GrantTarget): boolean {
    return isAwsIamTarget(target);
  }

  async grant(spec: GrantSpec): Promise<void | GrantApplied> {
    const target = this.awsTarget(spec.target);
    const userName = iamUserOf(spec.person);
    try {
      await this.changing(target.accountRoleArn, () => this.put(spec));
    } catch (err) {
      if (!isNoSuchEntity(err) || !(await this.userMissing(target, userName))) throw err;
      throw new ProviderError(unknownIamUser(spec.person), false, 404, { cause: err });
    }
    return this.userIdOf(target, userName);
  }

  /** True only when IAM says the user does not exist; any other answer keeps the grant's own error. */
  private async userMissing(target: AwsIamTarget, userName: string): Promise<boolean> {
    const iam = this.iamFor(target.accountRoleArn);
    return iam.send(new GetUserCommand({ UserName: userName })).then(() => false, isNoSuchEntity);
  }

  /**
   * The user's UserId (AIDA…), which a rename keeps: revokes and listings find the user by it. The
   * grant is done whether or not this answers; without it the user is matched by name as before.
   */
  private async userIdOf(target: AwsIamTarget, userName: string): Promise<GrantApplied | undefined> {
    const iam = this.iamFor(target.accountRoleArn);
    try {
      const out = await this.call(`IAM GetUser ${userName}`, () => iam.send(new GetUserCommand({ UserName: userName })));
      return out.User?.UserId ? { principalId: out.User.UserId } : undefined;
    } catch {
      return undefined;
    }
  }

  private async put(spec: GrantSpec): Promise<void> {
    const target = this.awsTarget(spec.target);
    const iam = this.iamFor(target.accountRoleArn);
    const userName = iamUserOf(spec.person);
    if (target.kind === 'aws_iam_group') {
      await this.call(`IAM AddUserToGroup ${target.groupName} ${userName}`, () =>
        iam.send(new AddUserToGroupCommand({ GroupName: target.groupName, UserName: userName })),
      );
      return;
    }
    if (spec.expiresAt.getTime() <= this.clock.now().getTime()) {
      throw new ProviderError(`grant ${spec.grantId} expires in the past (${spec.expiresAt.toISOString()}); nothing to grant`, false);
    }
    const policyName = grantPolicyName(spec.resource);
    let document: string;
    try {
      document = JSON.stringify(grantPolicyDocument({ grantId: spec.grantId, policy: target.policy, expiresAt: spec.expiresAt }));
    } catch (err) {
      throw new ProviderError(`resource ${spec.resource}: ${(err as Error).message}`, false, undefined, { cause: err });
    }
    const size = policySize(document);
    if (size > INLINE_USER_POLICY_LIMIT) {
      throw new ProviderError(
        `the inline policy for ${spec.resource} is ${size} characters with its expiry conditions; IAM allows ${INLINE_USER_POLICY_LIMIT} per user across all inline policies. Shorten the aws_iam_policy in access.yml or use aws_iam_group`,
        false,
      );
    }
    try {
      await this.call(`IAM PutUserPolicy ${policyName} ${userName}`, () =>
        iam.send(new PutUserPolicyCommand({ UserName: userName, PolicyName: policyName, PolicyDocument: document })),
      );
    } catch (err) {
      if (!isLimitExceeded(err)) throw err;
      throw new ProviderError(
        `IAM user ${userName} would exceed the ${INLINE_USER_POLICY_LIMIT}-character inline policy limit with ${policyName} (${size} characters; the user's other inline policies count too): ${(err as Error).message}`,
        false,
        409,
        { cause: err },
      );
    }
  }

  async revoke(spec: GrantSpec): Promise<void | RevokeOutcome> {
    const target = this.awsTarget(spec.target);
    const listed = await this.changing(target.accountRoleArn, () => this.remove(spec));
    // After the access is gone, so a session opened in between is older than the deny too.
    const sessionsEnded = target.sessionRoleArn && target.endSessions ? await this.endRoleSessions(target, iamUserOf(spec.person)) : undefined;
    if (listed || sessionsEnded) return { ...(listed ? { listed } : {}), ...(sessionsEnded ? { sessionsEnded } : {}) };
  }

  /**
   * AWS's "revoke older sessions" for one person: a deny on the session role for their sessions
   * issued before now. Denies older than any session can live are lifted first, keeping the role
   * within its inline policy budget; that housekeeping failing does not fail the revoke.
   */
  private async endRoleSessions(target: AwsIamTarget, userName: string): Promise<SessionsEnded> {
    const iam = this.iamFor(target.accountRoleArn);
    const roleName = roleNameOf(target.sessionRoleArn!);
    const at = this.clock.now();
    await this.liftOldDenies(iam, roleName, at).catch(() => undefined);
    const policyName = sessionDenyName(userName, at);
    try {
      await this.call(`IAM PutRolePolicy ${policyName} ${roleName}`, () =>
        iam.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(sessionDenyDocument(userName, at)) })),
      );
    } catch (err) {
      if (!isLimitExceeded(err)) throw err;
      throw new ProviderError(`role ${roleName}'s inline policies are full (10,240 characters), so ${userName}'s older sessions could not be denied: ${(err as Error).message}`, false, 409, { cause: err });
    }
    return { ended: null, effectiveAt: sessionDenyTime(at), method: `aws:TokenIssueTime deny on role ${roleName}` };
  }

  private async liftOldDenies(iam: IAMClient, roleName: string, now: Date): Promise<void> {
    const names = await this.call(`IAM ListRolePolicies ${roleName}`, async () => {
      const out: string[] = [];
      for await (const page of paginateListRolePolicies({ client: iam }, { RoleName: roleName })) out.push(...(page.PolicyNames ?? []));
      return out;
    });
    for (const name of names) {
      const issued = sessionDenyIssuedAt(name);
      if (!issued || now.getTime() - issued.getTime() <= MAX_ROLE_SESSION_MS) continue;
      await this.call(`IAM DeleteRolePolicy ${name} ${roleName}`, () => iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: name })));
    }
  }

  /** The listing that confirmed a NoSuchEntity, when one was taken after the last change. */
  private async remove(spec: GrantSpec, userName = iamUserOf(spec.person)): Promise<AccessEntry[] | undefined> {
    const target = this.awsTarget(spec.target);
    const iam = this.iamFor(target.accountRoleArn);
    try {
      if (target.kind === 'aws_iam_group') {
        await this.call(`IAM RemoveUserFromGroup ${target.groupName} ${userName}`, () =>
          iam.send(new RemoveUserFromGroupCommand({ GroupName: target.groupName, UserName: userName })),
        );
      } else {
        const policyName = grantPolicyName(spec.resource);
        await this.call(`IAM DeleteUserPolicy ${policyName} ${userName}`, () =>
          iam.send(new DeleteUserPolicyCommand({ UserName: userName, PolicyName: policyName })),
        );
      }
    } catch (err) {
      if (!isNoSuchEntity(err)) throw err;
      // "Not found" is not "gone": a user renamed while holding the access keeps it under the new name.
      return this.confirmGone(spec, userName);
    }
    return undefined;
  }

  /**
   * After a NoSuchEntity on revoke: the listing must no longer show the user (by UserId, which a
   * rename keeps, or by name), nor (inline policies) this grant's policy. A user found under another
   * name was renamed: the access is removed under that name, then the listing must not show it.
   */
  private async confirmGone(spec: GrantSpec, userName: string): Promise<AccessEntry[] | undefined> {
    const { still, listed } = await this.stillListed(spec, userName);
    // The listing was taken before this removal, so it is not the last word on what is left.
    if (still && still.principal.toLowerCase() !== userName.toLowerCase()) return this.remove(spec, still.principal);
    if (still) {
      throw new RevokeIneffectiveError(`IAM answered NoSuchEntity to removing ${userName}'s access to ${spec.resource}, but still lists ${still.principal} holding it`, still.principal);
    }
    return listed;
  }

  private async stillListed(spec: GrantSpec, userName: string): Promise<{ still: AccessEntry | undefined; listed: AccessEntry[] }> {
    const lower = userName.toLowerCase();
    const userId = spec.person.principalId;
    // A group that no longer exists holds nobody.
    const listed = await this.listAccess(spec.resource, spec.target).catch((err: unknown) => {
      if (isNoSuchEntity(err)) return [];
      throw err;
    });
    return { still: listed.find((e) => (userId !== undefined && e.principalId === userId) || e.principal.toLowerCase() === lower || e.grantId === spec.grantId), listed };
  }

  async listAccess(resource: string, target: GrantTarget): Promise<AccessEntry[]> {
    const t = this.awsTarget(target);
    const iam = this.iamFor(t.accountRoleArn);
    const entry = (userName: string, userId: string | undefined, grantId?: string): AccessEntry => ({
      resource,
      principal: userName,
      ...(userId ? { principalId: userId } : {}),
      ...(userName.includes('@') ? { email: userName } : {}),
      ...(grantId !== undefined ? { grantId } : {}),
    });
    if (t.kind === 'aws_iam_group') {
      return this.call(`IAM GetGroup ${t.groupName}`, async () => {
        const out: AccessEntry[] = [];
        for await (const page of paginateGetGroup({ client: iam }, { GroupName: t.groupName })) {
          for (const u of page.Users ?? []) if (u.UserName) out.push(entry(u.UserName, u.UserId));
        }
        return out;
      });
    }
    const policyName = grantPolicyName(resource);
    const users = await this.usersOf(t.accountRoleArn);
    return users.flatMap((u) => {
      const policy = u.UserPolicyList?.find((p) => p.PolicyName === policyName);
      if (!u.UserName || !policy) return [];
      // IAM hands policy documents back URL-encoded.
      return [entry(u.UserName, u.UserId, readGrantPolicy(policy.PolicyDocument ? decodeURIComponent(policy.PolicyDocument) : '').grantId)];
    });
  }

  /**
   * Every user of the account with its inline policies and groups, in a few paged calls
   * (GetAccountAuthorizationDetails, up to 1,000 users a page) rather than calls per user; shared
   * by the listings of a drift pass or review (see listingTtlMs).
   */
  private usersOf(accountRoleArn: string | undefined): Promise<UserDetail[]> {
    const key = accountRoleArn ?? '';
    const cached = this.userListings.get(key);
    if (cached && performance.now() - cached.at < (this.opts.listingTtlMs ?? 5000)) return cached.users;
    const iam = this.iamFor(accountRoleArn);
    const users = this.call('IAM GetAccountAuthorizationDetails', async () => {
      const out: UserDetail[] = [];
      for await (const page of paginateGetAccountAuthorizationDetails({ client: iam, pageSize: 1000 }, { Filter: ['User'] })) out.push(...(page.UserDetailList ?? []));
      return out;
    });
    const listing = { at: performance.now(), users };
    this.userListings.set(key, listing);
    users.catch(() => {
      if (this.userListings.get(key) === listing) this.userListings.delete(key);
    });
    return users;
  }

  /** A change made here: listings from before it no longer say what the account holds. */
  private async changing<T>(accountRoleArn: string | undefined, fn: () => Promise<T>): Promise<T> {
    this.userListings.delete(accountRoleArn ?? '');
    try {
      return await fn();
    } finally {
      this.userListings.delete(accountRoleArn ?? '');
    }
  }

  /** Who the configured credentials are; fails with "AWS credentials not usable: …" when they aren't. */
  async checkIdentity(): Promise<{ account: string; arn: string; userId: string }> {
    try {
      const id = await this.call('STS GetCallerIdentity', () => this.sts.send(new GetCallerIdentityCommand({})));
      return { account: id.Account ?? '', arn: id.Arn ?? '', userId: id.UserId ?? '' };
    } catch (err) {
      const cause = err instanceof ProviderError && err.cause instanceof Error ? err.cause : err;
      const message = cause instanceof Error ? cause.message : String(cause);
      const transient = err instanceof ProviderError ? err.transient : false;
      const status = err instanceof ProviderError ? err.status : undefined;
      throw new ProviderError(`AWS credentials not usable: ${message}`, transient, status, { cause: err });
    }
  }

  /** Releases the SDK clients' sockets. */
  destroy(): void {
    this.sts.destroy();
    for (const c of this.iamClients.values()) c.destroy();
    this.iamClients.clear();
  }

  private baseConfig() {
    return {
      region: this.opts.region ?? 'us-east-1',
      // withRetry is the one retry budget; the SDK's own 3 attempts would multiply it.
      maxAttempts: 1,
      requestHandler: { requestTimeout: this.opts.requestTimeoutMs ?? 15_000, connectionTimeout: 5_000 },
    };
  }

  private iamFor(roleArn: string | undefined): IAMClient {
    const key = roleArn ?? '';
    let client = this.iamClients.get(key);
    if (!client) {
      const credentials = roleArn ? () => this.assumedCredentials(roleArn) : this.opts.credentials;
      client = new IAMClient({
        ...this.baseConfig(),
        ...(this.opts.iamEndpoint ? { endpoint: this.opts.iamEndpoint } : {}),
        ...(credentials ? { credentials } : {}),
      });
      this.iamClients.set(key, client);
    }
    return client;
  }

  /**
   * Cached per role until `refreshMarginMs` before expiry (half their life, for short sessions:
   * the SDK asks again on every request once credentials are within its own 5-minute window).
   * Concurrent callers share one AssumeRole.
   */
  private async assumedCredentials(roleArn: string): Promise<TemporaryCredentials> {
    const cached = this.roleCredentials.get(roleArn);
    if (cached) {
      const creds = await cached.catch(() => undefined);
      if (creds && this.stillFresh(creds)) return creds;
      const current = this.roleCredentials.get(roleArn);
      if (current && current !== cached) return current;
    }
    const fresh = this.assumeRole(roleArn);
    this.roleCredentials.set(roleArn, fresh);
    fresh.catch(() => {
      if (this.roleCredentials.get(roleArn) === fresh) this.roleCredentials.delete(roleArn);
    });
    return fresh;
  }

  private stillFresh(creds: TemporaryCredentials): boolean {
    const lifetime = creds.expiration.getTime() - creds.obtainedAt.getTime();
    const margin = Math.min(this.opts.refreshMarginMs ?? 5 * 60_000, lifetime / 2);
    return creds.expiration.getTime() - margin > this.clock.now().getTime();
  }

  private async assumeRole(roleArn: string): Promise<TemporaryCredentials> {
    const obtainedAt = this.clock.now();
    const out = await this.call(`STS AssumeRole ${roleArn}`, () =>
      this.sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: this.opts.roleSessionName ?? 'breakglass',
          DurationSeconds: this.opts.roleSessionSeconds ?? 3600,
        }),
      ),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new ProviderError(`STS AssumeRole ${roleArn} returned no credentials`, true);
    }
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration, obtainedAt };
  }

  private awsTarget(target: GrantTarget): AwsIamTarget {
    if (!isAwsIamTarget(target)) throw new ProviderError(`aws-iam provider cannot handle target kind ${target.kind}`, false);
    return target;
  }

  private call<T>(label: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(fn, { ...DEFAULT_RETRY, ...this.opts.retry, label });
  }
}
