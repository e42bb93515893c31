import { and, desc, eq, inArray, or, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { accessRequests, evidenceEvents, grants } from '../db/schema.ts';
import { readDetails, type EventDetails } from '../domain/events.ts';
import { LEFT_STATUSES } from '../domain/review.ts';
import type { AppDeps } from './deps.ts';

/**
 * One human as breakglass may know them: any of their emails (Slack profile, Okta login, Okta
 * email; compared case-insensitively, since Slack keeps the capitals people type) and their Slack id.
 */
export interface PersonRef {
  emails: Array<string | null | undefined>;
  slackUserId?: string | null | undefined;
}

/** An offboarding on record, and why the person still counts as gone. */
export interface LeftFacts {
  /** Seq of the `offboarding.detected` event. */
  seq: number;
  deactivatedAt: Date;
  /** What the directory said: `Okta status DEPROVISIONED`, `Slack account deactivated`. */
  detail: string;
  /** What breakglass sees now: `Okta status SUSPENDED`, `Slack account deactivated`, `not in Okta`, … */
  now: string;
}

export interface LeaverStatus {
  /** The newest offboarding of this person on record (0: none), so a transaction can spot a newer one. */
  seenSeq: number;
  /** Set while the person counts as gone: they were offboarded and are not active again. */
  left?: LeftFacts;
}

export function emailsOf(person: PersonRef): string[] {
  return [...new Set(person.emails.filter((e): e is string => Boolean(e)).map((e) => e.trim().toLowerCase()))];
}

function belongsTo(emailColumn: SQLWrapper, slackColumn: SQLWrapper, person: PersonRef): SQL {
  const emails = emailsOf(person);
  const byEmail = emails.length > 0 ? inArray(sql`lower(${emailColumn})`, emails) : sql`false`;
  return (person.slackUserId ? or(byEmail, eq(slackColumn, person.slackUserId)) : byEmail)!;
}

/** The person's grants, by any of their emails or their Slack id. */
export const grantsOf = (person: PersonRef): SQL => belongsTo(grants.email, grants.person, person);

/** The person's requests, by any of their emails or their Slack id. */
export const requestsOf = (person: PersonRef): SQL => belongsTo(accessRequests.requesterEmail, accessRequests.requester, person);

/** The person's `offboarding.detected` events, by any of their emails, their Okta login or their Slack id. */
export function offboardingsOf(person: PersonRef): SQL {
  const emails = emailsOf(person);
  const matches = [
    ...(emails.length > 0 ? [inArray(sql`lower(${evidenceEvents.subject})`, emails), inArray(sql`${evidenceEvents.details}->>'login'`, emails)] : []),
    ...(person.slackUserId ? [eq(sql`${evidenceEvents.details}->>'slack_user'`, person.slackUserId)] : []),
  ];
  return and(eq(evidenceEvents.kind, 'offboarding.detected'), matches.length > 0 ? or(...matches) : sql`false`)!;
}

/** An offboarding.detected event; details undefined when not of its catalogued shape (the person still counts as gone). */
type Offboarding = { seq: number; subject: string | null; details: EventDetails<'offboarding.detected'> | undefined };

async function latestOffboarding(db: Db | Tx, person: PersonRef): Promise<Offboarding | undefined> {
  const [found] = await db
    .select({ seq: evidenceEvents.seq, subject: evidenceEvents.subject, details: evidenceEvents.details })
    .from(evidenceEvents)
    .where(offboardingsOf(person))
    .orderBy(desc(evidenceEvents.seq))
    .limit(1);
  return found && { ...found, details: readDetails('offboarding.detected', found.details) };
}

/**
 * Whether the person was offboarded and is still gone. Being offboarded ends when they are active
 * again everywhere breakglass can ask: a Slack account that is not deactivated, and, with Okta, a
 * user Okta does not list as DEPROVISIONED or SUSPENDED (for an offboarding Okta reported, one Okta
 * still has). Only a person with an offboarding on record costs those lookups. A directory that
 * cannot be asked counts as "still gone": a re-hire waits a minute rather than a leaver getting in.
 */
export async function leaverStatus(deps: Pick<AppDeps, 'db' | 'directory' | 'identities'>, person: PersonRef): Promise<LeaverStatus> {
  const found = await latestOffboarding(deps.db, person);
  if (!found) return { seenSeq: 0 };
  const now = await stillGone(deps, person, found);
  return now ? { seenSeq: found.seq, left: facts(found, now) } : { seenSeq: found.seq };
}

/** An offboarding recorded after `seenSeq`: one that arrived while the caller was deciding. Reads inside the caller's transaction. */
export async function offboardedSince(tx: Tx, person: PersonRef, seenSeq: number): Promise<LeftFacts | undefined> {
  const found = await latestOffboarding(tx, person);
  return found && found.seq > seenSeq ? facts(found, 'just offboarded') : undefined;
}

function facts(found: Offboarding, now: string): LeftFacts {
  const at = new Date(found.details?.deactivated_at ?? Number.NaN);
  return { seq: found.seq, deactivatedAt: Number.isNaN(at.getTime()) ? new Date(0) : at, detail: found.details?.detail ?? found.details?.source ?? 'deactivated', now };
}

async function stillGone(deps: Pick<AppDeps, 'directory' | 'identities'>, person: PersonRef, offboarding: Offboarding): Promise<string | null> {
  const slackUserId = person.slackUserId ?? offboarding.details?.slack_user ?? undefined;
  if (slackUserId) {
    try {
      const user = await deps.directory.user(slackUserId);
      if (!user || user.deleted) return 'Slack account deactivated';
    } catch (error) {
      return `Slack could not be asked (${error instanceof Error ? error.message : String(error)})`;
    }
  }
  if (!deps.identities) return null;
  // A Slack leaver with no visible email was recorded under a placeholder Okta cannot know.
  const refs = emailsOf({ emails: [offboarding.details?.login, offboarding.subject, ...person.emails] }).filter((ref) => !ref.endsWith('.invalid'));
  try {
    for (const ref of refs) {
      const user = await deps.identities.lookupUser(ref);
      if (!user) continue;
      return user.status && LEFT_STATUSES.has(user.status) ? `Okta status ${user.status}` : null;
    }
  } catch (error) {
    return `Okta could not be asked (${error instanceof Error ? error.message : String(error)})`;
  }
  return offboarding.details?.source === 'okta' ? 'not in Okta' : null;
}

/** `offboarded on 2026-03-02 10:00 UTC (Okta status DEPROVISIONED; now: Okta status DEPROVISIONED)`, for refusals. */
export function describeLeft(left: LeftFacts): string {
  return `offboarded on ${left.deactivatedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC (${left.detail}; now: ${left.now})`;
}
