import { createHash } from 'node:crypto';
import { Cron } from 'croner';

/**
 * Access-review rules that need no I/O: when campaigns start, what period a start belongs to,
 * how a card is paged, and who counts as the same person. Times are UTC.
 */

/** `quarterly`: 09:00 UTC on the first working day (Monday–Friday) of January, April, July and October. */
export const QUARTERLY_CRON = '0 9 1W 1,4,7,10 *';

export interface ReviewSchedule {
  /** As written in access.yml. */
  expression: string;
  /** The first occurrence strictly after `after`, or undefined when the expression never fires again. */
  next(after: Date): Date | undefined;
  /** The period an occurrence starts: `2026-Q2` for quarterly, else the occurrence `2026-04-01T09:00Z`. */
  periodOf(occurrence: Date): string;
  /** The period `now` falls in, for an on-demand start: the latest occurrence at or before now, else the quarter. */
  currentPeriod(now: Date): string;
}

/** Parses `quarterly` or a 5- or 6-field cron expression in UTC (croner: standard cron semantics, plus `W`, `L` and `#`). */
export function reviewSchedule(expression: string): ReviewSchedule {
  const quarterly = expression.trim().toLowerCase() === 'quarterly';
  const cron = new Cron(quarterly ? QUARTERLY_CRON : expression.trim(), { timezone: 'UTC', paused: true, mode: '5-or-6-parts' });
  const periodOf = (occurrence: Date) => (quarterly ? quarterOf(occurrence) : `${occurrence.toISOString().slice(0, 16)}Z`);
  return {
    expression,
    next: (after) => cron.nextRun(after) ?? undefined,
    periodOf,
    currentPeriod: (now) => {
      if (quarterly) return quarterOf(now);
      const [last] = cron.previousRuns(1, new Date(now.getTime() + 1));
      return last ? periodOf(last) : quarterOf(now);
    },
  };
}

/** Why a schedule is not usable, or undefined when it is. */
export function scheduleProblem(expression: string): string | undefined {
  try {
    const schedule = reviewSchedule(expression);
    if (!schedule.next(new Date())) return `"${expression}" never fires again`;
    return undefined;
  } catch (error) {
    return `"${expression}" is neither "quarterly" nor a cron expression (${(error as Error).message.replace(/^CronPattern: /, '')}); write e.g. "0 9 1 */3 *"`;
  }
}

export function quarterOf(date: Date): string {
  return `${date.getUTCFullYear()}-Q${Math.floor(date.getUTCMonth() / 3) + 1}`;
}

/** The part of a campaign's idempotency key that names what it covers. */
export function scopeKey(scope: readonly string[]): string {
  return [...new Set(scope)].sort().join(',');
}

/**
 * Lines a card shows at once. A card page is at most 4 header blocks + 2 blocks a line + 3 footer
 * blocks = 47, under Slack's 50 blocks a message.
 */
export const REVIEW_LINES_PER_PAGE = 20;

export function pageCount(lines: number): number {
  return Math.max(1, Math.ceil(lines / REVIEW_LINES_PER_PAGE));
}

export function clampPage(page: number, lines: number): number {
  return Math.min(Math.max(0, Math.trunc(page)), pageCount(lines) - 1);
}

/** Okta statuses of people who no longer work here: their access goes straight to revoke. */
export const LEFT_STATUSES: ReadonlySet<string> = new Set(['DEPROVISIONED', 'SUSPENDED']);

export interface Identity {
  directoryId?: string | undefined;
  email?: string | undefined;
  slackId?: string | undefined;
}

/** Two records are one human when any identifier they both have matches (ids exactly, emails case-insensitively). */
export function samePerson(a: Identity, b: Identity): boolean {
  if (a.directoryId && b.directoryId && a.directoryId === b.directoryId) return true;
  if (a.slackId && b.slackId && a.slackId === b.slackId) return true;
  return Boolean(a.email && b.email && a.email.trim().toLowerCase() === b.email.trim().toLowerCase());
}

/** The manager reference a profile attribute holds (an id, login or email), or undefined when empty. */
export function managerRef(value: unknown): string | undefined {
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return managerRef(value[0]);
  return undefined;
}

/** What a campaign's population hash covers, one line of access each. */
export interface PopulationLine {
  resource: string;
  principal: string;
  email: string | null;
  grantId: number | null;
  requestId: number | null;
  route: string;
  /** The card's recipient (a Slack user or the security channel); null for leavers. */
  reviewer: string | null;
}

/**
 * SHA-256 over the population in a fixed order (resource, then principal case-insensitively), one
 * RFC 8785 canonical JSON line per item. `review.started` records it; the report recomputes it from
 * the stored lines, so an edited or deleted line shows.
 */
export function populationHash(lines: readonly PopulationLine[]): string {
  const sorted = [...lines].sort(comparePopulation);
  const hash = createHash('sha256');
  for (const l of sorted) hash.update(`${canonicalLine(l)}\n`);
  return hash.digest('hex');
}

export function comparePopulation(a: { resource: string; principal: string }, b: { resource: string; principal: string }): number {
  return a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : a.principal.toLowerCase() < b.principal.toLowerCase() ? -1 : a.principal.toLowerCase() > b.principal.toLowerCase() ? 1 : a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : 0;
}

/**
 * RFC 8785 canonical JSON of one population line. Every value is a string, an integer or null, for
 * which JSON.stringify with the keys in sorted order is exactly the canonical form (a test checks
 * it against the canonicalize library); it is also far cheaper for tens of thousands of lines.
 */
export function canonicalLine(l: PopulationLine): string {
  return JSON.stringify({ email: l.email, grant_id: l.grantId, principal: l.principal, request_id: l.requestId, resource: l.resource, reviewer: l.reviewer, route: l.route });
}
