import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { grants, HELD_GRANT_STATES, inventoryListings, type GrantState, type InventoryHolder } from '../db/schema.ts';
import type { AccessEntry } from '../ports.ts';
import type { AppDeps } from './deps.ts';

export type ListingSource = 'drift' | 'review' | 'offboarding' | 'revoke';
export type BasisHint = 'grant' | 'kept' | 'revoking' | 'unmanaged';

export interface Listing {
  resource: string;
  provider: string;
  entries: AccessEntry[];
  source: ListingSource;
  /** When the provider answered (default: when it is recorded). */
  listedAt?: Date;
  /** What the caller already knows of an entry (the drift pass's verdict); grants are looked up otherwise. */
  explain?: (entry: AccessEntry) => { basis: BasisHint; grantId?: number | undefined } | undefined;
}

export interface ListingOutcome {
  observed: number;
  gone: number;
  /** False when a newer listing of the resource was already recorded (this one is stale and changes nothing). */
  recorded: boolean;
}

/** The least gap between two listings that still counts as continuous knowledge. */
const MIN_COVERAGE_GAP_MS = 10 * 60_000;

/**
 * Listings further apart than this leave the time between them uncovered: breakglass cannot say
 * who held the resource then. Twice the drift pass's interval tolerates one pass that failed.
 */
export function coverageGapMs(deps: Pick<AppDeps, 'access'>): number {
  return Math.max(MIN_COVERAGE_GAP_MS, 2 * deps.access.config.drift.every);
}

/**
 * Records what a listing of a resource changed since the previous one: `access.observed` for each
 * holder it did not show, `access.gone` for each it showed that is no longer there. A listing that
 * changes nothing writes no event; it only extends the resource's covered span (inventory_listings),
 * in the same transaction, so the timeline can tell "nobody" from "not known".
 */
export async function recordListing(deps: Pick<AppDeps, 'db' | 'ledger' | 'clock' | 'access'>, listing: Listing): Promise<ListingOutcome> {
  const known = await personOf(deps.db, deps, listing.resource);
  return deps.db.transaction((tx) => recordListingIn(tx, deps, listing, known));
}

/**
 * recordListing inside the caller's transaction, so the inventory's events commit with the state
 * change the listing confirmed (a revoke).
 */
export async function recordListingIn(tx: Tx, deps: Pick<AppDeps, 'ledger' | 'clock' | 'access'>, listing: Listing, known?: Known): Promise<ListingOutcome> {
  known ??= await personOf(tx, deps, listing.resource);
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`inventory:${listing.resource}`}))`);
  const listedAt = listing.listedAt ?? deps.clock.now();
  const [latest] = await tx.select().from(inventoryListings).where(eq(inventoryListings.resource, listing.resource)).orderBy(desc(inventoryListings.coveredTo), desc(inventoryListings.id)).limit(1);
  if (latest && latest.coveredTo > listedAt) return { observed: 0, gone: 0, recorded: false };
  const previous = latest?.holders ?? {};
  const current: Record<string, InventoryHolder> = {};
  let observed = 0;
  for (const entry of listing.entries) {
    const key = entry.principal.toLowerCase();
    if (current[key]) continue;
    const before = previous[key];
    const person = before?.person ?? known.person(entry);
    current[key] = { principal: entry.principal, email: entry.email ?? before?.email ?? null, person, firstSeenAt: before?.firstSeenAt ?? listedAt.toISOString() };
    if (before) continue;
    const hint = listing.explain?.(entry) ?? known.basis(entry);
    await appendObserved(tx, deps, listing, entry, { person, hint, listedAt, previousAt: latest?.coveredTo ?? null });
    observed++;
  }
  let gone = 0;
  for (const [key, holder] of Object.entries(previous)) {
    if (current[key]) continue;
    await deps.ledger.append(tx, {
      kind: 'access.gone',
      actor: 'breakglass',
      subject: holder.person ?? holder.email ?? holder.principal,
      resource: listing.resource,
      details: {
        resource: listing.resource,
        provider: listing.provider,
        principal: holder.principal,
        email: holder.email,
        person: holder.person,
        first_seen_at: holder.firstSeenAt,
        last_seen_at: latest!.coveredTo.toISOString(),
        source: listing.source,
        listed_at: listedAt.toISOString(),
      },
    });
    gone++;
  }
  await extendCoverage(tx, deps, listing, latest, current, listedAt);
  return { observed, gone, recorded: true };
}

async function appendObserved(
  tx: Tx,
  deps: Pick<AppDeps, 'ledger'>,
  listing: Listing,
  entry: AccessEntry,
  seen: { person: string | null; hint: { basis: BasisHint; grantId?: number | undefined }; listedAt: Date; previousAt: Date | null },
): Promise<void> {
  await deps.ledger.append(tx, {
    kind: 'access.observed',
    actor: 'breakglass',
    subject: seen.person ?? entry.email ?? entry.principal,
    resource: listing.resource,
    details: {
      resource: listing.resource,
      provider: listing.provider,
      principal: entry.principal,
      email: entry.email ?? null,
      person: seen.person,
      basis_hint: seen.hint.basis,
      grant_id: seen.hint.grantId ?? null,
      source: listing.source,
      listed_at: seen.listedAt.toISOString(),
      previous_listing_at: seen.previousAt?.toISOString() ?? null,
    },
  });
}

/** The newest span goes on when this listing comes soon enough after it; otherwise a new span starts. */
async function extendCoverage(
  tx: Tx,
  deps: Pick<AppDeps, 'access'>,
  listing: Listing,
  latest: typeof inventoryListings.$inferSelect | undefined,
  holders: Record<string, InventoryHolder>,
  listedAt: Date,
): Promise<void> {
  if (latest && listedAt.getTime() - latest.coveredTo.getTime() <= coverageGapMs(deps)) {
    await tx
      .update(inventoryListings)
      .set({ coveredTo: listedAt, holders, provider: listing.provider, listings: sql`${inventoryListings.listings} + 1` })
      .where(and(eq(inventoryListings.id, latest.id)));
    return;
  }
  await tx.insert(inventoryListings).values({ resource: listing.resource, provider: listing.provider, coveredFrom: listedAt, coveredTo: listedAt, holders });
}

type Known = Awaited<ReturnType<typeof personOf>>;

/** Who a listed principal is (their Slack id) and whether a live breakglass grant explains the access. */
async function personOf(db: Db | Tx, deps: Pick<AppDeps, 'access'>, resource: string) {
  const rows = await db.select({ id: grants.id, person: grants.person, email: grants.email, principal: grants.principal, principalId: grants.principalId, state: grants.state }).from(grants).where(eq(grants.resource, resource));
  const names = (entry: AccessEntry) => [entry.principal.toLowerCase(), entry.email?.toLowerCase()].filter((n): n is string => Boolean(n));
  const byId = (g: { principalId: string | null }, entry: AccessEntry) => g.principalId !== null && entry.principalId === g.principalId;
  const grantsOf = (entry: AccessEntry) => rows.filter((g) => byId(g, entry) || names(entry).includes(g.email.toLowerCase()) || (g.principal !== null && names(entry).includes(g.principal.toLowerCase())));
  const people = Object.entries(deps.access.config.people);
  return {
    person(entry: AccessEntry): string | null {
      const granted = grantsOf(entry).at(-1);
      if (granted) return granted.person;
      const mine = names(entry);
      const configured = people.find(([, fields]) => Object.values(fields).some((v) => typeof v === 'string' && mine.includes(v.toLowerCase())));
      return configured?.[0] ?? null;
    },
    basis(entry: AccessEntry): { basis: BasisHint; grantId?: number } {
      const held = grantsOf(entry).find((g) => (HELD_GRANT_STATES as readonly GrantState[]).includes(g.state));
      return held ? { basis: 'grant', grantId: held.id } : { basis: 'unmanaged' };
    },
  };
}

/**
 * recordListing for a pass whose own work must not stop when the inventory cannot be written (an
 * offboarding, a review's build): the failure is logged, and the next listing records the change.
 */
export async function noteListing(deps: Pick<AppDeps, 'db' | 'ledger' | 'clock' | 'access' | 'logger'>, listing: Listing): Promise<void> {
  try {
    await recordListing(deps, listing);
  } catch (error) {
    deps.logger.warn({ resource: listing.resource, source: listing.source, err: error instanceof Error ? error.message : String(error) }, 'could not record the access inventory of a listing');
  }
}
