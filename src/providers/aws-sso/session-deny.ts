/**
 * The statement that ends one person's open Identity Center sessions for one account, in the
 * permission set's inline policy (AWS's documented way: a Deny on the identity-store user id).
 * It refuses only role sessions issued before the revoke, so a later grant works at once, and it
 * carries its own deadline (the permission set's session duration after the revoke), when no such
 * session can still be valid and AWS stops applying it. Pure functions.
 */
import { createHash } from 'node:crypto';

export const SESSION_DENY_SID_PREFIX = 'BreakglassEndSessions';
/** IAM Identity Center's limit on a permission set's inline policy. */
export const INLINE_POLICY_LIMIT = 32_768;
/** A session may have begun up to this long before the token time AWS stamps; and clocks differ. */
const MARGIN_MS = 5 * 60_000;

type Statement = Record<string, unknown>;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Seconds of an ISO 8601 duration as Identity Center stores a session duration (PT1H … PT12H); 12 h when unreadable. */
export function sessionSeconds(duration: string | undefined): number {
  const m = duration?.match(/^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/);
  if (!m || (!m[1] && !m[2] && !m[3])) return 12 * 3600;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** One Sid per person and account: ending their sessions again replaces it. */
export function sessionDenySid(userId: string, accountId: string): string {
  return SESSION_DENY_SID_PREFIX + createHash('sha256').update(`${userId}|${accountId}`).digest('hex').slice(0, 16);
}

export function sessionDenyStatement(args: { userId: string; accountId: string; issuedBefore: Date; sessionSeconds: number }): { statement: Statement; issuedBefore: Date; until: Date } {
  // Policy times are whole seconds: rounded up, so a session issued earlier in the revoke's own second is refused too.
  const issuedBefore = new Date(Math.ceil(args.issuedBefore.getTime() / 1000) * 1000);
  const until = new Date(issuedBefore.getTime() + args.sessionSeconds * 1000 + MARGIN_MS);
  return {
    issuedBefore,
    until,
    statement: {
      Sid: sessionDenySid(args.userId, args.accountId),
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: {
        StringEquals: { 'identitystore:userId': args.userId, 'aws:PrincipalAccount': args.accountId },
        DateLessThan: { 'aws:TokenIssueTime': iso(issuedBefore), 'aws:CurrentTime': iso(until) },
      },
    },
  };
}

/** When a breakglass deny stops applying (its aws:CurrentTime deadline), or undefined for any other statement. */
function denyDeadline(s: Statement): number | undefined {
  if (typeof s['Sid'] !== 'string' || !s['Sid'].startsWith(SESSION_DENY_SID_PREFIX)) return undefined;
  const cond = isRecord(s['Condition']) ? s['Condition'] : {};
  const block = isRecord(cond['DateLessThan']) ? cond['DateLessThan'] : {};
  const t = Date.parse(String(block['aws:CurrentTime']));
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The inline policy with the deny added (replacing an earlier one for the same person and
 * account), and breakglass denies past their deadline removed. The administrator's own statements
 * stay as they are. Throws when the existing text is not a policy or the result would not fit.
 */
export function withSessionDeny(existing: string | undefined, statement: Statement, now: Date): string {
  let doc: Record<string, unknown> = { Version: '2012-10-17', Statement: [] };
  if (existing && existing.trim()) {
    const parsed: unknown = JSON.parse(existing);
    if (!isRecord(parsed)) throw new Error('the permission set\'s inline policy is not a JSON object');
    doc = parsed;
  }
  const raw = doc['Statement'];
  const statements: Statement[] = Array.isArray(raw) ? raw.filter(isRecord) : isRecord(raw) ? [raw] : [];
  const kept = statements.filter((s) => s['Sid'] !== statement['Sid'] && (denyDeadline(s) ?? Infinity) > now.getTime());
  const text = JSON.stringify({ ...doc, Version: doc['Version'] ?? '2012-10-17', Statement: [...kept, statement] });
  if (text.length > INLINE_POLICY_LIMIT) {
    throw new Error(`the permission set's inline policy would be ${text.length} characters with the session deny; Identity Center allows ${INLINE_POLICY_LIMIT}`);
  }
  return text;
}

/** Whether the inline policy text holds this statement's Sid. */
export function holdsStatement(text: string | undefined, sid: string): boolean {
  try {
    const doc: unknown = JSON.parse(text ?? '');
    const raw = isRecord(doc) ? doc['Statement'] : undefined;
    const list = Array.isArray(raw) ? raw : isRecord(raw) ? [raw] : [];
    return list.some((s) => isRecord(s) && s['Sid'] === sid);
  } catch {
    return false;
  }
}
