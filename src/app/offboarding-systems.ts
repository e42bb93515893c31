import { and, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import { evidenceEvents, grants, humanTasks, inventoryListings, type HeldAccess, type OffboardingSystem } from '../db/schema.ts';
import { readDetails } from '../domain/events.ts';
import type { AccessEntry, AccessProvider, GrantTarget, SessionsEnded } from '../ports.ts';
import { principalOverrides } from '../providers/registry.ts';
import type { AppDeps } from './deps.ts';
import { sessionsEndedBy } from './grant-evidence.ts';
import { grantSpec, targetsOf } from './grant-specs.ts';
import { noteListing } from './record-listing.ts';

type Grant = typeof grants.$inferSelect;

/** Open sessions a revoke during the offboarding ended, recorded with the check that made it. */
export type EndedSessions = { grant: Grant; provider: string; sessions: SessionsEnded };

/** What one check learnt of one offboarding. */
export interface CheckFindings {
  /** Systems a listing showed clear of the leaver in this check, by resource. */
  systems: Record<string, OffboardingSystem>;
  /** Access nobody granted that is still there after this check. */
  held: HeldAccess[];
  /** Access nobody granted that this check found for the first time (alerted once, with drift.detected). */
  found: Array<HeldAccess & { removed: boolean }>;
  sessionsEnded: EndedSessions[];
}

/** One open offboarding as a check sees it: the leaver's names, their grants, what the last check left. */
export interface CheckContext {
  detectedSeq: number;
  personGrants: Grant[];
  matches: (entry: AccessEntry) => boolean;
  /** When the previous check looked; a listing recorded in the inventory since then is news. */
  checkedAt: Date | null;
  heldBefore: HeldAccess[];
}

/**
 * Every name the providers may know the leaver by, lower-cased: their emails (the default IAM user
 * name), the principals their grants used, the names the configured providers derive from their
 * emails, and the access.yml `people:` principals of each of their Slack ids or of an override
 * naming one of their emails.
 */
export function principalsOf(deps: AppDeps, emails: string[], slackIds: Set<string | null>, personGrants: Array<{ principal: string | null }>): Set<string> {
  const names = new Set(emails);
  for (const grant of personGrants) if (grant.principal) names.add(grant.principal.toLowerCase());
  for (const [slackId, person] of Object.entries(deps.access.config.people)) {
    const theirs = slackIds.has(slackId) || (person.email !== undefined && emails.includes(person.email.toLowerCase()));
    if (theirs) for (const name of principalOverrides(targetsOf(deps), person, [person.email, ...emails])) names.add(name.toLowerCase());
  }
  for (const name of principalOverrides(targetsOf(deps), undefined, emails)) names.add(name.toLowerCase());
  return names;
}

/**
 * Looks at one listed resource: access breakglass granted is revoked and checked gone; access
 * nobody granted is found (and, with drift action `remove`, removed and checked gone); access that
 * an earlier check found and a listing now shows gone ends at that listing.
 */
export async function checkListedSystem(
  deps: AppDeps,
  at: { resource: string; target: GrantTarget; provider: AccessProvider },
  ctx: CheckContext,
  findings: CheckFindings,
): Promise<void> {
  const { resource, target, provider } = at;
  let remaining = (await currentEntries(deps, at, ctx.checkedAt)).filter(ctx.matches);
  const grant = ctx.personGrants.find((g) => g.resource === resource);
  if (remaining.length > 0 && grant) {
    // Managed: revoke what breakglass granted, then confirm it is gone.
    const sessions = sessionsEndedBy(await provider.revoke(grantSpec(grant)));
    if (sessions) findings.sessionsEnded.push({ grant, provider: provider.name, sessions });
    remaining = (await listNoted(deps, provider, resource, target)).filter(ctx.matches);
    if (remaining.length > 0) throw new Error(`${provider.name} still lists the access after revoke`);
    findings.systems[resource] = { resource, provider: provider.name, outcome: 'revoked', ended_at: deps.clock.now().toISOString() };
    return;
  }
  if (remaining.length > 0) return unmanagedAccess(deps, at, ctx, findings, remaining);
  findings.systems[resource] = await clearSystem(deps, { resource, provider: provider.name }, ctx);
}

/**
 * Access nobody granted: with drift action `remove` it is removed and listed again; what a listing
 * still shows is held (since when breakglass first saw it), what it no longer shows was removed.
 */
async function unmanagedAccess(
  deps: AppDeps,
  at: { resource: string; target: GrantTarget; provider: AccessProvider },
  ctx: CheckContext,
  findings: CheckFindings,
  listed: AccessEntry[],
): Promise<void> {
  const { resource, target, provider } = at;
  let remaining = listed;
  let removal: HeldAccess['removal'] = 'none';
  if (deps.access.config.drift.action === 'remove') {
    removal = (await removeUnmanaged(deps, at, ctx.detectedSeq, listed)) ? 'requested' : 'failed';
    remaining = (await listNoted(deps, provider, resource, target)).filter(ctx.matches);
  }
  const stillThere = new Set(remaining.map((e) => e.principal.toLowerCase()));
  for (const entry of listed) {
    const key = entry.principal.toLowerCase();
    const before = ctx.heldBefore.find((h) => h.resource === resource && h.principal.toLowerCase() === key);
    const since = before?.since ?? (await firstSeenAt(deps, resource, key)) ?? deps.clock.now().toISOString();
    const held: HeldAccess = { resource, provider: provider.name, principal: entry.principal, since, basis: 'unmanaged', removal: stillThere.has(key) ? removal : 'requested' };
    if (!before) findings.found.push({ ...held, removed: !stillThere.has(key) });
    if (stillThere.has(key)) findings.held.push(held);
  }
  if (remaining.length === 0) {
    findings.systems[resource] = { resource, provider: provider.name, outcome: 'removed', ended_at: deps.clock.now().toISOString(), principals: listed.map((e) => e.principal) };
  }
}

/** Removes access nobody granted, as the drift pass does with action `remove`; false when a provider call failed. */
async function removeUnmanaged(deps: AppDeps, at: { resource: string; target: GrantTarget; provider: AccessProvider }, detectedSeq: number, entries: AccessEntry[]): Promise<boolean> {
  let allRemoved = true;
  for (const entry of entries) {
    try {
      await at.provider.revoke({
        grantId: `offboarding-${detectedSeq}-${at.resource}-${entry.principal}`,
        resource: at.resource,
        target: at.target,
        person: { email: entry.email ?? entry.principal, principal: entry.principal },
        expiresAt: deps.clock.now(),
      });
    } catch (error) {
      allRemoved = false;
      deps.logger.warn({ resource: at.resource, principal: entry.principal, err: error instanceof Error ? error.message : String(error) }, 'offboarding could not remove unmanaged access; retried at the next check');
    }
  }
  return allRemoved;
}

/**
 * A resource a listing shows clear of the leaver. Access an earlier check found ended when the
 * listing that recorded it gone (`access.gone`) was taken; a grant breakglass revoked ended at its
 * revoke; otherwise the leaver had none there.
 */
async function clearSystem(deps: AppDeps, system: { resource: string; provider: string }, ctx: CheckContext): Promise<OffboardingSystem> {
  const { resource } = system;
  const wasHeld = ctx.heldBefore.filter((h) => h.resource === resource);
  if (wasHeld.length > 0) {
    const seen = await goneAt(deps, resource, ctx.detectedSeq, wasHeld.map((h) => h.principal.toLowerCase()));
    return { ...system, outcome: 'gone', ended_at: seen?.listedAt ?? deps.clock.now().toISOString(), principals: wasHeld.map((h) => h.principal), ...(seen ? { last_seen_at: seen.lastSeenAt } : {}) };
  }
  const revokedByGrant = ctx.personGrants.filter((g) => g.resource === resource && g.revokeReason === 'offboarding' && g.revokedAt).map((g) => g.revokedAt!.getTime());
  const ended = revokedByGrant.length > 0 ? new Date(Math.max(...revokedByGrant)).toISOString() : null;
  return { ...system, outcome: ended ? 'revoked' : 'no_access', ended_at: ended };
}

/** The newest `access.gone` of these principals on the resource since the offboarding began: the listing that saw the last of them gone. */
async function goneAt(deps: AppDeps, resource: string, sinceSeq: number, principals: string[]): Promise<{ listedAt: string; lastSeenAt: string } | undefined> {
  const rows = await deps.db
    .select()
    .from(evidenceEvents)
    .where(and(eq(evidenceEvents.kind, 'access.gone'), eq(evidenceEvents.resource, resource), gt(evidenceEvents.seq, sinceSeq), inArray(sql`lower(${evidenceEvents.details}->>'principal')`, principals)))
    .orderBy(desc(evidenceEvents.seq))
    .limit(1);
  const details = rows[0] && readDetails('access.gone', rows[0].details);
  return details ? { listedAt: details.listed_at, lastSeenAt: details.last_seen_at } : undefined;
}

/**
 * What the resource holds now. A re-check reads a listing the inventory recorded since the last
 * check (the drift pass's, another offboarding's) rather than asking the provider again; only when
 * there is none does it list, so re-checks add no more calls than the drift pass makes.
 */
async function currentEntries(deps: AppDeps, at: { resource: string; target: GrantTarget; provider: AccessProvider }, checkedAt: Date | null): Promise<AccessEntry[]> {
  if (checkedAt) {
    const [latest] = await deps.db.select().from(inventoryListings).where(eq(inventoryListings.resource, at.resource)).orderBy(desc(inventoryListings.coveredTo), desc(inventoryListings.id)).limit(1);
    if (latest && latest.coveredTo > checkedAt) {
      return Object.values(latest.holders).map((h) => ({ resource: at.resource, principal: h.principal, ...(h.email ? { email: h.email } : {}) }));
    }
  }
  return listNoted(deps, at.provider, at.resource, at.target);
}

/** When the inventory first saw this principal on the resource (the current holders' sighting). */
async function firstSeenAt(deps: AppDeps, resource: string, principalKey: string): Promise<string | undefined> {
  const [latest] = await deps.db.select({ holders: inventoryListings.holders }).from(inventoryListings).where(eq(inventoryListings.resource, resource)).orderBy(desc(inventoryListings.coveredTo), desc(inventoryListings.id)).limit(1);
  return latest?.holders[principalKey]?.firstSeenAt;
}

/** A system granted by hand: every grant the person had of it, each with the owner who confirmed its removal. */
export async function confirmedRemovals(deps: AppDeps, resource: string, provider: string, personGrants: Grant[]): Promise<OffboardingSystem> {
  const theirs = personGrants.filter((g) => g.resource === resource && g.startsAt);
  if (theirs.length === 0) return { resource, provider, outcome: 'no_access', ended_at: null };
  const tasks = await deps.db
    .select()
    .from(humanTasks)
    .where(and(inArray(humanTasks.grantId, theirs.map((g) => g.id)), eq(humanTasks.action, 'remove')));
  const removals = theirs.map((g) => {
    const task = tasks.find((t) => t.grantId === g.id);
    return { grant_id: g.id, system: task?.system ?? resource, confirmed_by: task?.doneBy ?? null, confirmed_at: task?.doneAt?.toISOString() ?? null };
  });
  const ended = theirs.map((g) => g.revokedAt?.getTime() ?? 0);
  return { resource, provider, outcome: 'revoked', ended_at: new Date(Math.max(...ended)).toISOString(), removals_confirmed: removals };
}

/** A listing the offboarding check takes, recorded in the access inventory as any other. */
async function listNoted(deps: AppDeps, provider: AccessProvider, resource: string, target: GrantTarget): Promise<AccessEntry[]> {
  const entries = await provider.listAccess(resource, target);
  await noteListing(deps, { resource, provider: provider.name, entries, source: 'offboarding' });
  return entries;
}
