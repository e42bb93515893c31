/**
 * A local AWS IAM + STS endpoint speaking the Query protocol (form-encoded `Action=…`, XML
 * answers), so the real @aws-sdk clients can be tested on the wire. Requests are SigV4-verified
 * against the keys the server knows; each caller acts on the account its key belongs to, which is
 * how assumed-role calls land in a second account. Validation follows the botocore model.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { peersPath } from './slack-requests.ts';
import { expectedSignature, parseAuthorization, rfc3986 } from './aws-sigv4.ts';

const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const IAM_VERSION = '2010-05-08';
const STS_VERSION = '2011-06-15';
/** AWS counts inline user policies together, whitespace excluded. */
export const INLINE_USER_POLICY_LIMIT = 2048;

export const DEFAULT_ACCOUNT_ID = '111111111111';
export const DEFAULT_ACCESS_KEY = { accessKeyId: 'AKIABREAKGLASSTEST01', secretAccessKey: 'test-secret-key-for-breakglass' };

export type AwsService = 'iam' | 'sts';

export interface IamRecordedRequest {
  service: AwsService | 'unknown';
  action: string;
  params: Record<string, string>;
  accessKeyId?: string;
  sessionToken?: string;
  /** Account the caller acted in (the assumed role's account for temporary credentials). */
  account?: string;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  at: Date;
  /** Filled once answered. */
  status?: number;
  errorCode?: string;
}

export interface FailureSpec {
  status: number;
  code: string;
  message?: string;
}

export interface IamUserRecord {
  UserName: string;
  UserId: string;
  Arn: string;
  Path: string;
  CreateDate: Date;
  /** Inline policies: name → document exactly as PutUserPolicy sent it. */
  policies: Map<string, string>;
}

export interface IamRoleRecord {
  RoleName: string;
  RoleId: string;
  Arn: string;
  Path: string;
  CreateDate: Date;
  MaxSessionDuration: number;
  /** Inline policies: name → document exactly as PutRolePolicy sent it. */
  policies: Map<string, string>;
}

/** IAM's limit on all inline policies of one role together, whitespace excluded. */
export const INLINE_ROLE_POLICY_LIMIT = 10240;

export interface IamGroupRecord {
  GroupName: string;
  GroupId: string;
  Arn: string;
  Path: string;
  CreateDate: Date;
  members: string[];
}

interface Principal {
  secret: string;
  account: string;
  arn: string;
  userId: string;
  sessionToken?: string;
  expiration?: Date;
  /** A role session: its role's name and when STS issued it (aws:TokenIssueTime). */
  role?: { name: string; issuedAt: Date };
}

interface RoleRecord {
  arn: string;
  account: string;
  sessionSeconds?: number;
  allowedCallers?: string[];
}

class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function awsId(prefix: string): string {
  return prefix + randomBytes(9).toString('hex').toUpperCase().slice(0, 17);
}

/** One AWS account's IAM directory, with helpers for tests to arrange and inspect it. */
export class IamAccount {
  readonly users = new Map<string, IamUserRecord>();
  readonly groups = new Map<string, IamGroupRecord>();
  /** IAM roles of the account, for their inline policies (AssumeRole is the server's addRole). */
  readonly roles = new Map<string, IamRoleRecord>();

  constructor(readonly id: string) {}

  addIamRole(name: string, opts: { maxSessionDuration?: number } = {}): IamRoleRecord {
    const existing = this.roles.get(name);
    if (existing) return existing;
    const role: IamRoleRecord = {
      RoleName: name,
      RoleId: awsId('AROA'),
      Arn: `arn:aws:iam::${this.id}:role/${name}`,
      Path: '/',
      CreateDate: new Date('2024-01-02T03:04:05Z'),
      MaxSessionDuration: opts.maxSessionDuration ?? 3600,
      policies: new Map(),
    };
    this.roles.set(name, role);
    return role;
  }

  rolePolicy(roleName: string, policyName: string): { Version?: string; Statement: Array<Record<string, unknown>> } | undefined {
    const raw = this.roles.get(roleName)?.policies.get(policyName);
    return raw === undefined ? undefined : JSON.parse(raw);
  }

  rolePolicyNames(roleName: string): string[] {
    return [...(this.roles.get(roleName)?.policies.keys() ?? [])];
  }

  addUser(name: string, opts: { path?: string; createDate?: Date } = {}): IamUserRecord {
    const existing = this.users.get(name);
    if (existing) return existing;
    const path = opts.path ?? '/';
    const user: IamUserRecord = {
      UserName: name,
      UserId: awsId('AIDA'),
      Arn: `arn:aws:iam::${this.id}:user${path}${name}`,
      Path: path,
      CreateDate: opts.createDate ?? new Date('2024-01-02T03:04:05Z'),
      policies: new Map(),
    };
    this.users.set(name, user);
    return user;
  }

  addGroup(name: string, opts: { path?: string; members?: string[] } = {}): IamGroupRecord {
    const path = opts.path ?? '/';
    const group: IamGroupRecord = this.groups.get(name) ?? {
      GroupName: name,
      GroupId: awsId('AGPA'),
      Arn: `arn:aws:iam::${this.id}:group${path}${name}`,
      Path: path,
      CreateDate: new Date('2024-01-02T03:04:05Z'),
      members: [],
    };
    this.groups.set(name, group);
    for (const m of opts.members ?? []) this.addToGroup(name, m);
    return group;
  }

  addToGroup(groupName: string, userName: string): void {
    const group = this.groups.get(groupName) ?? this.addGroup(groupName);
    this.addUser(userName);
    if (!group.members.includes(userName)) group.members.push(userName);
  }

  /** IAM UpdateUser with NewUserName: the user keeps its id, its group memberships and its inline policies under the new name. */
  renameUser(from: string, to: string): void {
    const user = this.users.get(from);
    if (!user) throw new Error(`no IAM user ${from}`);
    this.users.delete(from);
    this.users.set(to, { ...user, UserName: to, Arn: user.Arn.replace(/[^/]+$/, to) });
    for (const g of this.groups.values()) g.members = g.members.map((m) => (m === from ? to : m));
  }

  /** A membership removed by hand at the provider, outside breakglass. */
  removeFromGroup(groupName: string, userName: string): void {
    const group = this.groups.get(groupName);
    if (group) group.members = group.members.filter((m) => m !== userName);
  }

  isMember(groupName: string, userName: string): boolean {
    return this.groups.get(groupName)?.members.includes(userName) ?? false;
  }

  members(groupName: string): string[] {
    return [...(this.groups.get(groupName)?.members ?? [])];
  }

  /** The inline policy document as stored (the exact JSON text PutUserPolicy sent). */
  rawUserPolicy(userName: string, policyName: string): string | undefined {
    return this.users.get(userName)?.policies.get(policyName);
  }

  userPolicy(userName: string, policyName: string): { Version?: string; Statement: Array<Record<string, unknown>> } | undefined {
    const raw = this.rawUserPolicy(userName, policyName);
    return raw === undefined ? undefined : JSON.parse(raw);
  }

  userPolicyNames(userName: string): string[] {
    return [...(this.users.get(userName)?.policies.keys() ?? [])];
  }

  /** Arrange an inline policy directly, e.g. one nobody granted through breakglass. */
  putUserPolicy(userName: string, policyName: string, document: unknown): void {
    this.addUser(userName).policies.set(policyName, typeof document === 'string' ? document : JSON.stringify(document));
  }

  inlinePolicySize(userName: string, replacing?: { name: string; document: string }): number {
    const docs = new Map(this.users.get(userName)?.policies ?? []);
    if (replacing) docs.set(replacing.name, replacing.document);
    let total = 0;
    for (const d of docs.values()) total += d.replace(/\s/g, '').length;
    return total;
  }
}

// ---------------------------------------------------------------------------------------------
// botocore model: action names, required members and string constraints

interface ModelShape {
  type: string;
  required?: string[];
  members?: Record<string, { shape: string }>;
  member?: { shape: string };
  enum?: string[];
  min?: number;
  max?: number;
  pattern?: string;
}
interface IamModel {
  operations: Record<string, { input?: { shape: string } }>;
  shapes: Record<string, ModelShape>;
}

let cachedModel: IamModel | undefined;
/** botocore's IAM service model (test/peers, or IAM_SERVICE_MODEL): what AWS itself checks a request against. */
export function loadIamModel(path = process.env['IAM_SERVICE_MODEL'] ?? peersPath('iam', 'service-2.json')): IamModel {
  cachedModel ??= JSON.parse(readFileSync(path, 'utf8')) as IamModel;
  return cachedModel;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function validateIamRequest(action: string, params: Record<string, string>): void {
  const model = loadIamModel();
  const op = model.operations[action];
  if (!op) throw new AwsError(400, 'InvalidAction', `Could not find operation ${action} for version ${IAM_VERSION}`);
  if (!op.input) return;
  const input = model.shapes[op.input.shape];
  const problems: string[] = [];
  for (const m of input?.required ?? []) {
    if (params[m] === undefined) problems.push(`Value null at '${lowerFirst(m)}' failed to satisfy constraint: Member must not be null`);
  }
  for (const [name, ref] of Object.entries(input?.members ?? {})) {
    const listShape = model.shapes[ref.shape];
    // Query lists arrive as Name.member.1, Name.member.2, …: each is checked against the member shape.
    if (listShape?.type === 'list' && listShape.member) {
      for (const [key, value] of Object.entries(params)) {
        const m = key.match(/^(.+)\.member\.(\d+)$/);
        if (m?.[1] !== name) continue;
        problems.push(...stringProblems(model.shapes[listShape.member.shape], `Value '${value}' at '${lowerFirst(name)}.${m[2]}.member'`, value));
      }
      continue;
    }
    const value = params[name];
    const shape = model.shapes[ref.shape];
    if (value === undefined || !shape) continue;
    const at = `Value '${value}' at '${lowerFirst(name)}'`;
    if (shape.type === 'string') {
      problems.push(...stringProblems(shape, at, value));
    } else if (shape.type === 'integer') {
      const n = Number(value);
      if (!Number.isInteger(n)) problems.push(`${at} failed to satisfy constraint: Member must be an integer`);
      else if ((shape.min !== undefined && n < shape.min) || (shape.max !== undefined && n > shape.max)) {
        problems.push(`${at} failed to satisfy constraint: Member must have value between ${shape.min} and ${shape.max}`);
      }
    }
  }
  if (problems.length) throw validationError(problems);
}

function stringProblems(shape: ModelShape | undefined, at: string, value: string): string[] {
  if (shape?.type !== 'string') return [];
  const problems: string[] = [];
  if (shape.enum && !shape.enum.includes(value)) problems.push(`${at} failed to satisfy constraint: Member must satisfy enum value set: [${shape.enum.join(', ')}]`);
  if (shape.min !== undefined && value.length < shape.min) problems.push(`${at} failed to satisfy constraint: Member must have length greater than or equal to ${shape.min}`);
  if (shape.max !== undefined && value.length > shape.max) problems.push(`${at} failed to satisfy constraint: Member must have length less than or equal to ${shape.max}`);
  if (shape.pattern && !matchesJavaPattern(shape.pattern, value)) problems.push(`${at} failed to satisfy constraint: Member must satisfy regular expression pattern: ${shape.pattern}`);
  return problems;
}

function matchesJavaPattern(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`, 'su').test(value);
  } catch {
    return true;
  }
}

function validationError(problems: string[]): AwsError {
  const n = problems.length;
  return new AwsError(400, 'ValidationError', `${n} validation error${n === 1 ? '' : 's'} detected: ${problems.join('; ')}`);
}

// ---------------------------------------------------------------------------------------------
// SigV4 verification


// ---------------------------------------------------------------------------------------------
// XML

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

type Xml = string | number | boolean | Date | undefined | XmlNode[];
type XmlNode = [string, Xml];

function xml(nodes: XmlNode[]): string {
  return nodes
    .filter(([, v]) => v !== undefined)
    .map(([name, v]) => {
      const inner = Array.isArray(v) ? xml(v) : v instanceof Date ? v.toISOString().replace(/\.\d{3}Z$/, 'Z') : esc(String(v));
      return `<${name}>${inner}</${name}>`;
    })
    .join('');
}

const userXml = (u: IamUserRecord): XmlNode[] => [
  ['Path', u.Path],
  ['UserName', u.UserName],
  ['UserId', u.UserId],
  ['Arn', u.Arn],
  ['CreateDate', u.CreateDate],
];

function paginate<T>(items: T[], params: Record<string, string>, cap: number): { page: T[]; marker?: string } {
  const start = params['Marker'] ? Number(Buffer.from(params['Marker'], 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw new AwsError(400, 'ValidationError', 'Invalid Marker');
  const size = Math.min(params['MaxItems'] ? Number(params['MaxItems']) : 100, cap);
  const page = items.slice(start, start + size);
  const next = start + size;
  return next < items.length ? { page, marker: Buffer.from(String(next)).toString('base64url') } : { page };
}

// ---------------------------------------------------------------------------------------------

export interface StartIamServerOptions {
  accountId?: string;
  /** Keys of the default principal (an IAM user `breakglass-bot` in the default account). */
  accessKey?: { accessKeyId: string; secretAccessKey: string };
  /** Upper bound on a page, whatever MaxItems asks: tests use it to force pagination. */
  maxPageSize?: number;
  verifySignatures?: boolean;
}

export interface IamTestServer {
  url: string;
  close(): Promise<void>;
  accountId: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The account's directory (the default account when no id is given). */
  account(id?: string): IamAccount;
  /** Lets AssumeRole succeed for this role; its calls then act on the role's account. */
  addRole(roleArn: string, opts?: { sessionSeconds?: number; allowedCallers?: string[] }): void;
  /** Adds another long-term key, e.g. a second principal. */
  addAccessKey(accessKeyId: string, secretAccessKey: string, opts?: { account?: string; arn?: string }): void;
  requests: IamRecordedRequest[];
  /** Requests for one action, in order. */
  calls(action: string): IamRecordedRequest[];
  /** The next `n` requests (matching `filter`, if given) fail. A bare status picks AWS's usual code. */
  failNext(n: number, failure?: number | FailureSpec, filter?: (r: IamRecordedRequest) => boolean): void;
  /** Every matching request fails until the returned function is called. */
  failWhen(predicate: (r: IamRecordedRequest) => boolean, failure?: number | FailureSpec): () => void;
  /**
   * Matching requests wait, before the server acts on them, until `release()`: a provider call in
   * flight for as long as a test needs. `reached` resolves with the first one held.
   */
  holdWhen(predicate: (r: IamRecordedRequest) => boolean): { reached: Promise<IamRecordedRequest>; release(): void };
  /**
   * Every matching request loses its answer until the returned function is called: the connection
   * is destroyed without a response. With `apply`, IAM carries the call out first (a change made
   * and its answer lost); without, the request is dropped unread (IAM unreachable mid-call).
   * Such requests are recorded with `errorCode: 'ConnectionDropped'` and no status.
   */
  dropWhen(predicate: (r: IamRecordedRequest) => boolean, opts: { apply: boolean }): () => void;
  clearFailures(): void;
  maxPageSize: number;
}

function failureFor(spec: number | FailureSpec | undefined): FailureSpec {
  if (typeof spec === 'object') return spec;
  const status = spec ?? 500;
  switch (status) {
    case 400:
      return { status, code: 'Throttling', message: 'Rate exceeded' };
    case 403:
      return { status, code: 'AccessDenied', message: 'User is not authorized to perform this action' };
    case 503:
      return { status, code: 'ServiceUnavailable', message: 'Service is unavailable' };
    default:
      return { status, code: status >= 500 ? 'ServiceFailure' : 'ValidationError', message: 'Injected failure' };
  }
}

export async function startIamServer(opts: StartIamServerOptions = {}): Promise<IamTestServer> {
  const defaultAccount = opts.accountId ?? DEFAULT_ACCOUNT_ID;
  const key = opts.accessKey ?? DEFAULT_ACCESS_KEY;
  const verify = opts.verifySignatures ?? true;
  const accounts = new Map<string, IamAccount>();
  const principals = new Map<string, Principal>();
  const roles = new Map<string, RoleRecord>();
  const requests: IamRecordedRequest[] = [];
  const oneShot: Array<{ left: number; failure: FailureSpec; filter?: (r: IamRecordedRequest) => boolean }> = [];
  const standing = new Set<{ predicate: (r: IamRecordedRequest) => boolean; failure: FailureSpec }>();
  const drops = new Set<{ predicate: (r: IamRecordedRequest) => boolean; apply: boolean }>();
  const holds = new Set<{ predicate: (r: IamRecordedRequest) => boolean; held: (r: IamRecordedRequest) => void; released: Promise<void> }>();

  const account = (id = defaultAccount) => {
    let a = accounts.get(id);
    if (!a) accounts.set(id, (a = new IamAccount(id)));
    return a;
  };
  const addAccessKey = (accessKeyId: string, secret: string, o: { account?: string; arn?: string } = {}) => {
    const acct = o.account ?? defaultAccount;
    principals.set(accessKeyId, { secret, account: acct, arn: o.arn ?? `arn:aws:iam::${acct}:user/breakglass-bot`, userId: awsId('AIDA') });
  };
  addAccessKey(key.accessKeyId, key.secretAccessKey);

  const state = {
    maxPageSize: opts.maxPageSize ?? 1000,
  };

  function authenticate(req: IncomingMessage, body: Buffer, rec: IamRecordedRequest): Principal {
    const auth = parseAuthorization(req.headers.authorization);
    if (!auth) throw new AwsError(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    rec.accessKeyId = auth.accessKeyId;
    const token = req.headers['x-amz-security-token'];
    if (typeof token === 'string') rec.sessionToken = token;
    const p = principals.get(auth.accessKeyId);
    if (!p) throw new AwsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    if (p.sessionToken !== undefined && p.sessionToken !== token) {
      throw new AwsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    }
    if (p.expiration && p.expiration.getTime() <= Date.now()) {
      throw new AwsError(403, 'ExpiredToken', 'The security token included in the request is expired');
    }
    if (verify && expectedSignature(req, body, auth, p.secret) !== auth.signature) {
      throw new AwsError(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
    }
    rec.account = p.account;
    return p;
  }

  function injected(rec: IamRecordedRequest): FailureSpec | undefined {
    for (const f of standing) if (f.predicate(rec)) return f.failure;
    const i = oneShot.findIndex((f) => !f.filter || f.filter(rec));
    if (i < 0) return undefined;
    const f = oneShot[i]!;
    if (--f.left <= 0) oneShot.splice(i, 1);
    return f.failure;
  }

  function iam(action: string, p: Record<string, string>, caller: Principal): XmlNode[] | undefined {
    validateIamRequest(action, p);
    const acct = account(caller.account);
    const user = (name: string) => {
      const u = acct.users.get(name);
      if (!u) throw new AwsError(404, 'NoSuchEntity', `The user with name ${name} cannot be found.`);
      return u;
    };
    const group = (name: string) => {
      const g = acct.groups.get(name);
      if (!g) throw new AwsError(404, 'NoSuchEntity', `The group with name ${name} cannot be found.`);
      return g;
    };
    const role = (name: string) => {
      const r = acct.roles.get(name);
      if (!r) throw new AwsError(404, 'NoSuchEntity', `The role with name ${name} cannot be found.`);
      return r;
    };
    switch (action) {
      case 'AddUserToGroup': {
        const g = group(p['GroupName']!);
        user(p['UserName']!);
        if (!g.members.includes(p['UserName']!)) g.members.push(p['UserName']!);
        return undefined;
      }
      case 'RemoveUserFromGroup': {
        const g = group(p['GroupName']!);
        user(p['UserName']!);
        const i = g.members.indexOf(p['UserName']!);
        if (i < 0) throw new AwsError(404, 'NoSuchEntity', `The user with name ${p['UserName']} is not in group ${g.GroupName}.`);
        g.members.splice(i, 1);
        return undefined;
      }
      case 'GetGroup': {
        const g = group(p['GroupName']!);
        const { page, marker } = paginate(g.members, p, state.maxPageSize);
        return [
          ['Group', [['Path', g.Path], ['GroupName', g.GroupName], ['GroupId', g.GroupId], ['Arn', g.Arn], ['CreateDate', g.CreateDate]]],
          ['Users', page.map((n): XmlNode => ['member', userXml(user(n))])],
          ['IsTruncated', marker !== undefined],
          ['Marker', marker],
        ];
      }
      case 'PutUserPolicy': {
        const u = user(p['UserName']!);
        const doc = p['PolicyDocument']!;
        checkPolicyDocument(doc);
        const size = acct.inlinePolicySize(u.UserName, { name: p['PolicyName']!, document: doc });
        if (size > INLINE_USER_POLICY_LIMIT) {
          throw new AwsError(409, 'LimitExceeded', `Maximum policy size of ${INLINE_USER_POLICY_LIMIT} bytes exceeded for user ${u.UserName}`);
        }
        u.policies.set(p['PolicyName']!, doc);
        return undefined;
      }
      case 'DeleteUserPolicy': {
        const u = user(p['UserName']!);
        if (!u.policies.delete(p['PolicyName']!)) {
          throw new AwsError(404, 'NoSuchEntity', `The user policy with name ${p['PolicyName']} cannot be found.`);
        }
        return undefined;
      }
      case 'GetUserPolicy': {
        const u = user(p['UserName']!);
        const doc = u.policies.get(p['PolicyName']!);
        if (doc === undefined) throw new AwsError(404, 'NoSuchEntity', `The user policy with name ${p['PolicyName']} cannot be found.`);
        // AWS returns the document URL-encoded (RFC 3986); clients must decode it.
        return [['UserName', u.UserName], ['PolicyName', p['PolicyName']!], ['PolicyDocument', rfc3986(doc)]];
      }
      case 'ListUserPolicies': {
        const u = user(p['UserName']!);
        const { page, marker } = paginate([...u.policies.keys()], p, state.maxPageSize);
        return [['PolicyNames', page.map((n): XmlNode => ['member', n])], ['IsTruncated', marker !== undefined], ['Marker', marker]];
      }
      case 'ListUsers': {
        const prefix = p['PathPrefix'] ?? '/';
        const all = [...acct.users.values()].filter((u) => u.Path.startsWith(prefix));
        const { page, marker } = paginate(all, p, state.maxPageSize);
        return [['Users', page.map((u): XmlNode => ['member', userXml(u)])], ['IsTruncated', marker !== undefined], ['Marker', marker]];
      }
      case 'GetAccountAuthorizationDetails': {
        const filter = Object.entries(p).filter(([k]) => k.startsWith('Filter.member.')).map(([, v]) => v);
        const users = filter.length === 0 || filter.includes('User') ? [...acct.users.values()] : [];
        // Only users are modelled here; the other entity types answer empty lists.
        const { page, marker } = paginate(users, p, state.maxPageSize);
        const groupsOf = (u: IamUserRecord) => [...acct.groups.values()].filter((g) => g.members.includes(u.UserName)).map((g) => g.GroupName);
        return [
          [
            'UserDetailList',
            page.map((u): XmlNode => [
              'member',
              [
                ...userXml(u),
                ['UserPolicyList', [...u.policies].map(([name, doc]): XmlNode => ['member', [['PolicyName', name], ['PolicyDocument', rfc3986(doc)]]])],
                ['GroupList', groupsOf(u).map((g): XmlNode => ['member', g])],
                ['AttachedManagedPolicies', []],
              ],
            ]),
          ],
          ['GroupDetailList', []],
          ['RoleDetailList', []],
          ['Policies', []],
          ['IsTruncated', marker !== undefined],
          ['Marker', marker],
        ];
      }
      case 'PutRolePolicy': {
        const r = role(p['RoleName']!);
        const doc = p['PolicyDocument']!;
        checkPolicyDocument(doc);
        const docs = new Map(r.policies).set(p['PolicyName']!, doc);
        const size = [...docs.values()].reduce((n, d) => n + d.replace(/\s/g, '').length, 0);
        if (size > INLINE_ROLE_POLICY_LIMIT) throw new AwsError(409, 'LimitExceeded', `Maximum policy size of ${INLINE_ROLE_POLICY_LIMIT} bytes exceeded for role ${r.RoleName}`);
        r.policies.set(p['PolicyName']!, doc);
        return undefined;
      }
      case 'ListRolePolicies': {
        const r = role(p['RoleName']!);
        const { page, marker } = paginate([...r.policies.keys()], p, state.maxPageSize);
        return [['PolicyNames', page.map((n): XmlNode => ['member', n])], ['IsTruncated', marker !== undefined], ['Marker', marker]];
      }
      case 'DeleteRolePolicy': {
        const r = role(p['RoleName']!);
        if (!r.policies.delete(p['PolicyName']!)) throw new AwsError(404, 'NoSuchEntity', `The role policy with name ${p['PolicyName']} cannot be found.`);
        return undefined;
      }
      case 'GetRole': {
        const r = role(p['RoleName']!);
        return [['Role', [['Path', r.Path], ['RoleName', r.RoleName], ['RoleId', r.RoleId], ['Arn', r.Arn], ['CreateDate', r.CreateDate], ['MaxSessionDuration', r.MaxSessionDuration]]]];
      }
      case 'UpdateUser': {
        // A rename keeps the user's id, groups and inline policies (renameUser); IAM names are unique without case.
        const u = user(p['UserName']!);
        const to = p['NewUserName'];
        if (to !== undefined && to !== u.UserName) {
          if ([...acct.users.keys()].some((n) => n.toLowerCase() === to.toLowerCase() && n !== u.UserName)) {
            throw new AwsError(409, 'EntityAlreadyExists', `User with name ${to} already exists.`);
          }
          acct.renameUser(u.UserName, to);
        }
        if (p['NewPath'] !== undefined) acct.users.get(to ?? u.UserName)!.Path = p['NewPath'];
        return undefined;
      }
      case 'GetUser': {
        if (p['UserName'] !== undefined) return [['User', userXml(user(p['UserName']))]];
        const self = caller.arn.match(/:user(\/(?:.*\/)?)([^/]+)$/);
        if (!self) throw new AwsError(400, 'ValidationError', 'Must specify userName when calling with non-User credentials');
        const me = acct.users.get(self[2]!) ?? {
          UserName: self[2]!,
          UserId: caller.userId,
          Arn: caller.arn,
          Path: self[1]!,
          CreateDate: new Date('2024-01-02T03:04:05Z'),
          policies: new Map<string, string>(),
        };
        return [['User', userXml(me)]];
      }
      default:
        throw new AwsError(400, 'InvalidAction', `${action} is valid IAM but not implemented by the test server`);
    }
  }

  function sts(action: string, p: Record<string, string>, caller: Principal): XmlNode[] {
    switch (action) {
      case 'GetCallerIdentity':
        return [['UserId', caller.userId], ['Account', caller.account], ['Arn', caller.arn]];
      case 'AssumeRole': {
        const missing = ['RoleArn', 'RoleSessionName'].filter((m) => p[m] === undefined);
        if (missing.length) throw validationError(missing.map((m) => `Value null at '${lowerFirst(m)}' failed to satisfy constraint: Member must not be null`));
        const roleArn = p['RoleArn']!;
        const session = p['RoleSessionName']!;
        if (!/^[\w+=,.@-]{2,64}$/.test(session)) {
          throw validationError([`Value '${session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`]);
        }
        const duration = p['DurationSeconds'] ? Number(p['DurationSeconds']) : 3600;
        if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
          throw validationError([`Value '${p['DurationSeconds']}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`]);
        }
        const role = roles.get(roleArn);
        if (!role || (role.allowedCallers && !role.allowedCallers.includes(caller.arn))) {
          throw new AwsError(403, 'AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
        }
        const roleName = roleArn.split('/').pop()!;
        const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
        const secret = randomBytes(20).toString('base64');
        const sessionToken = randomBytes(48).toString('base64');
        const expiration = new Date(Date.now() + (role.sessionSeconds ?? duration) * 1000);
        const roleId = `AROA${createHash('sha1').update(roleArn).digest('hex').slice(0, 16).toUpperCase()}`;
        const arn = `arn:aws:sts::${role.account}:assumed-role/${roleName}/${session}`;
        principals.set(accessKeyId, { secret, account: role.account, arn, userId: `${roleId}:${session}`, sessionToken, expiration, role: { name: roleName, issuedAt: new Date() } });
        return [
          ['Credentials', [['AccessKeyId', accessKeyId], ['SecretAccessKey', secret], ['SessionToken', sessionToken], ['Expiration', expiration]]],
          ['AssumedRoleUser', [['AssumedRoleId', `${roleId}:${session}`], ['Arn', arn]]],
        ];
      }
      default:
        throw new AwsError(400, 'InvalidAction', `Could not find operation ${action} for version ${STS_VERSION}`);
    }
  }

  function send(res: ServerResponse, status: number, body: string, rec: IamRecordedRequest, code?: string) {
    rec.status = status;
    if (code) rec.errorCode = code;
    const requestId = randomBytes(16).toString('hex');
    res.writeHead(status, { 'Content-Type': 'text/xml', 'x-amzn-RequestId': requestId });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body.replace('$REQUEST_ID', requestId)}`);
  }

  function sendError(res: ServerResponse, ns: string, err: FailureSpec, rec: IamRecordedRequest) {
    const type = err.status >= 500 ? 'Receiver' : 'Sender';
    const body = `<ErrorResponse xmlns="${ns}">${xml([['Error', [['Type', type], ['Code', err.code], ['Message', err.message ?? err.code]]]])}<RequestId>$REQUEST_ID</RequestId></ErrorResponse>`;
    send(res, err.status, body, rec, err.code);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://placeholder');
      const params: Record<string, string> = Object.fromEntries(url.searchParams);
      const ctype = String(req.headers['content-type'] ?? '');
      if (body.length && ctype.startsWith('application/x-www-form-urlencoded')) {
        Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
      }
      const auth = parseAuthorization(req.headers.authorization);
      const version = params['Version'];
      const service: AwsService | 'unknown' =
        auth?.service === 'sts' || version === STS_VERSION ? 'sts' : auth?.service === 'iam' || version === IAM_VERSION ? 'iam' : 'unknown';
      const ns = service === 'sts' ? STS_NS : IAM_NS;
      const { Action: action = '', Version: _version, ...rest } = params;
      const rec: IamRecordedRequest = {
        service,
        action,
        params: rest,
        method: req.method ?? 'POST',
        path: url.pathname,
        headers: { ...req.headers },
        body: body.toString('utf8'),
        at: new Date(),
      };
      requests.push(rec);
      const hold = [...holds].find((h) => h.predicate(rec));
      if (hold) {
        hold.held(rec);
        await hold.released;
      }
      try {
        if (req.method !== 'POST' && req.method !== 'GET') throw new AwsError(405, 'InvalidAction', `Method ${req.method} not allowed`);
        const caller = authenticate(req, body, rec);
        if (!action) throw new AwsError(400, 'MissingAction', 'Missing Action');
        // STS GetCallerIdentity works whatever the policies say, as at AWS.
        if (action !== 'GetCallerIdentity' && caller.role && deniedByRole(account(caller.account).roles.get(caller.role.name), caller)) {
          throw new AwsError(403, 'AccessDenied', `User: ${caller.arn} is not authorized to perform: ${service}:${action} with an explicit deny in an identity-based policy`);
        }
        const expected = service === 'sts' ? STS_VERSION : IAM_VERSION;
        if (version !== expected) throw new AwsError(400, 'InvalidParameterValue', `Invalid Version ${version ?? '(none)'}; expected ${expected}`);
        const drop = [...drops].find((d) => d.predicate(rec));
        if (drop) {
          rec.errorCode = 'ConnectionDropped';
          if (drop.apply) {
            try {
              if (service === 'sts') sts(action, rest, caller);
              else iam(action, rest, caller);
            } catch {
              // Refused or not: the client hears nothing either way.
            }
          }
          req.socket.destroy();
          return;
        }
        const failure = injected(rec);
        if (failure) return sendError(res, ns, failure, rec);
        const result = service === 'sts' ? sts(action, rest, caller) : iam(action, rest, caller);
        const inner = result ? `<${action}Result>${xml(result)}</${action}Result>` : '';
        send(res, 200, `<${action}Response xmlns="${ns}">${inner}<ResponseMetadata><RequestId>$REQUEST_ID</RequestId></ResponseMetadata></${action}Response>`, rec);
      } catch (err) {
        if (err instanceof AwsError) return sendError(res, ns, { status: err.status, code: err.code, message: err.message }, rec);
        sendError(res, ns, { status: 500, code: 'InternalFailure', message: (err as Error).message }, rec);
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
    accountId: defaultAccount,
    credentials: { ...key },
    account,
    addRole(roleArn, o = {}) {
      const acct = roleArn.match(/^arn:aws[\w-]*:iam::(\d{12}):role\//)?.[1];
      if (!acct) throw new Error(`not a role ARN: ${roleArn}`);
      roles.set(roleArn, { arn: roleArn, account: acct, ...o });
      account(acct).addIamRole(roleArn.split('/').pop()!);
    },
    addAccessKey,
    requests,
    calls: (action) => requests.filter((r) => r.action === action),
    failNext(n, failure, filter) {
      oneShot.push({ left: n, failure: failureFor(failure), ...(filter ? { filter } : {}) });
    },
    failWhen(predicate, failure) {
      const entry = { predicate, failure: failureFor(failure) };
      standing.add(entry);
      return () => standing.delete(entry);
    },
    holdWhen(predicate) {
      let held!: (r: IamRecordedRequest) => void;
      let release!: () => void;
      const reached = new Promise<IamRecordedRequest>((resolve) => (held = resolve));
      const entry = { predicate, held, released: new Promise<void>((resolve) => (release = resolve)) };
      holds.add(entry);
      return {
        reached,
        release: () => {
          holds.delete(entry);
          release();
        },
      };
    },
    dropWhen(predicate, opts) {
      const entry = { predicate, apply: opts.apply };
      drops.add(entry);
      return () => drops.delete(entry);
    },
    clearFailures() {
      oneShot.length = 0;
      standing.clear();
      drops.clear();
    },
    get maxPageSize() {
      return state.maxPageSize;
    },
    set maxPageSize(v: number) {
      state.maxPageSize = v;
    },
  };
}

/**
 * Whether the role's inline policies deny this session outright: Deny statements on every action
 * whose conditions all hold, of the kinds "revoke older sessions" uses (DateLessThan on
 * aws:TokenIssueTime, StringLike/StringEquals on aws:userid). A condition of another kind is
 * taken not to hold: the test server does not guess at it.
 */
function deniedByRole(role: IamRoleRecord | undefined, caller: Principal): boolean {
  const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const holds = (op: string, key: string, values: unknown[]): boolean => {
    const k = key.toLowerCase();
    if (op === 'DateLessThan' && k === 'aws:tokenissuetime') return values.some((v) => caller.role!.issuedAt.getTime() < Date.parse(String(v)));
    if (op === 'StringLike' && k === 'aws:userid') return values.some((v) => glob(String(v)).test(caller.userId));
    if (op === 'StringEquals' && k === 'aws:userid') return values.some((v) => String(v) === caller.userId);
    return false;
  };
  for (const doc of role?.policies.values() ?? []) {
    const raw = (JSON.parse(doc) as { Statement: unknown }).Statement;
    for (const st of (Array.isArray(raw) ? raw : [raw]) as Array<Record<string, unknown>>) {
      if (st['Effect'] !== 'Deny' || ![st['Action']].flat().includes('*')) continue;
      const cond = (st['Condition'] ?? {}) as Record<string, Record<string, unknown>>;
      if (Object.entries(cond).every(([op, block]) => Object.entries(block).every(([key, v]) => holds(op, key, [v].flat())))) return true;
    }
  }
  return false;
}

/** The checks IAM makes that matter to a client: JSON, statement shape, Sids, date conditions. */
function checkPolicyDocument(text: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new AwsError(400, 'MalformedPolicyDocument', 'Syntax errors in policy.');
  }
  const statements = (doc as { Statement?: unknown }).Statement;
  const list = Array.isArray(statements) ? statements : statements && typeof statements === 'object' ? [statements] : null;
  if (!list || list.length === 0) throw new AwsError(400, 'MalformedPolicyDocument', 'Policy document must contain at least one statement.');
  const sids = new Set<string>();
  for (const s of list as Array<Record<string, unknown>>) {
    if (s['Effect'] !== 'Allow' && s['Effect'] !== 'Deny') throw new AwsError(400, 'MalformedPolicyDocument', 'Missing or invalid Effect.');
    if (!('Action' in s) && !('NotAction' in s)) throw new AwsError(400, 'MalformedPolicyDocument', 'Policy statement must contain actions.');
    if (!('Resource' in s) && !('NotResource' in s)) throw new AwsError(400, 'MalformedPolicyDocument', 'Policy statement must contain resources.');
    const sid = s['Sid'];
    if (sid !== undefined) {
      if (typeof sid !== 'string' || !/^[0-9A-Za-z]*$/.test(sid)) {
        throw new AwsError(400, 'MalformedPolicyDocument', 'Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*');
      }
      if (sids.has(sid)) throw new AwsError(400, 'MalformedPolicyDocument', 'Statement IDs (SID) in a single policy must be unique.');
      sids.add(sid);
    }
    const cond = s['Condition'] as Record<string, Record<string, unknown>> | undefined;
    for (const [op, block] of Object.entries(cond ?? {})) {
      if (!/^Date/.test(op)) continue;
      for (const v of Object.values(block).flat()) {
        if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) {
          throw new AwsError(400, 'MalformedPolicyDocument', `The policy failed legacy parsing: invalid date ${String(v)}`);
        }
      }
    }
  }
}
