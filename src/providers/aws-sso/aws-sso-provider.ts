import { IdentitystoreClient } from '@aws-sdk/client-identitystore';
import {
  CreateAccountAssignmentCommand,
  DeleteAccountAssignmentCommand,
  DescribeAccountAssignmentCreationStatusCommand,
  DescribeAccountAssignmentDeletionStatusCommand,
  DescribePermissionSetCommand,
  paginateListAccountAssignments,
  SSOAdminClient,
  type AccountAssignmentOperationStatus,
  type SSOAdminClientConfig,
} from '@aws-sdk/client-sso-admin';
import { ProviderError, RevokeIneffectiveError, systemClock, type AccessEntry, type AccessProvider, type Clock, type GrantSpec, type GrantTarget, type Person, type RevokeOutcome } from '../../ports.ts';
import { DEFAULT_RETRY, isTransientError, withRetry, type RetryOptions } from '../retry.ts';
import { endSsoSessions, type SessionDeny } from './end-sessions.ts';
import { awsCode, describeUser, findInstance, findUserId, isNotFound, type SsoInstance } from './identity-center.ts';
import { instanceOfPermissionSet, isAwsSsoTarget, type AwsSsoTarget } from './target.ts';

export interface AwsSsoProviderOptions {
  /** Identity Center is regional: the instance's region. Default us-east-1. */
  region?: string;
  /** Otherwise the SDK's own AWS_ENDPOINT_URL_SSO_ADMIN / AWS_ENDPOINT_URL_IDENTITYSTORE apply. */
  ssoAdminEndpoint?: string;
  identityStoreEndpoint?: string;
  /** Otherwise the SDK's default credential chain. */
  credentials?: NonNullable<SSOAdminClientConfig['credentials']>;
  /** Otherwise found with ListInstances. */
  instanceArn?: string;
  identityStoreId?: string;
  retry?: Partial<RetryOptions>;
  /** How long an assignment's creation or deletion is waited for before its outcome counts as unknown. */
  statusWaitMs?: number;
  requestTimeoutMs?: number;
  /** Parallel DescribeUser calls while listing. */
  listConcurrency?: number;
  /** The instant sessions are ended from: AWS compares it with its own clock, so real time unless a test says otherwise. */
  clock?: Clock;
}

/** One assignment of the permission set in the account, to a user. */
interface Holder {
  userId: string;
  entry: AccessEntry;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** SSO's ConflictException is another operation on the same assignment still running: it passes. */
const isTransientSso = (err: unknown) => isTransientError(err) || awsCode(err) === 'ConflictException';

/** No answer to the status polls within the wait: the change may still complete, so its outcome is unknown. */
class StatusWaitTimeout extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/**
 * IAM Identity Center account assignments (`aws_sso`): a permission set assigned to the person's
 * Identity Center user in one account. Creation and deletion run asynchronously at AWS; each call
 * waits for its status to succeed. Assigning what is assigned and removing what is gone succeed;
 * a removal AWS answers "not found" counts only when the assignment listing no longer shows it.
 */
export class AwsSsoProvider implements AccessProvider {
  readonly name = 'aws-sso';
  private readonly admin: SSOAdminClient;
  private readonly store: IdentitystoreClient;
  private instancePromise: Promise<SsoInstance> | undefined;
  /** One inline-policy edit at a time per permission set: two revokes at once would each overwrite the other's deny. */
  private readonly policyEdits = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: AwsSsoProviderOptions = {}) {
    const base = {
      region: opts.region ?? 'us-east-1',
      // withRetry is the one retry budget; the SDK's own 3 attempts would multiply it.
      maxAttempts: 1,
      requestHandler: { requestTimeout: opts.requestTimeoutMs ?? 15_000, connectionTimeout: 5_000 },
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
    };
    this.admin = new SSOAdminClient({ ...base, ...(opts.ssoAdminEndpoint ? { endpoint: opts.ssoAdminEndpoint } : {}) });
    this.store = new IdentitystoreClient({ ...base, ...(opts.identityStoreEndpoint ? { endpoint: opts.identityStoreEndpoint } : {}) });
  }

  supports(target: GrantTarget): boolean {
    return isAwsSsoTarget(target);
  }

  async grant(spec: GrantSpec): Promise<void> {
    const target = this.target(spec.target);
    const instance = await this.instance();
    const userId = await findUserId(this.store, this.call, instance.identityStoreId, spec.person);
    if (!userId) throw new ProviderError(this.unknownUser(spec.person, instance), false);
    const label = `${spec.resource} (permission set ${target.permissionSetArn} in account ${target.accountId}) for ${spec.person.principal ?? spec.person.email}`;
    try {
      const out = await this.call(`SSO CreateAccountAssignment ${label}`, () => this.admin.send(new CreateAccountAssignmentCommand(this.assignment(instance, target, userId))));
      const status = await this.waitFor('creation', instance, out.AccountAssignmentCreationStatus);
      if (status.Status === 'FAILED') throw new ProviderError(`IAM Identity Center could not assign ${label}: ${status.FailureReason ?? 'no reason given'}`, false);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      throw new ProviderError(`IAM Identity Center cannot assign ${label}: ${(err as Error).message}. Check permission_set_arn and account_id in access.yml`, false, undefined, { cause: err });
    }
  }

  async revoke(spec: GrantSpec): Promise<void | RevokeOutcome> {
    const target = this.target(spec.target);
    const instance = await this.instance();
    const userId = await findUserId(this.store, this.call, instance.identityStoreId, spec.person);
    if (!userId) return { listed: await this.confirmGone(spec, undefined, 'the identity store has no such user') };
    const label = `${spec.resource} (permission set ${target.permissionSetArn} in account ${target.accountId}) from ${spec.person.principal ?? spec.person.email}`;
    let failure: string | undefined;
    try {
      const out = await this.call(`SSO DeleteAccountAssignment ${label}`, () => this.admin.send(new DeleteAccountAssignmentCommand(this.assignment(instance, target, userId))));
      const status = await this.waitFor('deletion', instance, out.AccountAssignmentDeletionStatus);
      if (status.Status === 'FAILED') failure = `the deletion failed: ${status.FailureReason ?? 'no reason given'}`;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      failure = `AWS answered ResourceNotFoundException (${(err as Error).message})`;
    }
    // Neither answer says the access is gone: the listing does.
    const listed = failure ? await this.confirmGone(spec, userId, failure) : undefined;
    // The assignment is gone, but a role session opened before keeps working until it expires.
    if (!target.endSessions) return listed ? { listed } : undefined;
    const deny = await this.endSessionsOf(instance, target, userId);
    return {
      ...(listed ? { listed } : {}),
      sessionsEnded: {
        ended: null,
        effectiveAt: (this.opts.clock ?? systemClock).now(),
        method: `deny on sessions issued before ${deny.issuedBefore.toISOString()} in the permission set's inline policy, provisioned to account ${target.accountId}; lifted after ${deny.until.toISOString()}`,
      },
    };
  }

  /**
   * Ends the person's open sessions of this access (see session-deny.ts). Identity Center cannot
   * say how many there were: null. Throws when the person is not in the identity store.
   */
  async endSessions(spec: GrantSpec): Promise<null> {
    const target = this.target(spec.target);
    const instance = await this.instance();
    const userId = await findUserId(this.store, this.call, instance.identityStoreId, spec.person);
    if (!userId) throw new ProviderError(this.unknownUser(spec.person, instance), false);
    await this.endSessionsOf(instance, target, userId);
    return null;
  }

  private async endSessionsOf(instance: SsoInstance, target: AwsSsoTarget, userId: string): Promise<SessionDeny> {
    const key = target.permissionSetArn;
    const deps = { admin: this.admin, call: this.call, now: () => (this.opts.clock ?? systemClock).now(), sleep: this.opts.retry?.sleep ?? realSleep, statusWaitMs: this.opts.statusWaitMs ?? 60_000 };
    const edit = (this.policyEdits.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => endSsoSessions(deps, instance, target, userId));
    this.policyEdits.set(key, edit);
    try {
      return await edit;
    } finally {
      if (this.policyEdits.get(key) === edit) this.policyEdits.delete(key);
    }
  }

  async listAccess(resource: string, target: GrantTarget): Promise<AccessEntry[]> {
    return (await this.holders(resource, this.target(target))).map((h) => h.entry);
  }

  /**
   * Problems that stop the start: no usable instance, or a configured permission set that does not
   * exist in it. Transient failures are thrown (the caller logs them and starts anyway).
   */
  async setupProblems(resources: Array<{ name: string; target: AwsSsoTarget }>): Promise<string[]> {
    let instance: SsoInstance;
    try {
      instance = await this.instance();
    } catch (err) {
      if (err instanceof ProviderError && err.transient) throw err;
      return [`${(err as Error).message} (needed by ${resources.map((r) => r.name).join(', ')})`];
    }
    const problems: string[] = [];
    for (const { name, target } of resources) {
      const owner = instanceOfPermissionSet(target.permissionSetArn);
      if (owner !== instance.instanceArn) {
        problems.push(`resource ${name}: permission set ${target.permissionSetArn} belongs to instance ${owner}, but breakglass assigns in ${instance.instanceArn} (set AWS_SSO_INSTANCE_ARN)`);
        continue;
      }
      try {
        await this.call(`SSO DescribePermissionSet ${target.permissionSetArn}`, () =>
          this.admin.send(new DescribePermissionSetCommand({ InstanceArn: instance.instanceArn, PermissionSetArn: target.permissionSetArn })),
        );
      } catch (err) {
        if (err instanceof ProviderError && err.transient) throw err;
        problems.push(isNotFound(err) ? `resource ${name}: IAM Identity Center has no permission set ${target.permissionSetArn}` : `resource ${name}: ${(err as Error).message}`);
      }
    }
    return problems;
  }

  /** Releases the SDK clients' sockets. */
  destroy(): void {
    this.admin.destroy();
    this.store.destroy();
  }

  /** The instance, found once; a failed search is tried again on the next call. */
  instance(): Promise<SsoInstance> {
    if (!this.instancePromise) {
      const found = findInstance(this.admin, this.call, { instanceArn: this.opts.instanceArn, identityStoreId: this.opts.identityStoreId, region: this.opts.region ?? 'us-east-1' });
      found.catch(() => (this.instancePromise = undefined));
      this.instancePromise = found;
    }
    return this.instancePromise;
  }

  private async holders(resource: string, target: AwsSsoTarget): Promise<Holder[]> {
    const instance = await this.instance();
    const userIds = await this.call(`SSO ListAccountAssignments ${target.permissionSetArn} in ${target.accountId}`, async () => {
      const ids: string[] = [];
      const pages = paginateListAccountAssignments({ client: this.admin }, { InstanceArn: instance.instanceArn, AccountId: target.accountId, PermissionSetArn: target.permissionSetArn });
      // Group assignments are nobody's personal access: breakglass assigns users only.
      for await (const page of pages) for (const a of page.AccountAssignments ?? []) if (a.PrincipalType === 'USER' && a.PrincipalId) ids.push(a.PrincipalId);
      return [...new Set(ids)];
    });
    const users = await mapLimit(userIds, this.opts.listConcurrency ?? 8, (id) => describeUser(this.store, this.call, instance.identityStoreId, id));
    return users.map((u) => ({
      userId: u.userId,
      entry: { resource, principal: u.userName ?? u.userId, ...(u.email ? { email: u.email } : {}) },
    }));
  }

  /** After an answer that does not say the assignment is gone: the listing must not show the person. */
  private async confirmGone(spec: GrantSpec, userId: string | undefined, why: string): Promise<AccessEntry[]> {
    const names = new Set([spec.person.principal, spec.person.email].filter((n): n is string => Boolean(n)).map((n) => n.toLowerCase()));
    const holders = await this.holders(spec.resource, this.target(spec.target));
    const still = holders.find((h) => h.userId === userId || names.has(h.entry.principal.toLowerCase()) || (h.entry.email !== undefined && names.has(h.entry.email.toLowerCase())));
    if (still) {
      throw new RevokeIneffectiveError(`removing ${spec.person.principal ?? spec.person.email}'s access to ${spec.resource} at IAM Identity Center: ${why}, but the assignment listing still shows ${still.entry.principal} holding it`, still.entry.principal);
    }
    return holders.map((h) => h.entry);
  }

  /** Polls an assignment request until it is no longer IN_PROGRESS, within statusWaitMs. */
  private async waitFor(kind: 'creation' | 'deletion', instance: SsoInstance, initial: AccountAssignmentOperationStatus | undefined): Promise<AccountAssignmentOperationStatus> {
    let status = initial;
    const requestId = status?.RequestId;
    if (!status || !requestId) throw new ProviderError(`IAM Identity Center returned no request id for the assignment ${kind}`, true);
    const sleep = this.opts.retry?.sleep ?? realSleep;
    const budget = this.opts.statusWaitMs ?? 60_000;
    for (let waited = 0, delay = 250; status.Status === 'IN_PROGRESS'; delay = Math.min(delay * 2, 5_000)) {
      if (waited >= budget) {
        throw new ProviderError(`IAM Identity Center's assignment ${kind} ${requestId} was still in progress after ${Math.round(budget / 1000)} s`, true, undefined, {
          cause: new StatusWaitTimeout(`assignment ${kind} ${requestId} still IN_PROGRESS`),
        });
      }
      await sleep(delay);
      waited += delay;
      status = await this.describeStatus(kind, instance, requestId);
    }
    return status;
  }

  private async describeStatus(kind: 'creation' | 'deletion', instance: SsoInstance, requestId: string): Promise<AccountAssignmentOperationStatus> {
    if (kind === 'creation') {
      const out = await this.call(`SSO DescribeAccountAssignmentCreationStatus ${requestId}`, () =>
        this.admin.send(new DescribeAccountAssignmentCreationStatusCommand({ InstanceArn: instance.instanceArn, AccountAssignmentCreationRequestId: requestId })),
      );
      return out.AccountAssignmentCreationStatus ?? {};
    }
    const out = await this.call(`SSO DescribeAccountAssignmentDeletionStatus ${requestId}`, () =>
      this.admin.send(new DescribeAccountAssignmentDeletionStatusCommand({ InstanceArn: instance.instanceArn, AccountAssignmentDeletionRequestId: requestId })),
    );
    return out.AccountAssignmentDeletionStatus ?? {};
  }

  private assignment(instance: SsoInstance, target: AwsSsoTarget, userId: string) {
    return {
      InstanceArn: instance.instanceArn,
      TargetId: target.accountId,
      TargetType: 'AWS_ACCOUNT' as const,
      PermissionSetArn: target.permissionSetArn,
      PrincipalType: 'USER' as const,
      PrincipalId: userId,
    };
  }

  private unknownUser(person: Person, instance: SsoInstance): string {
    const who = person.slackUserId ?? '<their Slack user id>';
    if (person.principal !== undefined) {
      return `IAM Identity Center (identity store ${instance.identityStoreId}) has no user named ${person.principal}; correct aws_sso_user for ${who} under people: in access.yml`;
    }
    return `IAM Identity Center (identity store ${instance.identityStoreId}) has no user with the email ${person.email}; if they have another email there, add their Identity Center user name to access.yml: people: { ${who}: { aws_sso_user: <their user name> } }`;
  }

  private target(target: GrantTarget): AwsSsoTarget {
    if (!isAwsSsoTarget(target)) throw new ProviderError(`aws-sso provider cannot handle target kind ${target.kind}`, false);
    return target;
  }

  private readonly call = <T>(label: string, fn: () => Promise<T>): Promise<T> => withRetry(fn, { ...DEFAULT_RETRY, isTransient: isTransientSso, ...this.opts.retry, label });
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
