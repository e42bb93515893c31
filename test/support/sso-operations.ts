/**
 * What the local IAM Identity Center holds (instances, permission sets, identity-store users,
 * account assignments and their asynchronous requests) and what each operation does to it.
 * Requests reach here already checked against botocore's models (sso-server.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';

export class AwsJsonError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
const epoch = (d: Date) => d.getTime() / 1000;
const notFound = (message: string) => new AwsJsonError(400, 'ResourceNotFoundException', message);

export interface SsoInstanceRecord {
  instanceArn: string;
  identityStoreId: string;
  ownerAccountId: string;
  createdDate: Date;
}

export interface PermissionSetRecord {
  arn: string;
  name: string;
  instanceArn: string;
  /** ISO 8601 duration, as AWS stores it (PT1H by default). */
  sessionDuration: string;
  createdDate: Date;
  inlinePolicy?: string;
}

export interface IdentityStoreUser {
  userId: string;
  identityStoreId: string;
  userName: string;
  email?: string;
  displayName: string;
}

export interface Assignment {
  instanceArn: string;
  accountId: string;
  permissionSetArn: string;
  principalType: 'USER' | 'GROUP';
  principalId: string;
}

export interface AssignmentRequest {
  requestId: string;
  kind: 'creation' | 'deletion';
  assignment: Assignment;
  status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';
  failureReason?: string;
  pollsLeft: number;
  createdDate: Date;
}

export interface ProvisioningRequest {
  requestId: string;
  permissionSetArn: string;
  accountId: string;
  status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED';
  pollsLeft: number;
  createdDate: Date;
}

const keyOf = (a: Assignment) => [a.instanceArn, a.accountId, a.permissionSetArn, a.principalType, a.principalId].join('|');

/** The Identity Center of one organization, with helpers for tests to arrange and inspect it. */
export class SsoState {
  readonly instances: SsoInstanceRecord[] = [];
  readonly permissionSets = new Map<string, PermissionSetRecord>();
  readonly users = new Map<string, IdentityStoreUser>();
  readonly groups = new Set<string>();
  private readonly assigned = new Map<string, Assignment>();
  readonly assignmentRequests = new Map<string, AssignmentRequest>();
  readonly provisioningRequests = new Map<string, ProvisioningRequest>();
  /** The inline policy each account has, as last provisioned there: `<permission set ARN>|<account>`. */
  readonly provisioned = new Map<string, string | undefined>();
  private readonly provisioningFailures = new Set<{ predicate: (r: AssignmentRequest) => boolean; reason: string }>();
  maxPageSize: number;
  pollsBeforeDone: number;

  constructor(opts: { maxPageSize?: number; pollsBeforeDone?: number } = {}) {
    this.maxPageSize = opts.maxPageSize ?? 100;
    this.pollsBeforeDone = opts.pollsBeforeDone ?? 1;
    this.addInstance();
  }

  /** The first instance's ARN and identity store. */
  get instanceArn(): string {
    return this.instances[0]!.instanceArn;
  }
  get identityStoreId(): string {
    return this.instances[0]!.identityStoreId;
  }

  addInstance(): SsoInstanceRecord {
    const instance = { instanceArn: `arn:aws:sso:::instance/ssoins-${hex(16)}`, identityStoreId: `d-${hex(10)}`, ownerAccountId: '111111111111', createdDate: new Date('2024-01-02T03:04:05Z') };
    this.instances.push(instance);
    return instance;
  }

  /** A permission set in the (first) instance; returns its ARN. */
  addPermissionSet(name: string, opts: { sessionDuration?: string; instanceArn?: string } = {}): string {
    const instanceArn = opts.instanceArn ?? this.instanceArn;
    const arn = `arn:aws:sso:::permissionSet/${instanceArn.split('/').pop()}/ps-${hex(16)}`;
    this.permissionSets.set(arn, { arn, name, instanceArn, sessionDuration: opts.sessionDuration ?? 'PT1H', createdDate: new Date('2024-01-02T03:04:05Z') });
    return arn;
  }

  /** A user in the (first) identity store; returns its user id. */
  addUser(userName: string, opts: { email?: string; identityStoreId?: string } = {}): string {
    const userId = `${hex(10)}-${randomUUID()}`;
    this.users.set(userId, { userId, identityStoreId: opts.identityStoreId ?? this.identityStoreId, userName, displayName: userName, ...(opts.email ? { email: opts.email } : {}) });
    return userId;
  }

  deleteUser(userId: string): void {
    this.users.delete(userId);
  }

  userIdOf(userName: string): string | undefined {
    return [...this.users.values()].find((u) => u.userName.toLowerCase() === userName.toLowerCase())?.userId;
  }

  /** Arranges an assignment directly, as an administrator in the console would. */
  assign(accountId: string, permissionSetArn: string, principalId: string, principalType: 'USER' | 'GROUP' = 'USER'): void {
    const a: Assignment = { instanceArn: this.permissionSets.get(permissionSetArn)?.instanceArn ?? this.instanceArn, accountId, permissionSetArn, principalType, principalId };
    this.assigned.set(keyOf(a), a);
  }

  /** The assignments made (pending requests completed first, as AWS completes them within seconds). */
  assignments(filter: { accountId?: string; permissionSetArn?: string } = {}): Assignment[] {
    this.settle();
    return [...this.assigned.values()].filter((a) => (!filter.accountId || a.accountId === filter.accountId) && (!filter.permissionSetArn || a.permissionSetArn === filter.permissionSetArn));
  }

  /** The user ids holding the permission set in the account. */
  holders(accountId: string, permissionSetArn: string): string[] {
    return this.assignments({ accountId, permissionSetArn }).filter((a) => a.principalType === 'USER').map((a) => a.principalId);
  }

  /** Matching assignment requests end FAILED with this reason (as when the account's IAM role quota is used up). */
  failProvisioning(predicate: (r: AssignmentRequest) => boolean, reason: string): () => void {
    const entry = { predicate, reason };
    this.provisioningFailures.add(entry);
    return () => void this.provisioningFailures.delete(entry);
  }

  /** Completes every assignment request still in progress. */
  settle(): void {
    for (const r of this.assignmentRequests.values()) this.complete(r);
  }

  complete(r: AssignmentRequest): void {
    if (r.status !== 'IN_PROGRESS') return;
    const failure = [...this.provisioningFailures].find((f) => f.predicate(r));
    if (failure) {
      r.status = 'FAILED';
      r.failureReason = failure.reason;
      return;
    }
    if (r.kind === 'creation') this.assigned.set(keyOf(r.assignment), r.assignment);
    else this.assigned.delete(keyOf(r.assignment));
    r.status = 'SUCCEEDED';
  }

  /** Completes a permission set's provisioning to an account: the account's role gets the inline policy as it is now. */
  completeProvisioning(r: ProvisioningRequest): void {
    if (r.status !== 'IN_PROGRESS') return;
    this.provisioned.set(`${r.permissionSetArn}|${r.accountId}`, this.permissionSets.get(r.permissionSetArn)?.inlinePolicy);
    r.status = 'SUCCEEDED';
  }

  /**
   * Whether AWS would refuse a call made `at` with a role session of the permission set in the
   * account, issued to the user at `issuedAt`: a Deny in the inline policy provisioned there
   * whose conditions all hold (StringEquals and DateLessThan on the keys such a session carries).
   */
  refusesSession(args: { accountId: string; permissionSetArn: string; userId: string; issuedAt: Date; at: Date }): boolean {
    const text = this.provisioned.get(`${args.permissionSetArn}|${args.accountId}`);
    if (!text) return false;
    const keys: Record<string, string | number> = {
      'identitystore:userid': args.userId,
      'aws:principalaccount': args.accountId,
      'aws:tokenissuetime': args.issuedAt.getTime(),
      'aws:currenttime': args.at.getTime(),
    };
    const doc = JSON.parse(text) as { Statement: unknown };
    const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Array<{ Effect?: string; Condition?: Record<string, Record<string, unknown>> }>;
    return statements.some((s) => s.Effect === 'Deny' && Object.entries(s.Condition ?? {}).every(([op, block]) => Object.entries(block).every(([key, want]) => holds(op, keys[key.toLowerCase()], want))));
  }

  has(a: Assignment): boolean {
    return this.assigned.has(keyOf(a));
  }

  instance(arn: unknown): SsoInstanceRecord {
    const found = this.instances.find((i) => i.instanceArn === arn);
    if (!found) throw notFound(`Instance ${String(arn)} does not exist`);
    return found;
  }

  permissionSet(instanceArn: unknown, arn: unknown): PermissionSetRecord {
    const ps = this.permissionSets.get(String(arn));
    if (!ps || ps.instanceArn !== instanceArn) throw notFound(`Could not find PermissionSet with ARN ${String(arn)}`);
    return ps;
  }

  store(identityStoreId: unknown): string {
    if (!this.instances.some((i) => i.identityStoreId === identityStoreId)) throw notFound(`Identity store ${String(identityStoreId)} does not exist`);
    return String(identityStoreId);
  }
}

type Input = Record<string, unknown>;

/** One condition of a policy statement, for the operators breakglass writes; any other holds never. */
function holds(op: string, actual: string | number | undefined, want: unknown): boolean {
  if (actual === undefined) return false;
  const values = ([] as unknown[]).concat(want);
  if (op === 'StringEquals') return values.some((v) => v === actual);
  if (op === 'DateLessThan') return values.some((v) => typeof actual === 'number' && actual < Date.parse(String(v)));
  return false;
}

function startProvisioning(state: SsoState, input: Input): ProvisioningRequest {
  const instance = state.instance(input['InstanceArn']);
  const ps = state.permissionSet(instance.instanceArn, input['PermissionSetArn']);
  if (input['TargetType'] !== 'AWS_ACCOUNT' || typeof input['TargetId'] !== 'string') {
    throw new AwsJsonError(400, 'ValidationException', 'The test server provisions to one AWS_ACCOUNT at a time');
  }
  const r: ProvisioningRequest = { requestId: randomUUID(), permissionSetArn: ps.arn, accountId: input['TargetId'], status: 'IN_PROGRESS', pollsLeft: state.pollsBeforeDone, createdDate: new Date() };
  state.provisioningRequests.set(r.requestId, r);
  return r;
}

const provisioningOut = (r: ProvisioningRequest) => ({ Status: r.status, RequestId: r.requestId, AccountId: r.accountId, PermissionSetArn: r.permissionSetArn, CreatedDate: epoch(r.createdDate) });

function page<T>(items: T[], input: Input, cap: number): { items: T[]; NextToken?: string } {
  const token = input['NextToken'];
  const start = typeof token === 'string' && token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw new AwsJsonError(400, 'ValidationException', 'Invalid NextToken');
  const size = Math.min(typeof input['MaxResults'] === 'number' ? input['MaxResults'] : 100, cap);
  const next = start + size;
  return { items: items.slice(start, next), ...(next < items.length ? { NextToken: Buffer.from(String(next)).toString('base64url') } : {}) };
}

const statusOut = (r: AssignmentRequest) => ({
  Status: r.status,
  RequestId: r.requestId,
  ...(r.failureReason ? { FailureReason: r.failureReason } : {}),
  TargetId: r.assignment.accountId,
  TargetType: 'AWS_ACCOUNT',
  PermissionSetArn: r.assignment.permissionSetArn,
  PrincipalType: r.assignment.principalType,
  PrincipalId: r.assignment.principalId,
  CreatedDate: epoch(r.createdDate),
});

function startRequest(state: SsoState, kind: 'creation' | 'deletion', input: Input): AssignmentRequest {
  const instance = state.instance(input['InstanceArn']);
  state.permissionSet(instance.instanceArn, input['PermissionSetArn']);
  const assignment: Assignment = {
    instanceArn: instance.instanceArn,
    accountId: String(input['TargetId']),
    permissionSetArn: String(input['PermissionSetArn']),
    principalType: input['PrincipalType'] as 'USER' | 'GROUP',
    principalId: String(input['PrincipalId']),
  };
  state.settle();
  if (kind === 'creation') {
    const exists = assignment.principalType === 'USER' ? state.users.get(assignment.principalId)?.identityStoreId === instance.identityStoreId : state.groups.has(assignment.principalId);
    if (!exists) throw notFound(`${assignment.principalType === 'USER' ? 'User' : 'Group'} ${assignment.principalId} does not exist in identity store ${instance.identityStoreId}`);
  } else if (!state.has(assignment)) {
    throw notFound('The specified account assignment does not exist');
  }
  const request: AssignmentRequest = { requestId: randomUUID(), kind, assignment, status: 'IN_PROGRESS', pollsLeft: state.pollsBeforeDone, createdDate: new Date() };
  state.assignmentRequests.set(request.requestId, request);
  return request;
}

function describeRequest(state: SsoState, kind: 'creation' | 'deletion', input: Input, idKey: string): AssignmentRequest {
  state.instance(input['InstanceArn']);
  const r = state.assignmentRequests.get(String(input[idKey]));
  if (!r || r.kind !== kind || r.assignment.instanceArn !== input['InstanceArn']) throw notFound(`Request ${String(input[idKey])} does not exist`);
  if (r.pollsLeft > 0) r.pollsLeft--;
  else state.complete(r);
  return r;
}

/** SSO Admin (SWBExternalService) operations. */
export function ssoAdmin(state: SsoState, operation: string, input: Input): unknown {
  switch (operation) {
    case 'ListInstances': {
      const { items, NextToken } = page(state.instances, input, state.maxPageSize);
      return {
        Instances: items.map((i) => ({ InstanceArn: i.instanceArn, IdentityStoreId: i.identityStoreId, OwnerAccountId: i.ownerAccountId, CreatedDate: epoch(i.createdDate), Status: 'ACTIVE' })),
        ...(NextToken ? { NextToken } : {}),
      };
    }
    case 'DescribePermissionSet': {
      const ps = state.permissionSet(state.instance(input['InstanceArn']).instanceArn, input['PermissionSetArn']);
      return { PermissionSet: { Name: ps.name, PermissionSetArn: ps.arn, CreatedDate: epoch(ps.createdDate), SessionDuration: ps.sessionDuration } };
    }
    case 'CreateAccountAssignment':
      return { AccountAssignmentCreationStatus: statusOut(startRequest(state, 'creation', input)) };
    case 'DeleteAccountAssignment':
      return { AccountAssignmentDeletionStatus: statusOut(startRequest(state, 'deletion', input)) };
    case 'DescribeAccountAssignmentCreationStatus':
      return { AccountAssignmentCreationStatus: statusOut(describeRequest(state, 'creation', input, 'AccountAssignmentCreationRequestId')) };
    case 'DescribeAccountAssignmentDeletionStatus':
      return { AccountAssignmentDeletionStatus: statusOut(describeRequest(state, 'deletion', input, 'AccountAssignmentDeletionRequestId')) };
    case 'ListAccountAssignments': {
      const instance = state.instance(input['InstanceArn']);
      state.permissionSet(instance.instanceArn, input['PermissionSetArn']);
      const all = state.assignments({ accountId: String(input['AccountId']), permissionSetArn: String(input['PermissionSetArn']) }).filter((a) => a.instanceArn === instance.instanceArn);
      const { items, NextToken } = page(all, input, state.maxPageSize);
      return {
        AccountAssignments: items.map((a) => ({ AccountId: a.accountId, PermissionSetArn: a.permissionSetArn, PrincipalType: a.principalType, PrincipalId: a.principalId })),
        ...(NextToken ? { NextToken } : {}),
      };
    }
    case 'GetInlinePolicyForPermissionSet': {
      const ps = state.permissionSet(state.instance(input['InstanceArn']).instanceArn, input['PermissionSetArn']);
      return ps.inlinePolicy ? { InlinePolicy: ps.inlinePolicy } : {};
    }
    case 'PutInlinePolicyToPermissionSet': {
      const ps = state.permissionSet(state.instance(input['InstanceArn']).instanceArn, input['PermissionSetArn']);
      const text = String(input['InlinePolicy']);
      try {
        const doc = JSON.parse(text) as { Statement?: unknown };
        if (!doc.Statement) throw new Error('no Statement');
      } catch {
        throw new AwsJsonError(400, 'ValidationException', 'The inline policy is not a valid policy document');
      }
      ps.inlinePolicy = text;
      return {};
    }
    case 'ProvisionPermissionSet':
      return { PermissionSetProvisioningStatus: provisioningOut(startProvisioning(state, input)) };
    case 'DescribePermissionSetProvisioningStatus': {
      state.instance(input['InstanceArn']);
      const r = state.provisioningRequests.get(String(input['ProvisionPermissionSetRequestId']));
      if (!r) throw notFound(`Request ${String(input['ProvisionPermissionSetRequestId'])} does not exist`);
      if (r.pollsLeft > 0) r.pollsLeft--;
      else state.completeProvisioning(r);
      return { PermissionSetProvisioningStatus: provisioningOut(r) };
    }
    default:
      throw new AwsJsonError(400, 'ValidationException', `${operation} is valid SSO Admin but not implemented by the test server`);
  }
}

/** Identity Store (AWSIdentityStore) operations. */
export function identityStore(state: SsoState, operation: string, input: Input): unknown {
  const storeId = () => state.store(input['IdentityStoreId']);
  switch (operation) {
    case 'GetUserId': {
      const id = storeId();
      const unique = (input['AlternateIdentifier'] as { UniqueAttribute?: { AttributePath: string; AttributeValue: unknown } }).UniqueAttribute;
      if (!unique) throw new AwsJsonError(400, 'ValidationException', 'The test server looks users up by UniqueAttribute only');
      const path = unique.AttributePath;
      if (path !== 'userName' && path !== 'emails.value') throw new AwsJsonError(400, 'ValidationException', `Invalid attribute path ${path}: the only valid paths are userName and emails.value`);
      if (typeof unique.AttributeValue !== 'string') throw new AwsJsonError(400, 'ValidationException', 'AttributeValue must be a string');
      const wanted = unique.AttributeValue.toLowerCase();
      const user = [...state.users.values()].find((u) => u.identityStoreId === id && (path === 'userName' ? u.userName.toLowerCase() === wanted : u.email?.toLowerCase() === wanted));
      if (!user) throw notFound('USER not found.');
      return { IdentityStoreId: id, UserId: user.userId };
    }
    case 'DescribeUser': {
      const id = storeId();
      const user = state.users.get(String(input['UserId']));
      if (!user || user.identityStoreId !== id) throw notFound('USER not found.');
      return {
        IdentityStoreId: id,
        UserId: user.userId,
        UserName: user.userName,
        DisplayName: user.displayName,
        ...(user.email ? { Emails: [{ Value: user.email, Type: 'work', Primary: true }] } : {}),
      };
    }
    default:
      throw new AwsJsonError(400, 'ValidationException', `${operation} is valid Identity Store but not implemented by the test server`);
  }
}
