import { and, asc, eq, inArray, lte, sql } from 'drizzle-orm';
import { claimDue } from '../db/claim-due.ts';
import type { Tx } from '../db/client.ts';
import { isHeld } from '../db/grants-repo.ts';
import { evidenceEvents, grants, offboardings, type HeldAccess, type OffboardingSystem } from '../db/schema.ts';
import { backoffMs } from '../domain/backoff.ts';
import { formatDuration } from '../domain/duration.ts';
import { readDetails } from '../domain/events.ts';
import type { AccessEntry } from '../ports.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';
import { recordSessionsEnded } from './grant-evidence.ts';
import { emailsOf, grantsOf } from './leavers.ts';
import { checkListedSystem, confirmedRemovals, principalsOf, type CheckContext, type CheckFindings } from './offboarding-systems.ts';
import { reportedRecently } from './reconcile-drift.ts';

/**
 * How long a claimed check may run before another replica takes it over (a bot that starts takes
 * a gone process's at once, lease-holder.ts); the lease is the row's `next_check_at`, so a check
 * that outlived it saves nothing.
 */
const LEASE_MS = 30_000;
/** The first retry after a provider failed a check; it doubles up to the drift interval. */
const FAILED_CHECK_BASE_MS = 5_000;

type Row = typeof offboardings.$inferSelect;

interface OpenOffboarding {
  seq: number;
  email: string;
  login: string | null;
  slackUser: string | null;
  deactivatedAt: Date;
  source: string;
}

/**
 * Checks open offboardings that are due (claimed like grants, so replicas never check one twice):
 * once the person's breakglass grants are revoked, every system in access.yml is asked what the
 * person still holds. The offboarding completes only when a listing shows nothing left everywhere;
 * until then `offboarding.access_held` says what is held and since when, and the next check comes
 * one drift interval later (a failed one backs off). Returns how many completed.
 */
export async function completeOffboardings(deps: AppDeps): Promise<number> {
  await adoptOpenOffboardings(deps);
  const now = deps.clock.now();
  const claimed = await claimDue(deps.db, {
    table: offboardings,
    id: offboardings.id,
    isDue: and(eq(offboardings.state, 'open'), lte(offboardings.nextCheckAt, now)),
    orderBy: offboardings.nextCheckAt,
    limit: 20,
    claim: (tx, ids) => tx.update(offboardings).set({ nextCheckAt: new Date(now.getTime() + LEASE_MS), leaseHolder: deps.leaseHolder ?? null }).where(inArray(offboardings.id, ids)).returning(),
  });
  let completed = 0;
  for (const row of claimed) if (await checkOffboarding(deps, row)) completed++;
  return completed;
}

/**
 * An offboarding recorded without its row (by a version before the rows, or written straight to
 * the ledger by another process) is checked like any other. One that a later completion of the
 * same subject already closed stays closed.
 */
async function adoptOpenOffboardings(deps: AppDeps): Promise<void> {
  const orphans = await deps.db
    .select({ seq: evidenceEvents.seq, subject: evidenceEvents.subject })
    .from(evidenceEvents)
    .where(
      and(
        eq(evidenceEvents.kind, 'offboarding.detected'),
        sql`not exists (select 1 from offboardings o where o.detected_seq = ${evidenceEvents.seq})`,
        sql`not exists (select 1 from evidence_events done where done.kind = 'offboarding.completed' and done.subject = ${evidenceEvents.subject} and done.seq > ${evidenceEvents.seq})`,
      ),
    )
    .orderBy(asc(evidenceEvents.seq))
    .limit(20);
  if (orphans.length === 0) return;
  const now = deps.clock.now();
  await deps.db
    .insert(offboardings)
    .values(orphans.map((o) => ({ detectedSeq: o.seq, subject: o.subject ?? '', nextCheckAt: now })))
    .onConflictDoNothing();
}

async function detectedEvent(deps: AppDeps, seq: number): Promise<OpenOffboarding | undefined> {
  const [event] = await deps.db.select().from(evidenceEvents).where(eq(evidenceEvents.seq, seq));
  if (!event) return undefined;
  const details = readDetails('offboarding.detected', event.details);
  return {
    seq: event.seq,
    email: event.subject ?? '',
    login: details?.login ?? null,
    slackUser: details?.slack_user ?? null,
    deactivatedAt: new Date(details?.deactivated_at ?? Number.NaN),
    source: details?.source ?? 'unknown',
  };
}

/** One check of one offboarding; true when it completed. */
async function checkOffboarding(deps: AppDeps, row: Row): Promise<boolean> {
  const open = await detectedEvent(deps, row.detectedSeq);
  if (!open) return false;
  const emails = emailsOf({ emails: [open.email, open.login] });
  const personGrants = await deps.db.select().from(grants).where(grantsOf({ emails, slackUserId: open.slackUser }));
  if (personGrants.some(isHeld)) {
    // While the revoke worker still works on their grants only the database is asked: the next tick may look again.
    await reschedule(deps, row, deps.clock.now());
    return false;
  }
  const principals = principalsOf(deps, emails, new Set([open.slackUser, ...personGrants.map((g) => g.person)]), personGrants);
  // A provider's id of the user (IAM UserId) finds them under a name changed since the grant.
  const ids = new Set(personGrants.map((g) => g.principalId).filter((id): id is string => id !== null));
  const matches = (entry: AccessEntry) =>
    principals.has(entry.principal.toLowerCase()) || (entry.principalId !== undefined && ids.has(entry.principalId)) || (entry.email !== undefined && emails.includes(entry.email.toLowerCase()));
  const ctx: CheckContext = { detectedSeq: row.detectedSeq, personGrants, matches, checkedAt: row.checkedAt, heldBefore: row.held };
  const findings: CheckFindings = { systems: {}, held: [], found: [], sessionsEnded: [] };
  const failure = await checkSystems(deps, row, ctx, findings);
  const systems = { ...row.systems, ...findings.systems };
  // A failed check keeps what it learnt; the systems it could not see keep what the last check held.
  const held = failure ? [...findings.held, ...row.held.filter((h) => !(h.resource in findings.systems) && !findings.held.some((f) => f.resource === h.resource))] : findings.held;
  const wait = failure
    ? backoffMs(row.attempts, { baseMs: FAILED_CHECK_BASE_MS, maxMs: Math.max(FAILED_CHECK_BASE_MS, deps.access.config.drift.every), jitter: 'upper-half' })
    : deps.access.config.drift.every;
  return saveCheck(deps, { row, open, systems, held, findings, failure, nextCheckAt: new Date(deps.clock.now().getTime() + wait) });
}

/**
 * Looks at every system not yet shown clear (at the first check: all of them). Returns the first
 * provider failure, after which the remaining systems wait for the next check.
 */
async function checkSystems(deps: AppDeps, row: Row, ctx: CheckContext, findings: CheckFindings): Promise<string | undefined> {
  for (const [resource, config] of Object.entries(deps.access.config.resources)) {
    if (resource in row.systems) continue;
    const provider = deps.providers.forTarget(config.grant);
    // Granted by hand: nothing to list; the record names who confirmed each removal, and when.
    if (provider.canList === false) {
      findings.systems[resource] = await confirmedRemovals(deps, resource, provider.name, ctx.personGrants);
      continue;
    }
    try {
      await checkListedSystem(deps, { resource, target: config.grant, provider }, ctx, findings);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      deps.logger.warn({ email: row.subject, resource, err: message }, 'offboarding check failed; will retry');
      return `${resource}: ${message}`;
    }
  }
  return undefined;
}

/** Keeps an open offboarding for a check at `at`. */
async function reschedule(deps: AppDeps, row: Row, at: Date): Promise<void> {
  await deps.db.update(offboardings).set({ nextCheckAt: at, leaseHolder: null }).where(stillMine(row));
}

/** The row as this check claimed it: open, and its lease not taken over since. */
function stillMine(row: Row) {
  return and(eq(offboardings.id, row.id), eq(offboardings.state, 'open'), eq(offboardings.nextCheckAt, row.nextCheckAt));
}

interface CheckOutcome {
  row: Row;
  open: OpenOffboarding;
  systems: Record<string, OffboardingSystem>;
  held: HeldAccess[];
  findings: CheckFindings;
  failure: string | undefined;
  nextCheckAt: Date;
}

/**
 * Commits a check with its evidence, in one transaction: the sessions its revokes ended, the access
 * nobody granted it found (drift.detected, and one alert), then either what is still held and the
 * next check, or the completion. The row's state and lease are the compare-and-swap: a check that
 * lost its lease and comes back late changes nothing.
 */
async function saveCheck(deps: AppDeps, outcome: CheckOutcome): Promise<boolean> {
  const { row, open, systems, held, findings, failure } = outcome;
  const done = !failure && held.length === 0;
  const saved = await deps.db.transaction(async (tx) => {
    const [mine] = await tx.select({ id: offboardings.id }).from(offboardings).where(stillMine(row)).for('update');
    if (!mine) return false;
    for (const { grant, provider, sessions } of findings.sessionsEnded) {
      await recordSessionsEnded(tx, deps, { subject: grant.person, resource: grant.resource, requestId: grant.requestId }, { grantId: grant.id, provider, sessions, reason: 'offboarding' });
    }
    await reportFound(tx, deps, open.email, findings.found);
    if (done) {
      await recordCompletion(tx, deps, open, Object.values(systems));
      await tx.update(offboardings).set({ state: 'completed', systems, held: [], checkedAt: deps.clock.now() }).where(eq(offboardings.id, row.id));
      return true;
    }
    if (heldChanged(row.held, held)) {
      await deps.ledger.append(tx, {
        kind: 'offboarding.access_held',
        actor: 'breakglass',
        subject: open.email,
        details: { detected_seq: open.seq, held, checked_at: deps.clock.now().toISOString(), next_check_at: outcome.nextCheckAt.toISOString() },
      });
    }
    await tx
      .update(offboardings)
      .set({ systems, held, nextCheckAt: outcome.nextCheckAt, leaseHolder: null, checkedAt: deps.clock.now(), attempts: failure ? row.attempts + 1 : 0, lastError: failure ?? null })
      .where(eq(offboardings.id, row.id));
    return false;
  });
  if (saved || findings.found.length > 0) deps.wake.outbox();
  return saved;
}

function heldChanged(before: HeldAccess[], after: HeldAccess[]): boolean {
  const key = (h: HeldAccess) => `${h.resource}\u0000${h.principal.toLowerCase()}\u0000${h.removal}`;
  const a = new Set(before.map(key));
  return a.size !== after.length || after.some((h) => !a.has(key(h)));
}

/**
 * Access nobody granted, found by an offboarding's check: recorded as drift (so the drift pass does
 * not report it again) and alerted once, saying whether breakglass removed it.
 */
async function reportFound(tx: Tx, deps: AppDeps, email: string, found: CheckFindings['found']): Promise<void> {
  if (found.length === 0) return;
  const now = deps.clock.now();
  for (const f of found) {
    if (!f.removed && (await reportedRecently(tx, f.resource, f.principal, now))) continue;
    await deps.ledger.append(tx, {
      kind: 'drift.detected',
      actor: 'breakglass',
      subject: f.principal,
      resource: f.resource,
      details: { drift: 'unmanaged', grant_id: null, action: deps.access.config.drift.action, removed: f.removed },
    });
  }
  const resources = [...new Set(found.map((f) => f.resource))];
  const removed = found.every((f) => f.removed);
  await raiseAlert(tx, deps, { kind: 'offboarding', notification: { kind: 'offboarding_unmanaged', email, resources, ...(removed ? { removed } : {}) }, subject: email });
}

/**
 * offboarding.completed: access ended when the last system's did (a revoke, a removal, or the
 * listing that saw access gone), measured from the deactivation against the SLA, and its alert
 * when the SLA was missed.
 */
async function recordCompletion(tx: Tx, deps: AppDeps, open: OpenOffboarding, systems: OffboardingSystem[]): Promise<void> {
  const now = deps.clock.now();
  const ordered = Object.keys(deps.access.config.resources).flatMap((r) => systems.filter((s) => s.resource === r));
  const listed = [...ordered, ...systems.filter((s) => !ordered.includes(s))];
  const unmanaged = listed.filter((s) => s.outcome === 'removed' || s.outcome === 'gone').map((s) => s.resource);
  const endTimes = listed.map((s) => (s.ended_at ? new Date(s.ended_at).getTime() : open.deactivatedAt.getTime()));
  const accessEndedAt = new Date(Math.max(open.deactivatedAt.getTime(), ...endTimes));
  const sla = deps.access.config.offboarding.sla;
  const tookMs = accessEndedAt.getTime() - open.deactivatedAt.getTime();
  await deps.ledger.append(tx, {
    kind: 'offboarding.completed',
    actor: 'breakglass',
    subject: open.email,
    details: {
      detected_seq: open.seq,
      source: open.source,
      deactivated_at: open.deactivatedAt.toISOString(),
      access_ended_at: accessEndedAt.toISOString(),
      completed_at: now.toISOString(),
      sla: formatDuration(sla),
      sla_met: tookMs <= sla,
      took_ms: tookMs,
      systems: listed,
      unmanaged_access: unmanaged,
    },
  });
  if (tookMs <= sla) return;
  await raiseAlert(tx, deps, { kind: 'offboarding', notification: { kind: 'offboarding_sla_missed', email: open.email, slaMs: sla }, subject: open.email });
}
