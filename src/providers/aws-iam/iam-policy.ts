/**
 * The IAM policy documents breakglass writes: the inline policy a grant puts on a user, and the
 * least-privilege policy the bot itself needs for the configured resources. Pure functions.
 */
import type { GrantTarget, IamPolicyDocument } from '../../ports.ts';
import { isAwsIamTarget, type AwsIamTarget } from './target.ts';

export const POLICY_VERSION = '2012-10-17';
/** IAM's limit on all inline policies of one user together, whitespace excluded. */
export const INLINE_USER_POLICY_LIMIT = 2048;
const POLICY_NAME_PREFIX = 'breakglass-';

type Statement = Record<string, unknown>;

/** `breakglass-<resource>`, with characters IAM refuses in a policy name replaced. */
export function grantPolicyName(resource: string): string {
  const safe = resource.replace(/[^\w+=,.@-]/g, '-');
  return (POLICY_NAME_PREFIX + safe).slice(0, 128);
}

/** How IAM measures a policy against the inline size limit. */
export function policySize(json: string): number {
  return json.replace(/\s/g, '').length;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Sids may hold only [0-9A-Za-z], so the grant id is encoded reversibly: U + 32 hex for a UUID,
 * A + the id when already alphanumeric, X + hex of its UTF-8 otherwise.
 */
function encodeGrantId(id: string): string {
  if (UUID.test(id)) return `U${id.replace(/-/g, '').toLowerCase()}`;
  if (/^[0-9A-Za-z]+$/.test(id)) return `A${id}`;
  return `X${Buffer.from(id, 'utf8').toString('hex')}`;
}

function decodeGrantId(kind: string, body: string): string | undefined {
  if (kind === 'U' && /^[0-9a-f]{32}$/.test(body)) {
    return `${body.slice(0, 8)}-${body.slice(8, 12)}-${body.slice(12, 16)}-${body.slice(16, 20)}-${body.slice(20)}`;
  }
  if (kind === 'A' && body) return body;
  if (kind === 'X' && /^(?:[0-9a-f]{2})+$/.test(body)) return Buffer.from(body, 'hex').toString('utf8');
  return undefined;
}

/** Statement 0 carries the grant id; the others only need unique Sids (IAM requires it). */
const MARKER_SID = /^bg(\d+)([UAX])([0-9A-Za-z]*)$/;
const sidFor = (index: number, grantId: string) => (index === 0 ? `bg0${encodeGrantId(grantId)}` : `bg${index}`);

/** IAM date conditions take ISO 8601; whole seconds keep the document short and unambiguous. */
export function iamTimestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Adds `DateLessThan aws:CurrentTime <expiry>` to a statement, keeping its other conditions. An
 * earlier deadline the statement already had stays: the stricter limit wins.
 */
function withExpiry(stmt: Statement, expiresAt: Date): Statement {
  const condition = isRecord(stmt['Condition']) ? { ...stmt['Condition'] } : {};
  const opKey = Object.keys(condition).find((k) => k.toLowerCase() === 'datelessthan') ?? 'DateLessThan';
  const block = isRecord(condition[opKey]) ? { ...condition[opKey] } : {};
  let deadline = expiresAt.getTime();
  // Condition keys are case-insensitive in IAM; a duplicate in another case would be ambiguous.
  for (const k of Object.keys(block)) {
    if (k.toLowerCase() !== 'aws:currenttime') continue;
    const values = ([] as unknown[]).concat(block[k]).map((v) => Date.parse(String(v)));
    // Several values are OR-ed: the statement holds until the latest of them.
    const existing = values.some(Number.isNaN) ? NaN : Math.max(...values);
    if (!Number.isNaN(existing) && existing < deadline) deadline = existing;
    delete block[k];
  }
  if (opKey !== 'DateLessThan') delete condition[opKey];
  condition['DateLessThan'] = { ...block, 'aws:CurrentTime': iamTimestamp(new Date(deadline)) };
  return { ...stmt, Condition: condition };
}

/**
 * The inline policy a grant puts on the user: the configured statements, each ending at the
 * expiry by itself (AWS denies after it even if revocation never runs), Sids marking the grant.
 * Configured Sids are replaced; breakglass needs them for the marker.
 */
export function grantPolicyDocument(args: { grantId: string; policy: IamPolicyDocument; expiresAt: Date }): IamPolicyDocument {
  const raw = args.policy.Statement as unknown;
  const statements: Statement[] = Array.isArray(raw) ? raw : isRecord(raw) ? [raw] : [];
  if (statements.length === 0) throw new Error('the configured aws_iam_policy has no Statement');
  return {
    Version: args.policy.Version ?? POLICY_VERSION,
    Statement: statements.map((s, i) => {
      const { Sid: _sid, ...rest } = s;
      return withExpiry({ Sid: sidFor(i, args.grantId), ...rest }, args.expiresAt);
    }),
  };
}

/** What a breakglass inline policy says about itself: its grant id and when it stops working. */
export function readGrantPolicy(doc: string | IamPolicyDocument): { grantId?: string; expiresAt?: Date } {
  let parsed: unknown;
  try {
    parsed = typeof doc === 'string' ? JSON.parse(doc) : doc;
  } catch {
    return {};
  }
  const raw = isRecord(parsed) ? parsed['Statement'] : undefined;
  const statements = Array.isArray(raw) ? raw : isRecord(raw) ? [raw] : [];
  let grantId: string | undefined;
  let expires: number | undefined;
  for (const s of statements) {
    if (!isRecord(s)) continue;
    const m = typeof s['Sid'] === 'string' ? s['Sid'].match(MARKER_SID) : null;
    if (m && grantId === undefined) grantId = decodeGrantId(m[2]!, m[3]!);
    const cond = isRecord(s['Condition']) ? s['Condition'] : {};
    for (const [op, block] of Object.entries(cond)) {
      if (op.toLowerCase() !== 'datelessthan' || !isRecord(block)) continue;
      for (const [k, v] of Object.entries(block)) {
        if (k.toLowerCase() !== 'aws:currenttime') continue;
        const t = Math.max(...([] as unknown[]).concat(v).map((x) => Date.parse(String(x))));
        if (!Number.isNaN(t)) expires = expires === undefined ? t : Math.max(expires, t);
      }
    }
  }
  return { ...(grantId !== undefined ? { grantId } : {}), ...(expires !== undefined ? { expiresAt: new Date(expires) } : {}) };
}

/** A problem IAM would answer with MalformedPolicyDocument or LimitExceeded, at a path inside the policy. */
export interface PolicyProblem {
  path: Array<string | number>;
  message: string;
}

/** `service:action`, wildcards allowed in the action part; or `*` alone. */
const ACTION = /^(?:\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$/;
/** The longest grant id a Sid carries (a UUID) and a timestamp: the size a real grant's document has. */
const SIZING_GRANT_ID = '00000000-0000-4000-8000-000000000000';
const SIZING_EXPIRY = new Date('2099-12-31T23:59:59Z');

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

function statementProblems(stmt: Record<string, unknown>, at: Array<string | number>): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  if (stmt['Effect'] !== 'Allow' && stmt['Effect'] !== 'Deny') {
    problems.push({ path: [...at, 'Effect'], message: `Effect must be Allow or Deny, not ${JSON.stringify(stmt['Effect'] ?? null)}: IAM refuses any other` });
  }
  if (!('Resource' in stmt) && !('NotResource' in stmt)) {
    problems.push({ path: at, message: 'a statement needs Resource (or NotResource): IAM refuses an inline policy statement without one; write Resource: "*" to mean everything' });
  }
  const key = 'Action' in stmt ? 'Action' : 'NotAction' in stmt ? 'NotAction' : undefined;
  if (!key) {
    problems.push({ path: at, message: 'a statement needs Action (or NotAction)' });
    return problems;
  }
  const values = asList(stmt[key]);
  values.forEach((action, j) => {
    if (typeof action === 'string' && ACTION.test(action)) return;
    const where = Array.isArray(stmt[key]) ? [...at, key, j] : [...at, key];
    problems.push({ path: where, message: `${JSON.stringify(action)} is not an IAM action: write it with its service prefix, like s3:GetObject` });
  });
  return problems;
}

/**
 * What IAM would refuse in an access.yml `aws_iam_policy`, checked at load rather than at the first
 * approval: statements without Effect, Action or Resource, actions without a service prefix, and
 * a document that, with the Sids and expiry conditions a grant adds, exceeds the user's budget.
 */
export function policyProblems(policy: IamPolicyDocument): PolicyProblem[] {
  const raw = policy.Statement as unknown;
  const statements = Array.isArray(raw) ? raw : isRecord(raw) ? [raw] : [];
  const problems = statements.flatMap((s, i) => (isRecord(s) ? statementProblems(s, ['Statement', i]) : [{ path: ['Statement', i], message: 'a statement is a mapping' }]));
  if (problems.length > 0 || statements.length === 0) return problems;
  const size = policySize(JSON.stringify(grantPolicyDocument({ grantId: SIZING_GRANT_ID, policy, expiresAt: SIZING_EXPIRY })));
  if (size > INLINE_USER_POLICY_LIMIT) {
    problems.push({
      path: [],
      message: `with the Sids and expiry conditions breakglass adds, this policy is ${size} characters (whitespace not counted); IAM allows ${INLINE_USER_POLICY_LIMIT} per user across all inline policies. Shorten it (wildcards, fewer statements) or grant an aws_iam_group`,
    });
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Ending role sessions: AWS's "revoke older sessions" deny, for one person's sessions of a role.

const SESSION_DENY_PREFIX = 'breakglass-ended-';
/** A role session lives at most 12 hours (MaxSessionDuration): a deny older than that denies nothing. */
export const MAX_ROLE_SESSION_MS = 12 * 3_600_000;

/** The role's name in its ARN (after any path). */
export const roleNameOf = (roleArn: string): string => roleArn.slice(roleArn.lastIndexOf('/') + 1);

/** `aws:TokenIssueTime` is compared to the second: the next whole second also catches a token issued just before. */
export const sessionDenyTime = (at: Date): Date => new Date(Math.ceil(at.getTime() / 1000) * 1000);

/** `breakglass-ended-<epoch seconds>-<user>`: its age is in its name, so lifting it needs no read. */
export function sessionDenyName(userName: string, at: Date): string {
  return `${SESSION_DENY_PREFIX}${sessionDenyTime(at).getTime() / 1000}-${userName.replace(/[^\w+=,.@-]/g, '-')}`.slice(0, 128);
}

/** When a deny breakglass put was issued, from its name; undefined for any other policy. */
export function sessionDenyIssuedAt(policyName: string): Date | undefined {
  const m = policyName.match(/^breakglass-ended-(\d+)-/);
  return m ? new Date(Number(m[1]) * 1000) : undefined;
}

/**
 * Denies everything to the sessions of the role that this IAM user opened before `at`. It names
 * the user by `aws:userid` (role id:session name), so the role's trust policy must require
 * sts:RoleSessionName = ${aws:username}; sessions opened after `at` are untouched.
 */
export function sessionDenyDocument(userName: string, at: Date): IamPolicyDocument {
  return {
    Version: POLICY_VERSION,
    Statement: [
      {
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { DateLessThan: { 'aws:TokenIssueTime': iamTimestamp(sessionDenyTime(at)) }, StringLike: { 'aws:userid': `*:${userName}` } },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------

export interface PolicyResource {
  name: string;
  target: GrantTarget;
}

const awsResources = (resources: PolicyResource[]) =>
  resources.flatMap((r) => (isAwsIamTarget(r.target) ? [{ name: r.name, target: r.target as AwsIamTarget }] : []));

/** The `account_role_arn`s the AWS resources name, each needing its own policy in its account. */
export function accountRoles(resources: PolicyResource[]): string[] {
  return [...new Set(awsResources(resources).flatMap((r) => r.target.accountRoleArn ?? []))];
}

const accountOf = (roleArn: string) => roleArn.match(/^arn:aws[\w-]*:iam::(\d{12}):/)?.[1] ?? '*';
const sortedUnique = (xs: string[]) => [...new Set(xs)].sort();

/**
 * The least privilege the bot's AWS identity needs for these resources: group membership on the
 * named groups, inline-policy management on users, and sts:AssumeRole on each account role.
 * Resources behind an `account_role_arn` are managed through that role, so the bot itself needs
 * only AssumeRole for them; pass `forRoleArn` to get the policy that role needs in its account.
 * sts:GetCallerIdentity needs no permission.
 */
export function minimalIamPolicy(resources: PolicyResource[], options: { forRoleArn?: string } = {}): IamPolicyDocument {
  const roleArn = options.forRoleArn;
  const aws = awsResources(resources);
  const managed = aws.filter((r) => r.target.accountRoleArn === roleArn);
  const account = roleArn ? accountOf(roleArn) : '*';
  const statements: Statement[] = [];

  const groups = sortedUnique(managed.flatMap((r) => (r.target.kind === 'aws_iam_group' ? [r.target.groupName] : [])));
  if (groups.length) {
    statements.push({
      Sid: 'BreakglassGroupMembership',
      Effect: 'Allow',
      Action: ['iam:AddUserToGroup', 'iam:GetGroup', 'iam:RemoveUserFromGroup'],
      Resource: groups.map((g) => `arn:aws:iam::${account}:group/${g}`),
    });
  }
  if (managed.some((r) => r.target.kind === 'aws_iam_policy')) {
    statements.push(
      {
        Sid: 'BreakglassInlineUserPolicies',
        Effect: 'Allow',
        Action: ['iam:DeleteUserPolicy', 'iam:PutUserPolicy'],
        Resource: `arn:aws:iam::${account}:user/*`,
      },
      // Listing reads every user's inline policies in a few calls; the action has no resource type, so "*".
      { Sid: 'BreakglassReadUsers', Effect: 'Allow', Action: 'iam:GetAccountAuthorizationDetails', Resource: '*' },
    );
  }
  if (managed.length) {
    // The grant reads the user's UserId, which a rename keeps, so its revoke finds a renamed user (without it: matched by name).
    statements.push({ Sid: 'BreakglassReadUserIds', Effect: 'Allow', Action: 'iam:GetUser', Resource: `arn:aws:iam::${account}:user/*` });
  }
  const sessionRoles = sortedUnique(managed.flatMap((r) => (r.target.sessionRoleArn && r.target.endSessions ? [r.target.sessionRoleArn] : [])));
  if (sessionRoles.length) {
    statements.push({ Sid: 'BreakglassEndRoleSessions', Effect: 'Allow', Action: ['iam:DeleteRolePolicy', 'iam:ListRolePolicies', 'iam:PutRolePolicy'], Resource: sessionRoles });
  }
  if (!roleArn) {
    const roles = sortedUnique(accountRoles(resources));
    if (roles.length) statements.push({ Sid: 'BreakglassAssumeAccountRoles', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roles });
  }
  return { Version: POLICY_VERSION, Statement: statements };
}
