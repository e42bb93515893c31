import { and, eq, sql } from 'drizzle-orm';
import { evidenceEvents } from '../db/schema.ts';
import { LEFT_STATUSES } from '../domain/review.ts';
import type { IdentityDirectory } from '../ports.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';

export interface UnavailableApprover {
  approver: string;
  /** `deactivated in Slack`, `not found in Slack`, `SUSPENDED in Okta`… */
  reason: string;
}

/**
 * The configured approvers who can approve now. Someone Slack does not know, or has deactivated,
 * or Okta lists as suspended or deprovisioned, cannot: the approval card would reach nobody, and
 * a request waiting on them would never be decided. A directory that cannot be asked keeps the
 * approver: a Slack or Okta hiccup must not refuse every request.
 */
export async function screenApprovers(deps: Pick<AppDeps, 'directory' | 'identities' | 'clock'>, candidates: string[]): Promise<{ present: string[]; unavailable: UnavailableApprover[] }> {
  const verdicts = await Promise.all(candidates.map(async (approver) => ({ approver, reason: await whyUnavailable(deps, approver) })));
  return {
    present: verdicts.filter((v) => v.reason === null).map((v) => v.approver),
    unavailable: verdicts.filter((v): v is UnavailableApprover => v.reason !== null),
  };
}

async function whyUnavailable(deps: Pick<AppDeps, 'directory' | 'identities' | 'clock'>, approver: string): Promise<string | null> {
  let email: string | undefined;
  try {
    const user = await deps.directory.user(approver);
    if (!user) return 'not found in Slack';
    if (user.deleted) return 'deactivated in Slack';
    email = user.email;
  } catch {
    return null;
  }
  if (!deps.identities || !email) return null;
  const status = await oktaStatus(deps.identities, email, deps.clock.now().getTime());
  return status && LEFT_STATUSES.has(status) ? `${status} in Okta` : null;
}

/** Okta statuses by email for five minutes, per directory: every request would otherwise ask for each approver. */
const STATUS_TTL_MS = 5 * 60_000;
const statusCaches = new WeakMap<IdentityDirectory, Map<string, { status: string | undefined; at: number }>>();

async function oktaStatus(identities: IdentityDirectory, email: string, now: number): Promise<string | undefined> {
  const cache = statusCaches.get(identities) ?? new Map<string, { status: string | undefined; at: number }>();
  statusCaches.set(identities, cache);
  const key = email.toLowerCase();
  const cached = cache.get(key);
  if (cached && now - cached.at < STATUS_TTL_MS) return cached.status;
  try {
    const status = (await identities.lookupUser(email))?.status;
    cache.set(key, { status, at: now });
    return status;
  } catch {
    return undefined;
  }
}

/**
 * Tells security, once per approver, resource and reason, that a configured approver is skipped:
 * `approver.unavailable` in the evidence (readiness reads a resource left short of approvers from
 * it) with its alert, in one transaction.
 */
export async function reportUnavailableApprovers(deps: Pick<AppDeps, 'db' | 'ledger' | 'clock' | 'access'>, resource: string, unavailable: UnavailableApprover[], counts: { required: number; available: number }): Promise<void> {
  for (const { approver, reason } of unavailable) {
    await deps.db.transaction(async (tx) => {
      // Serialised per approver, so two requests at once record it once.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`approver-unavailable:${approver}`}))`);
      const [known] = await tx
        .select({ seq: evidenceEvents.seq })
        .from(evidenceEvents)
        .where(and(eq(evidenceEvents.kind, 'approver.unavailable'), eq(evidenceEvents.subject, approver), eq(evidenceEvents.resource, resource), sql`${evidenceEvents.details}->>'reason' = ${reason}`))
        .limit(1);
      if (known) return;
      await deps.ledger.append(tx, { kind: 'approver.unavailable', actor: 'breakglass', subject: approver, resource, details: { approver, reason, ...counts, config_hash: deps.access.hash } });
      await raiseAlert(tx, deps, { kind: 'approver_unavailable', subject: approver, resource, notification: { kind: 'approver_unavailable', approver, resource, reason, ...counts } });
    });
  }
}
