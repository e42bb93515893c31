import { and, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { accessRequests, evidenceEvents, grants, LIVE_GRANT_STATES, offboardings } from '../db/schema.ts';
import { formatDuration } from '../domain/duration.ts';
import type { AppDeps } from './deps.ts';
import { cancelPendingRequests } from './cancel-requests.ts';
import { emailsOf, grantsOf, offboardingsOf, requestsOf, type PersonRef } from './leavers.ts';
import { learnPeople } from './learn-people.ts';
import { leaverObservation } from './people-sightings.ts';
import { findPerson } from '../reports/access/person-aliases.ts';

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
    await cancelLeaversRequests(tx, deps, person, { seq: detected.seq, detail: leaver.detail ?? `${leaver.source} deactivation` });
    // Checked by completeOffboardings until a listing shows none of the leaver's access left.
    await tx.insert(offboardings).values({ detectedSeq: detected.seq, subject: email, nextCheckAt: now }).onConflictDoNothing();
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
async function cancelLeaversRequests(tx: Tx, deps: AppDeps, person: PersonRef, offboarding: { seq: number; detail: string }): Promise<void> {
  await cancelPendingRequests(
    tx,
    deps,
    deps.clock.now(),
    { where: and(eq(accessRequests.state, 'pending'), requestsOf(person)), outcomeReason: `the requester was offboarded (${offboarding.detail})` },
    () => ({ details: { reason: 'offboarding', offboarding_seq: offboarding.seq, detail: offboarding.detail } }),
  );
}

export { completeOffboardings } from './complete-offboarding.ts';
