import { recordSessionsEnded, sessionsEndedBy } from './grant-evidence.ts';
import { and, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { isHeld } from '../db/grants-repo.ts';
import { enqueue } from '../db/outbox.ts';
import { accessRequests, evidenceEvents, grants, humanTasks, LIVE_GRANT_STATES } from '../db/schema.ts';
import { formatDuration } from '../domain/duration.ts';
import { readDetails } from '../domain/events.ts';
import type { AccessEntry, AccessProvider, GrantTarget, SessionsEnded } from '../ports.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';
import { noteListing } from './record-listing.ts';
import { emailsOf, grantsOf, offboardingsOf, requestsOf, type PersonRef } from './leavers.ts';
import { principalOverrides } from '../providers/registry.ts';
import { grantSpec, targetsOf } from './grant-specs.ts';
import { learnPeople } from './learn-people.ts';
import { leaverObservation } from './people-sightings.ts';
import { findPerson } from '../evidence/person-aliases.ts';

export interface Deactivation {
  source: 'slack' | 'okta';
  email: string;
  /** The Okta login, when the source has one: people are matched on the Okta login or email. */
  login?: string | undefined;
  slackUserId?: string | undefined;
  /** When the directory deactivated the person: the SLA is measured from here. */
  deactivatedAt: Date;
  /** The directory's word for it (Okta: DEPROVISIONED, SUSPENDED), for the person's record. */
  status?: string | undefined;
  detail?: string | undefined;
}

/** The same leaver seen again (by the other source, or the next poll) within this is the same offboarding. */
const SAME_OFFBOARDING_MS = 30 * 24 * 3_600_000;

/**
 * A person left: every active breakglass grant of theirs ends now (through the durable revoke
 * path), their pending requests are cancelled, and an offboarding is opened;
 * `completeOffboardings` then checks every system. Returns false when this leaver's offboarding
 * is already open or done.
 */
export async function detectOffboarding(deps: AppDeps, leaver: Deactivation): Promise<boolean> {
  const email = leaver.email.toLowerCase();
  const login = leaver.login?.toLowerCase();
  const slackUserId = leaver.slackUserId ?? (await slackIdOf(deps, [email, login]));
  const person: PersonRef = { emails: [email, login], slackUserId };
  await learnPeople(deps, 'deactivation', [leaverObservation(leaver, slackUserId)]);
  const who = (await findPerson(deps.db, login ?? email)) ?? (slackUserId ? await findPerson(deps.db, slackUserId) : null);
  const now = deps.clock.now();
  const opened = await deps.db.transaction(async (tx) => {
    // Slack and Okta may report the same leaver at the same moment, on different replicas.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`offboarding:${email}`}))`);
    const [previous] = await tx
      .select({ seq: evidenceEvents.seq, occurredAt: evidenceEvents.occurredAt })
      .from(evidenceEvents)
      .where(and(offboardingsOf(person), gt(evidenceEvents.occurredAt, new Date(now.getTime() - SAME_OFFBOARDING_MS))))
      .orderBy(desc(evidenceEvents.seq))
      .limit(1);
    // Unless they came back and were given access since: leaving again is a new offboarding.
    if (previous && !(await grantedSince(tx, person, previous.occurredAt))) return false;
    const detected = await deps.ledger.append(tx, {
      kind: 'offboarding.detected',
      actor: 'breakglass',
      subject: email,
      details: {
        source: leaver.source,
        slack_user: slackUserId ?? null,
        login: login && login !== email ? login : null,
        deactivated_at: leaver.deactivatedAt.toISOString(),
        detail: leaver.detail ?? null,
        sla: formatDuration(deps.access.config.offboarding.sla),
        ...(who ? { person_id: who.id, person_label: who.label } : {}),
      },
    });
    const live = await tx.select().from(grants).where(and(grantsOf(person), inArray(grants.state, LIVE_GRANT_STATES))).for('update');
    for (const grant of live) {
      await tx.update(grants).set({ endsAt: now, revokeReason: 'offboarding', revokeRequestedBy: 'breakglass' }).where(eq(grants.id, grant.id));
      await deps.ledger.append(tx, {
        kind: 'grant.end_requested',
        actor: 'breakglass',
        subject: grant.person,
        resource: grant.resource,
        requestId: grant.requestId,
        details: { grant_id: grant.id, scheduled_end: grant.endsAt.toISOString(), reason: 'offboarding' },
      });
    }
    await cancelPendingRequests(tx, deps, person, { seq: detected.seq, detail: leaver.detail ?? `${leaver.source} deactivation` });
    return true;
  });
  if (opened) {
    deps.logger.info({ email, source: leaver.source }, 'offboarding started');
    deps.wake.grants();
    deps.wake.outbox();
  }
  return opened;
}

/**
 * The Slack id of an Okta leaver, so their breakglass grants (kept by Slack id) and access.yml
 * `people:` overrides are found: an override naming the email, else Slack's lookup by email.
 * Slack being unreachable must not hold up the offboarding: their emails still find most of it.
 */
async function slackIdOf(deps: AppDeps, refs: Array<string | undefined>): Promise<string | undefined> {
  const emails = emailsOf({ emails: refs });
  const override = Object.entries(deps.access.config.people).find(([, p]) => p.email && emails.includes(p.email.toLowerCase()));
  if (override) return override[0];
  for (const email of emails) {
    try {
      const user = await deps.directory.userByEmail(email);
      if (user) return user.id;
    } catch (error) {
      deps.logger.warn({ email, err: error instanceof Error ? error.message : String(error) }, 'could not look the leaver up in Slack; offboarding goes on by email');
      return undefined;
    }
  }
  return undefined;
}

async function grantedSince(tx: Tx, person: PersonRef, since: Date): Promise<boolean> {
  const [grant] = await tx.select({ id: grants.id }).from(grants).where(and(grantsOf(person), gt(grants.createdAt, since))).limit(1);
  return Boolean(grant);
}

/** A leaver's pending requests end like expired ones: state and evidence together, and every approver's card says so. */
async function cancelPendingRequests(tx: Tx, deps: AppDeps, person: PersonRef, offboarding: { seq: number; detail: string }): Promise<void> {
  const now = deps.clock.now();
  const reason = `the requester was offboarded (${offboarding.detail})`;
  const cancelled = await tx
    .update(accessRequests)
    .set({ state: 'cancelled', decidedAt: now, decidedBy: 'breakglass', outcomeReason: reason })
    .where(and(eq(accessRequests.state, 'pending'), requestsOf(person)))
    .returning();
  for (const request of cancelled) {
    await deps.ledger.append(tx, {
      kind: 'request.cancelled',
      actor: 'breakglass',
      subject: request.requester,
      resource: request.resource,
      requestId: request.id,
      details: { reason: 'offboarding', offboarding_seq: offboarding.seq, detail: offboarding.detail },
    });
    await enqueue(tx, now, { type: 'refresh_cards', requestId: request.id });
  }
}

interface OpenOffboarding {
  seq: number;
  email: string;
  login: string | null;
  slackUser: string | null;
  deactivatedAt: Date;
  source: string;
}

/**
 * Finishes open offboardings: once the person's breakglass grants are revoked, every system in
 * access.yml is asked (listAccess) for access the person still has; breakglass-managed access is
 * revoked, access breakglass did not grant is reported to security. A provider that fails leaves
 * the offboarding open for the next tick. The record lists each system and when access ended.
 */
export async function completeOffboardings(deps: AppDeps): Promise<number> {
  let completed = 0;
  for (const open of await openOffboardings(deps)) {
    if (await completeOne(deps, open)) completed++;
  }
  return completed;
}

async function openOffboardings(deps: AppDeps): Promise<OpenOffboarding[]> {
  const detected = await deps.db
    .select()
    .from(evidenceEvents)
    .where(
      and(
        eq(evidenceEvents.kind, 'offboarding.detected'),
        sql`not exists (select 1 from evidence_events done where done.kind = 'offboarding.completed' and done.subject = ${evidenceEvents.subject} and done.seq > ${evidenceEvents.seq})`,
      ),
    )
    .orderBy(desc(evidenceEvents.seq))
    .limit(20);
  return detected.map((event) => {
    const details = readDetails('offboarding.detected', event.details);
    return {
      seq: event.seq,
      email: event.subject ?? '',
      login: details?.login ?? null,
      slackUser: details?.slack_user ?? null,
      deactivatedAt: new Date(details?.deactivated_at ?? Number.NaN),
      source: details?.source ?? 'unknown',
    };
  });
}

/**
 * Every name the providers may know the leaver by, lower-cased: their emails (the default IAM user
 * name), the principals their grants used, the names the configured providers derive from their
 * emails, and the access.yml `people:` principals of each of their Slack ids or of an override
 * naming one of their emails.
 */
function principalsOf(deps: AppDeps, emails: string[], slackIds: Set<string | null>, personGrants: Array<{ principal: string | null }>): Set<string> {
  const names = new Set(emails);
  for (const grant of personGrants) if (grant.principal) names.add(grant.principal.toLowerCase());
  for (const [slackId, person] of Object.entries(deps.access.config.people)) {
    const theirs = slackIds.has(slackId) || (person.email !== undefined && emails.includes(person.email.toLowerCase()));
    if (theirs) for (const name of principalOverrides(targetsOf(deps), person, [person.email, ...emails])) names.add(name.toLowerCase());
  }
  for (const name of principalOverrides(targetsOf(deps), undefined, emails)) names.add(name.toLowerCase());
  return names;
}

/** Open sessions a revoke during the offboarding ended, recorded with its completion. */
type EndedSessions = { grant: typeof grants.$inferSelect; provider: string; sessions: SessionsEnded };

type SystemRecord = {
  resource: string;
  provider: string;
  outcome: 'no_access' | 'revoked' | 'unmanaged_reported';
  ended_at: string | null;
  principals?: string[];
  removals_confirmed?: Array<{ grant_id: number; system: string; confirmed_by: string | null; confirmed_at: string | null }>;
};

async function completeOne(deps: AppDeps, open: OpenOffboarding): Promise<boolean> {
  const emails = emailsOf({ emails: [open.email, open.login] });
  const personGrants = await deps.db.select().from(grants).where(grantsOf({ emails, slackUserId: open.slackUser }));
  if (personGrants.some(isHeld)) return false;
  const principals = principalsOf(deps, emails, new Set([open.slackUser, ...personGrants.map((g) => g.person)]), personGrants);
  const matches = (entry: AccessEntry) => principals.has(entry.principal.toLowerCase()) || (entry.email !== undefined && emails.includes(entry.email.toLowerCase()));
  const systems: SystemRecord[] = [];
  const sessionsEnded: EndedSessions[] = [];
  for (const [resource, config] of Object.entries(deps.access.config.resources)) {
    const provider = deps.providers.forTarget(config.grant);
    // Granted by hand: nothing to list; the record names who confirmed each removal, and when.
    if (provider.canList === false) {
      systems.push(await confirmedRemovals(deps, resource, provider.name, personGrants));
      continue;
    }
    try {
      systems.push(await listedSystem(deps, { resource, target: config.grant, provider }, personGrants, matches, sessionsEnded));
    } catch (error) {
      deps.logger.warn({ email: open.email, resource, err: error instanceof Error ? error.message : String(error) }, 'offboarding check failed; will retry');
      return false;
    }
  }
  await recordCompletion(deps, open, systems, sessionsEnded);
  deps.wake.outbox();
  return true;
}

/**
 * What a listed provider shows of the leaver on one resource: nothing (with when breakglass's own
 * revoke ended it), access breakglass granted (revoked now and checked gone), or unmanaged access.
 */
async function listedSystem(
  deps: AppDeps,
  at: { resource: string; target: GrantTarget; provider: AccessProvider },
  personGrants: Array<typeof grants.$inferSelect>,
  matches: (entry: AccessEntry) => boolean,
  sessionsEnded: EndedSessions[],
): Promise<SystemRecord> {
  const { resource, target, provider } = at;
  let remaining = (await listNoted(deps, provider, resource, target)).filter(matches);
  const grant = personGrants.find((g) => g.resource === resource);
  if (remaining.length > 0 && grant) {
    // Managed: revoke what breakglass granted, then confirm it is gone.
    const sessions = sessionsEndedBy(await provider.revoke(grantSpec(grant)));
    if (sessions) sessionsEnded.push({ grant, provider: provider.name, sessions });
    remaining = (await listNoted(deps, provider, resource, target)).filter(matches);
    if (remaining.length > 0) throw new Error(`${provider.name} still lists the access after revoke`);
    return { resource, provider: provider.name, outcome: 'revoked', ended_at: deps.clock.now().toISOString() };
  }
  if (remaining.length > 0) return { resource, provider: provider.name, outcome: 'unmanaged_reported', ended_at: null, principals: remaining.map((r) => r.principal) };
  const revokedByGrant = personGrants.filter((g) => g.resource === resource && g.revokeReason === 'offboarding' && g.revokedAt).map((g) => g.revokedAt!.getTime());
  const ended = revokedByGrant.length > 0 ? new Date(Math.max(...revokedByGrant)).toISOString() : null;
  return { resource, provider: provider.name, outcome: ended ? 'revoked' : 'no_access', ended_at: ended };
}

/** offboarding.completed, once across replicas, with the SLA judged from the systems' end times, and its alert. */
async function recordCompletion(deps: AppDeps, open: OpenOffboarding, systems: SystemRecord[], sessionsEnded: EndedSessions[]): Promise<void> {
  const now = deps.clock.now();
  const unmanaged = systems.filter((s) => s.outcome === 'unmanaged_reported').map((s) => s.resource);
  const endTimes = systems.map((s) => (s.ended_at ? new Date(s.ended_at).getTime() : open.deactivatedAt.getTime()));
  const accessEndedAt = new Date(Math.max(open.deactivatedAt.getTime(), ...endTimes));
  const sla = deps.access.config.offboarding.sla;
  const slaMet = unmanaged.length === 0 && accessEndedAt.getTime() - open.deactivatedAt.getTime() <= sla;
  await deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`offboarding:${open.email}`}))`);
    const [already] = await tx
      .select({ seq: evidenceEvents.seq })
      .from(evidenceEvents)
      .where(and(eq(evidenceEvents.kind, 'offboarding.completed'), eq(evidenceEvents.subject, open.email), gt(evidenceEvents.seq, open.seq)))
      .limit(1);
    if (already) return;
    for (const { grant, provider, sessions } of sessionsEnded) {
      await recordSessionsEnded(tx, deps, { subject: grant.person, resource: grant.resource, requestId: grant.requestId }, { grantId: grant.id, provider, sessions, reason: 'offboarding' });
    }
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
        sla_met: slaMet,
        took_ms: accessEndedAt.getTime() - open.deactivatedAt.getTime(),
        systems,
        unmanaged_access: unmanaged,
      },
    });
    if (unmanaged.length === 0 && slaMet) return;
    await raiseAlert(tx, deps, {
      kind: 'offboarding',
      notification: unmanaged.length > 0 ? { kind: 'offboarding_unmanaged', email: open.email, resources: unmanaged } : { kind: 'offboarding_sla_missed', email: open.email, slaMs: sla },
      subject: open.email,
    });
  });
}

/** A system granted by hand: every grant the person had of it, each with the owner who confirmed its removal. */
async function confirmedRemovals(deps: AppDeps, resource: string, provider: string, personGrants: Array<typeof grants.$inferSelect>): Promise<SystemRecord> {
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
