import { randomUUID } from 'node:crypto';
import { and, desc, eq, inArray, isNull, lte, ne, or, sql } from 'drizzle-orm';
import { enqueue } from '../db/outbox.ts';
import { insertReviewItems } from '../db/review-items-repo.ts';
import { grants, HELD_GRANT_STATES, reviewCampaigns, reviewCards, reviewItems, type OutboxMessage, type ReviewRoute } from '../db/schema.ts';
import { comparePopulation, LEFT_STATUSES, managerRef, populationHash, samePerson } from '../domain/review.ts';
import { ProviderError, type AccessEntry, type DirectoryPerson, type GrantTarget, type SlackUser } from '../ports.ts';
import type { Notification } from '../domain/notifications.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';
import { noteListing } from './record-listing.ts';
import type { Tx } from '../db/client.ts';
import { principalOverrides } from '../providers/registry.ts';
import { targetsOf } from './grant-specs.ts';
import { limiter, mapLimit } from './limit.ts';
import { backoffMs } from '../domain/backoff.ts';
import { claimDue } from '../db/claim-due.ts';
import { learnPeople } from './learn-people.ts';
import { directoryObservation } from './people-sightings.ts';
import type { PersonObservation } from '../domain/people.ts';
import { confirmedGrantsOf } from './manual-review.ts';

/**
 * While a replica builds a campaign no other touches it; the builder renews the lease as it goes,
 * so a crash frees the campaign for another replica (or the restarted bot) within this.
 */
const BUILD_LEASE_MS = 30_000;
const BUILD_RENEW_MS = 10_000;
const MAX_BUILD_BACKOFF_MS = 5 * 60_000;
/** Providers listed at once, and directory lookups in flight at once: enough to be quick, few enough to stay under rate limits. */
const LIST_CONCURRENCY = 4;
const IDENTITY_CONCURRENCY = 16;
const SLACK_CONCURRENCY = 8;
/** Manager chains longer than this are treated as broken (a loop nobody noticed). */
const MAX_CHAIN = 12;
/** Lines being routed at once. */
const ROUTE_CONCURRENCY = 64;
/** Lines a statement. */
const INSERT_BATCH = 2_000;

type Campaign = typeof reviewCampaigns.$inferSelect;
type Grant = typeof grants.$inferSelect;
type ItemRow = typeof reviewItems.$inferInsert;

interface Route {
  route: ReviewRoute;
  /** The reviewer's Slack id; undefined means the security channel. */
  reviewer?: string | undefined;
  note?: string | undefined;
  /** The reviewer's own directory record, to find whom to escalate to. */
  reviewerPerson?: DirectoryPerson | undefined;
}

interface PlannedItem extends Omit<ItemRow, 'campaignId' | 'cardId'> {
  recipient: string | undefined;
}

interface PlannedCard {
  audience: 'manager' | 'security';
  recipient: string;
  escalateTo: string | undefined;
}

/** A resource in scope that the campaign does not review, and why. */
export interface SkippedResource {
  resource: string;
  reason: string;
}

export interface CampaignPlan {
  items: PlannedItem[];
  cards: PlannedCard[];
  /** The resources reviewed, each with its grant target (skipped ones are left out). */
  targets: Record<string, GrantTarget>;
  populationHash: string;
  /** Everyone the identity directory answered for while planning: the people reviewed and their managers. */
  directory: DirectoryPerson[];
  stats: { items: number; people: number; reviewers: number; security_items: number; left_items: number; unmanaged_items: number; new_items: number; skipped_resources: SkippedResource[] };
}

/**
 * Builds one requested campaign, if any is waiting: claims it under a lease (FOR UPDATE SKIP
 * LOCKED, so replicas take different campaigns and never build one twice), lists the current
 * access at each provider in scope and routes every line to a reviewer outside any transaction,
 * then opens the campaign in one transaction with its items, cards, `review.started` and the
 * outbox messages that deliver the cards. A failure is retried with backoff and alerted once.
 * Returns how many campaigns it opened (0 or 1).
 */
export async function buildRequestedCampaigns(deps: AppDeps): Promise<number> {
  const claimed = await claimRequested(deps);
  if (!claimed) return 0;
  const started = Date.now();
  const renew = setInterval(() => {
    deps.db
      .update(reviewCampaigns)
      .set({ buildLeaseUntil: new Date(deps.clock.now().getTime() + BUILD_LEASE_MS) })
      .where(and(eq(reviewCampaigns.id, claimed.campaign.id), eq(reviewCampaigns.buildToken, claimed.token)))
      .catch((error: unknown) => deps.logger.warn({ err: error, campaignId: claimed.campaign.id }, 'could not renew the build lease'));
  }, BUILD_RENEW_MS);
  try {
    const plan = await planCampaign(deps, claimed.campaign);
    const opened = await openCampaign(deps, claimed.campaign, claimed.token, plan);
    deps.logger.info({ campaignId: claimed.campaign.id, period: claimed.campaign.period, ...plan.stats, ms: Date.now() - started, opened }, 'access review built');
    if (opened) deps.wake.outbox();
    if (opened) await learnPeople(deps, 'review', reviewObservations(deps, plan));
    return opened ? 1 : 0;
  } catch (error) {
    await recordBuildFailure(deps, claimed.campaign, claimed.token, error);
    return 0;
  } finally {
    clearInterval(renew);
  }
}

async function claimRequested(deps: AppDeps): Promise<{ campaign: Campaign; token: string } | undefined> {
  const now = deps.clock.now();
  const token = randomUUID();
  const isDue = and(eq(reviewCampaigns.state, 'requested'), or(isNull(reviewCampaigns.buildLeaseUntil), lte(reviewCampaigns.buildLeaseUntil, now)));
  // The worker asks every tick; a plain read first keeps the idle case out of a transaction.
  const [campaign] = await claimDue(deps.db, {
    table: reviewCampaigns,
    id: reviewCampaigns.id,
    isDue,
    limit: 1,
    claim: (tx, ids) =>
      tx
        .update(reviewCampaigns)
        .set({ buildToken: token, buildLeaseUntil: new Date(now.getTime() + BUILD_LEASE_MS), buildAttempts: sql`${reviewCampaigns.buildAttempts} + 1` })
        .where(inArray(reviewCampaigns.id, ids))
        .returning(),
  });
  return campaign ? { campaign, token } : undefined;
}

/** Everything the campaign will hold, worked out from the providers and directories; writes nothing. */
export async function planCampaign(deps: AppDeps, campaign: Campaign): Promise<CampaignPlan> {
  const { targets, skipped } = scopeTargets(deps, campaign);
  const listed = await listPopulation(deps, targets, skipped);
  const resolver = new Resolver(deps);
  const { items, people } = await planItems(deps, campaign, listed, resolver);
  const cards = await planCards(deps, items, resolver);
  items.sort(comparePopulation);
  const hash = populationHash(
    items.map((i) => ({ resource: i.resource, principal: i.principal, email: i.email ?? null, grantId: i.grantId ?? null, requestId: i.requestId ?? null, route: i.route, reviewer: i.recipient ?? null })),
  );
  return {
    items,
    cards,
    targets,
    populationHash: hash,
    directory: resolver.seen(),
    stats: {
      items: items.length,
      people: people.size,
      reviewers: cards.filter((c) => c.audience === 'manager').length,
      security_items: items.filter((i) => i.route === 'security').length,
      left_items: items.filter((i) => i.route === 'left').length,
      unmanaged_items: items.filter((i) => i.grantId === null).length,
      new_items: items.filter((i) => i.isNew === true).length,
      skipped_resources: skipped,
    },
  };
}

type Listing = { resource: string; entries: AccessEntry[] };

function scopeTargets(deps: AppDeps, campaign: Campaign): { targets: Record<string, GrantTarget>; skipped: SkippedResource[] } {
  const targets: Record<string, GrantTarget> = {};
  const skipped: SkippedResource[] = [];
  for (const resource of campaign.scope) {
    const target = deps.access.config.resources[resource]?.grant;
    if (target) targets[resource] = target;
    else skipped.push({ resource, reason: 'no longer in access.yml' });
  }
  return { targets, skipped };
}

/**
 * 1. The population: current access at each provider, whoever granted it. A resource that cannot
 * be listed for good (its group was deleted, no provider is configured for it) is skipped with the
 * reason rather than holding up every other resource's review (and leaves `targets`); a failure
 * that may pass fails the build, which is retried.
 */
async function listPopulation(deps: AppDeps, targets: Record<string, GrantTarget>, skipped: SkippedResource[]): Promise<Listing[]> {
  const listings = await mapLimit(Object.keys(targets), LIST_CONCURRENCY, async (resource) => {
    const target = targets[resource]!;
    try {
      const provider = deps.providers.forTarget(target);
      // Granted by hand: no listing exists, so the population is breakglass's grants its owners confirmed (not a sighting at a provider).
      if (provider.canList === false) return { resource, entries: await confirmedGrantsOf(deps, resource) };
      const entries = await provider.listAccess(resource, target);
      await noteListing(deps, { resource, provider: provider.name, entries, source: 'review' });
      return { resource, entries };
    } catch (error) {
      skipped.push({ resource, reason: permanentReason(error) });
      delete targets[resource];
      return undefined;
    }
  });
  const listed = listings.filter((l) => l !== undefined);
  if (listed.length === 0 && listings.length > 0) {
    // A review of nothing would pass for a finished one: build it once a provider answers.
    throw new Error(`no resource in scope could be listed (${skipped.map((s) => `${s.resource}: ${s.reason}`).join('; ')})`);
  }
  skipped.sort((a, b) => a.resource.localeCompare(b.resource));
  return listed;
}

/**
 * 2–3. One line per access found: how it was granted, whether it is new since the last review of
 * its resource, who the person is, whether they are still here, and who reviews it.
 */
async function planItems(deps: AppDeps, campaign: Campaign, listed: Listing[], resolver: Resolver): Promise<{ items: PlannedItem[]; people: Set<string> }> {
  const resources = listed.map((l) => l.resource);
  const granted = await grantIndex(deps, resources);
  const previous = await previousItems(deps, campaign, resources);
  for (const { entries } of listed) for (const entry of entries) if (entry.person) entry.person = resolver.prime(entry.person);
  const items: PlannedItem[] = [];
  const seen = new Set<string>();
  const people = new Set<string>();
  const all = listed.flatMap(({ resource, entries }) => entries.map((entry) => ({ entry, resource })));
  // Bounded, so 30,000 lines are not 30,000 suspended closures at once; the caches make repeats free.
  await mapLimit(all, ROUTE_CONCURRENCY, async ({ entry, resource }) => {
    const key = `${resource}\n${entry.principal.toLowerCase()}`;
    if (seen.has(key)) return;
    seen.add(key);
    const item = await planItem(deps, resolver, { resource, entry, granted, previous: previous.get(resource) });
    people.add(item.person);
    items.push(item.planned);
  });
  // Where a person is also a reviewer, breakglass now knows their Slack id.
  for (const item of items) if (!item.personSlack && item.email) item.personSlack = resolver.knownSlackId(item.email) ?? null;
  return { items, people };
}

type GrantIndex = Awaited<ReturnType<typeof grantIndex>>;
type PreviousReview = Awaited<ReturnType<typeof previousItems>> extends Map<string, infer V> ? V : never;

async function planItem(
  deps: AppDeps,
  resolver: Resolver,
  line: { resource: string; entry: AccessEntry; granted: GrantIndex; previous: PreviousReview | undefined },
): Promise<{ planned: PlannedItem; person: string }> {
  const { resource, entry, granted, previous } = line;
  const now = deps.clock.now();
  // A grant found by its id (on an IAM inline policy) says whose the access is even when the IAM user's name does not.
  const known = granted.match(resource, entry, undefined);
  const who = await resolver.personOf(entry, known?.email);
  const grant = known ?? granted.match(resource, entry, who.person);
  const personSlack = grant?.person ?? who.slackId;
  const route = who.person ? await resolver.route(who.person, personSlack) : { route: 'security' as const, note: who.note };
  const before = previous?.items.get(entry.principal.toLowerCase());
  const planned: PlannedItem = {
    resource,
    principal: entry.principal,
    email: who.person?.email ?? who.email ?? entry.email ?? null,
    personName: who.person ? displayName(who.person) : entry.principal,
    personSlack: personSlack ?? null,
    directoryId: who.person?.id ?? null,
    grantId: grant?.id ?? null,
    requestId: grant?.requestId ?? null,
    since: grant ? (grant.startsAt ?? grant.createdAt) : (before?.since ?? now),
    sinceSource: grant ? 'grant' : 'first_seen',
    isNew: previous ? !before : null,
    route: route.route,
    routeNote: route.note ?? null,
    recipient: route.route === 'left' ? undefined : (route.reviewer ?? deps.access.config.security_channel),
    ...(route.route === 'left' ? { decision: 'revoke' as const, decidedBy: 'breakglass', decidedAt: now, revokeState: 'pending' as const } : {}),
  };
  return { planned, person: who.person?.id ?? who.email ?? entry.principal.toLowerCase() };
}

/** 4. One card per reviewer; a manager's card escalates to their own manager when overdue. */
async function planCards(deps: AppDeps, items: PlannedItem[], resolver: Resolver): Promise<PlannedCard[]> {
  const securityChannel = deps.access.config.security_channel;
  const cards = new Map<string, PlannedCard>();
  for (const item of items) {
    if (!item.recipient || cards.has(item.recipient)) continue;
    cards.set(item.recipient, { audience: item.recipient === securityChannel ? 'security' : 'manager', recipient: item.recipient, escalateTo: undefined });
  }
  await Promise.all(
    [...cards.values()].map(async (card) => {
      if (card.audience !== 'manager') return;
      const reviewerPerson = resolver.reviewerPerson(card.recipient);
      if (!reviewerPerson) return;
      const above = await resolver.route(reviewerPerson, card.recipient);
      if (above.reviewer && above.reviewer !== card.recipient) card.escalateTo = above.reviewer;
    }),
  );
  return [...cards.values()];
}

/** Opens the campaign with everything in it, if this process still holds the build. */
async function openCampaign(deps: AppDeps, campaign: Campaign, token: string, plan: CampaignPlan): Promise<boolean> {
  const now = deps.clock.now();
  const dueAt = new Date(now.getTime() + deps.access.config.reviews.due_in);
  return deps.db.transaction(async (tx) => {
    const [opened] = await tx
      .update(reviewCampaigns)
      .set({
        state: 'open',
        openedAt: now,
        dueAt,
        targets: plan.targets,
        configHash: deps.access.hash,
        populationHash: plan.populationHash,
        itemCount: plan.items.length,
        buildToken: null,
        buildLeaseUntil: null,
        lastError: null,
      })
      .where(and(eq(reviewCampaigns.id, campaign.id), eq(reviewCampaigns.state, 'requested'), eq(reviewCampaigns.buildToken, token)))
      .returning();
    if (!opened) return false;

    const { cardIds, left } = await insertPopulation(tx, campaign, plan);
    await deps.ledger.append(tx, {
      kind: 'review.started',
      actor: campaign.requestedBy,
      details: {
        campaign_id: campaign.id,
        period: campaign.period,
        trigger: campaign.trigger,
        scope: campaign.scope,
        requested_at: campaign.requestedAt.toISOString(),
        due_at: dueAt.toISOString(),
        population_sha256: plan.populationHash,
        config_hash: deps.access.hash,
        ...plan.stats,
      },
    });
    for (const item of left) {
      await deps.ledger.append(tx, {
        kind: 'review.decided',
        actor: 'breakglass',
        subject: item.personSlack ?? item.email ?? item.principal,
        resource: item.resource,
        requestId: item.requestId,
        details: { campaign_id: campaign.id, item_id: item.id, decision: 'revoke', reason: 'left', note: item.routeNote, principal: item.principal, email: item.email, granted_by: item.requestId ? `request #${item.requestId}` : 'unmanaged' },
      });
    }
    const messages: OutboxMessage[] = [...cardIds.values()].map((cardId) => ({ type: 'review_card', cardId }));
    messages.unshift({ type: 'notify_security', notification: startedNotice(campaign, plan, dueAt) });
    await enqueue(tx, now, ...messages);
    return true;
  });
}

/** The campaign's cards and lines; leavers' lines are decided already, and come back with their ids for the evidence. */
async function insertPopulation(tx: Tx, campaign: Campaign, plan: CampaignPlan): Promise<{ cardIds: Map<string, number>; left: Array<PlannedItem & { id: number }> }> {
  const cardIds = new Map<string, number>();
  for (let i = 0; i < plan.cards.length; i += INSERT_BATCH) {
    const rows = await tx
      .insert(reviewCards)
      .values(plan.cards.slice(i, i + INSERT_BATCH).map((c) => ({ campaignId: campaign.id, audience: c.audience, recipient: c.recipient, escalateTo: c.escalateTo ?? null })))
      .returning({ id: reviewCards.id, recipient: reviewCards.recipient });
    for (const row of rows) cardIds.set(row.recipient, row.id);
  }
  const row = ({ recipient, ...item }: PlannedItem) => ({ ...item, campaignId: campaign.id, cardId: recipient ? (cardIds.get(recipient) ?? null) : null });
  for (let i = 0; i < plan.items.length; i += INSERT_BATCH) {
    await insertReviewItems(tx, plan.items.slice(i, i + INSERT_BATCH).filter((item) => item.route !== 'left').map(row));
  }
  const leavers = plan.items.filter((item) => item.route === 'left');
  const leaverIds = await insertReviewItems(tx, leavers.map(row), { returnIds: true });
  return { cardIds, left: leavers.map((item) => ({ ...item, id: leaverIds.get(`${item.resource}\n${item.principal}`)! })) };
}

function startedNotice(campaign: Campaign, plan: CampaignPlan, dueAt: Date): Notification {
  const s = plan.stats;
  return {
    kind: 'review_started',
    campaignId: campaign.id,
    period: campaign.period,
    items: s.items,
    people: s.people,
    resources: Object.keys(plan.targets).length,
    reviewers: s.reviewers,
    dueAt: dueAt.toISOString(),
    securityItems: s.security_items,
    leftItems: s.left_items,
    unmanagedItems: s.unmanaged_items,
    skipped: s.skipped_resources.map((r) => ({ resource: r.resource, reason: r.reason })),
  };
}

async function recordBuildFailure(deps: AppDeps, campaign: Campaign, token: string, error: unknown): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  const now = deps.clock.now();
  const backoff = backoffMs(campaign.buildAttempts, { baseMs: 5_000, maxMs: MAX_BUILD_BACKOFF_MS, jitter: 'none' });
  deps.logger.warn({ campaignId: campaign.id, attempts: campaign.buildAttempts, err: message }, 'access review could not be built; will retry');
  await deps.db.transaction(async (tx) => {
    const [updated] = await tx
      .update(reviewCampaigns)
      .set({ buildToken: null, buildLeaseUntil: new Date(now.getTime() + backoff), lastError: message, ...(campaign.buildAlertedAt ? {} : { buildAlertedAt: now }) })
      .where(and(eq(reviewCampaigns.id, campaign.id), eq(reviewCampaigns.buildToken, token)))
      .returning({ id: reviewCampaigns.id });
    if (!updated || campaign.buildAlertedAt) return;
    await raiseAlert(tx, deps, {
      kind: 'review_build_failed',
      notification: { kind: 'review_build_failed', campaignId: campaign.id, period: campaign.period, error: message },
    });
  });
  deps.wake.outbox();
}

/** Live breakglass grants for the resources, found by grant id, email or IAM user name. */
async function grantIndex(deps: AppDeps, resources: string[]) {
  const rows = resources.length === 0 ? [] : await deps.db.select().from(grants).where(and(inArray(grants.resource, resources), inArray(grants.state, HELD_GRANT_STATES)));
  const byId = new Map<number, Grant>();
  const byKey = new Map<string, Grant>();
  const key = (resource: string, name: string) => `${resource}\n${name.toLowerCase()}`;
  for (const grant of rows.sort((a, b) => a.id - b.id)) {
    byId.set(grant.id, grant);
    byKey.set(key(grant.resource, grant.email), grant);
    if (grant.principal) byKey.set(key(grant.resource, grant.principal), grant);
  }
  return {
    match(resource: string, entry: AccessEntry, person: DirectoryPerson | undefined): Grant | undefined {
      const byGrantId = entry.grantId !== undefined ? byId.get(Number(entry.grantId)) : undefined;
      if (byGrantId && byGrantId.resource === resource) return byGrantId;
      for (const name of [entry.principal, entry.email, person?.email, person?.login]) {
        const found = name ? byKey.get(key(resource, name)) : undefined;
        if (found) return found;
      }
      return undefined;
    },
  };
}

/** For each resource, the last campaign that reviewed it (a campaign that skipped it did not) and the lines it held. */
async function previousItems(deps: AppDeps, campaign: Campaign, resources: string[]): Promise<Map<string, { campaignId: number; items: Map<string, { since: Date | null }> }>> {
  const earlier = await deps.db
    .select({ id: reviewCampaigns.id, targets: reviewCampaigns.targets })
    .from(reviewCampaigns)
    .where(and(inArray(reviewCampaigns.state, ['open', 'closed']), ne(reviewCampaigns.id, campaign.id)))
    .orderBy(desc(reviewCampaigns.openedAt), desc(reviewCampaigns.id));
  const out = new Map<string, { campaignId: number; items: Map<string, { since: Date | null }> }>();
  for (const resource of resources) {
    const last = earlier.find((c) => c.targets !== null && resource in c.targets);
    if (!last) continue;
    const rows = await deps.db
      .select({ principal: reviewItems.principal, since: reviewItems.since })
      .from(reviewItems)
      .where(and(eq(reviewItems.campaignId, last.id), eq(reviewItems.resource, resource)));
    out.set(resource, { campaignId: last.id, items: new Map(rows.map((r) => [r.principal.toLowerCase(), { since: r.since }])) });
  }
  return out;
}

/** Why a lookup failed for good; a failure that may pass on a retry is thrown on, so the build is retried. */
function permanentReason(error: unknown): string {
  if (error instanceof ProviderError && !error.transient) return error.message;
  throw error;
}

function displayName(person: DirectoryPerson): string {
  const first = typeof person.profile['firstName'] === 'string' ? person.profile['firstName'] : '';
  const last = typeof person.profile['lastName'] === 'string' ? person.profile['lastName'] : '';
  const name = `${first} ${last}`.trim();
  return name || person.login || person.email || person.id;
}

/**
 * Who people are and who reviews them, asked of Okta and Slack at most once per person per
 * campaign, with bounded concurrency. Caches hold promises, so concurrent askers share one call.
 */
class Resolver {
  private readonly attr: string;
  private readonly byRef = new Map<string, Promise<DirectoryPerson | undefined>>();
  private readonly people = new Map<string, DirectoryPerson>();
  private readonly slackByEmail = new Map<string, Promise<SlackUser | undefined>>();
  private readonly slackSettled = new Map<string, SlackUser | undefined>();
  private readonly routes = new Map<string, Promise<Route>>();
  private readonly reviewers = new Map<string, DirectoryPerson>();
  private readonly identity = limiter(IDENTITY_CONCURRENCY);
  private readonly slack = limiter(SLACK_CONCURRENCY);
  /** access.yml `people:` read backwards: IAM user name or email → Slack id. */
  private readonly overrides = new Map<string, string>();

  constructor(private readonly deps: AppDeps) {
    this.attr = deps.access.config.reviews.manager_attribute;
    for (const [slackId, p] of Object.entries(deps.access.config.people)) {
      for (const name of principalOverrides(targetsOf(deps), p, [p.email])) this.overrides.set(name.toLowerCase(), slackId);
      if (p.email) this.overrides.set(p.email.toLowerCase(), slackId);
    }
  }

  seen(): DirectoryPerson[] {
    return [...this.people.values()];
  }

  /**
   * A person the provider already returned: later lookups by id, login or email need no call.
   * Returns the one record kept for them, so the copies of a person in several groups are not all kept.
   */
  prime(person: DirectoryPerson): DirectoryPerson {
    const kept = this.people.get(person.id);
    if (kept) return kept;
    this.people.set(person.id, person);
    const known = Promise.resolve(person);
    for (const ref of [person.id, person.login, person.email]) if (ref && !this.byRef.has(ref.toLowerCase())) this.byRef.set(ref.toLowerCase(), known);
    return person;
  }

  lookup(ref: string): Promise<DirectoryPerson | undefined> {
    const key = ref.toLowerCase();
    let found = this.byRef.get(key);
    if (!found) {
      const identities = this.deps.identities;
      found = identities ? this.identity(() => identities.lookupUser(ref)) : Promise.resolve(undefined);
      this.byRef.set(key, found);
      void found.then((p) => void (p && this.prime(p)), () => undefined);
    }
    return found;
  }

  slackFor(person: DirectoryPerson): Promise<SlackUser | undefined> {
    const email = (person.email ?? person.login).toLowerCase();
    let found = this.slackByEmail.get(email);
    if (!found) {
      const override = this.overrides.get(email);
      found = this.slack(() => (override ? this.deps.directory.user(override) : this.deps.directory.userByEmail(email)));
      this.slackByEmail.set(email, found);
      void found.then((u) => this.slackSettled.set(email, u), () => undefined);
    }
    return found;
  }

  /** A Slack id already learnt while routing, without asking Slack. */
  knownSlackId(email: string): string | undefined {
    const user = this.slackSettled.get(email.toLowerCase());
    return user && !user.deleted ? user.id : undefined;
  }

  reviewerPerson(slackId: string): DirectoryPerson | undefined {
    return this.reviewers.get(slackId);
  }

  /**
   * Who a line of access belongs to: Okta members come with their record; IAM users are found by
   * email (theirs, or `grantEmail`: the person breakglass granted it to). A lookup that fails for
   * good leaves the person unknown, with the reason.
   */
  async personOf(entry: AccessEntry, grantEmail?: string): Promise<{ person?: DirectoryPerson | undefined; email?: string | undefined; slackId?: string | undefined; note?: string | undefined }> {
    const slackId = this.overrides.get(entry.principal.toLowerCase()) ?? (entry.email ? this.overrides.get(entry.email.toLowerCase()) : undefined);
    if (entry.person) return { person: entry.person, slackId };
    let email = entry.email ?? (entry.principal.includes('@') ? entry.principal : undefined) ?? grantEmail;
    try {
      if (!email && slackId) email = this.deps.access.config.people[slackId]?.email ?? (await this.slack(() => this.deps.directory.user(slackId)))?.email;
      if (!email) return { slackId, note: `no email is known for ${entry.principal}; map them under people: in access.yml` };
      if (!this.deps.identities) return { email, slackId, note: 'no identity directory (Okta) is configured to find their manager' };
      const person = await this.lookup(email);
      return person ? { person, email, slackId } : { email, slackId, note: `${email} is not in Okta, so their manager is unknown` };
    } catch (error) {
      return { email, slackId, note: `breakglass could not look up ${entry.principal}: ${permanentReason(error)}` };
    }
  }

  /** The reviewer for a person's access, walking up the manager chain past the person themselves and past leavers. */
  route(person: DirectoryPerson, personSlack?: string): Promise<Route> {
    const key = `${person.id}\n${personSlack ?? ''}`;
    let found = this.routes.get(key);
    if (!found) {
      // One person whose manager cannot be found (say, an email two Okta users share) goes to security, not every line with them.
      found = this.walk(person, personSlack).catch((error: unknown): Route => ({
        route: 'security',
        note: `breakglass could not find who reviews ${displayName(person)}: ${permanentReason(error)}`,
      }));
      this.routes.set(key, found);
    }
    return found;
  }

  private async walk(person: DirectoryPerson, personSlack: string | undefined): Promise<Route> {
    if (person.status && LEFT_STATUSES.has(person.status)) return { route: 'left', note: `Okta status ${person.status}` };
    const self = { directoryId: person.id, email: person.email ?? person.login, slackId: personSlack };
    const visited = new Set([person.id]);
    const skipped: string[] = [];
    let current = person;
    for (let depth = 0; depth < MAX_CHAIN; depth++) {
      const ref = managerRef(current.profile[this.attr]);
      if (!ref) {
        const why = depth === 0 ? `no manager in Okta (${this.attr})` : `${displayName(current)} has no manager in Okta`;
        return { route: 'security', note: [...skipped, why].join('; ') };
      }
      const manager = await this.lookup(ref);
      if (!manager) return { route: 'security', note: [...skipped, `manager ${ref} is not in Okta`].join('; ') };
      if (visited.has(manager.id)) {
        // Nobody above: the person is their own manager (the top of the org chart), or the chain loops.
        const why = manager.id === person.id ? `${displayName(person)} is their own manager in Okta` : 'the manager chain in Okta loops';
        return { route: 'security', note: [...skipped, why].join('; ') };
      }
      visited.add(manager.id);
      current = manager;
      if (manager.status && LEFT_STATUSES.has(manager.status)) {
        skipped.push(`manager ${displayName(manager)} has left`);
        continue;
      }
      const slackUser = await this.slackFor(manager);
      if (samePerson(self, { directoryId: manager.id, email: manager.email ?? manager.login, slackId: slackUser?.id })) {
        skipped.push(`their manager ${displayName(manager)} is the same person, so their manager's manager reviews it`);
        continue;
      }
      if (!slackUser || slackUser.deleted) return { route: 'security', note: [...skipped, `manager ${displayName(manager)} is not in Slack`].join('; ') };
      this.reviewers.set(slackUser.id, manager);
      return { route: skipped.length > 0 ? 'skip_level' : 'manager', reviewer: slackUser.id, note: skipped.length > 0 ? skipped.join('; ') : undefined, reviewerPerson: manager };
    }
    return { route: 'security', note: [...skipped, 'the manager chain is too long'].join('; ') };
  }
}

/** What the campaign learnt of people: their directory records, and which principal and Slack id each line's person has. */
function reviewObservations(deps: AppDeps, plan: CampaignPlan): PersonObservation[] {
  const attr = deps.access.config.reviews.manager_attribute;
  return [
    ...plan.directory.map((person) => directoryObservation(person, attr)),
    ...plan.items.map((item) => ({
      system: 'provider' as const,
      aliases: [
        { kind: 'okta' as const, value: item.directoryId },
        { kind: 'slack' as const, value: item.personSlack },
        { kind: 'email' as const, value: item.email },
        { kind: 'principal' as const, value: item.principal },
      ],
    })),
  ];
}
