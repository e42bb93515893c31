import { recordSessionsEnded, sessionsEndedBy } from './grant-evidence.ts';
import { and, desc, eq, gt, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { evidenceEvents, grants, reviewCampaigns, reviewItems } from '../db/schema.ts';
import { explainAccess, type AccessHistory, type AccessVerdict, type ReviewLineFact } from '../domain/drift.ts';
import type { AccessEntry, SessionsEnded } from '../ports.ts';
import type { Notification } from '../domain/notifications.ts';
import { raiseAlert } from './alerts.ts';
import { recordListing, type BasisHint } from './record-listing.ts';
import type { AppDeps } from './deps.ts';
import { learnPeople } from './learn-people.ts';
import { listingObservations } from './people-sightings.ts';

/** How long after a revoke the provider's listing is trusted to reflect it. */
const SETTLE_MS = 60_000;
/** A drift still there is reported again after this long, not at every pass. */
const REPORT_AGAIN_AFTER_MS = 24 * 3_600_000;

export type DriftKind = 'unmanaged' | 'revoke_ineffective';

export interface DriftFinding {
  resource: string;
  principal: string;
  kind: DriftKind;
  /** For revoke_ineffective: the grant breakglass revoked that the provider still honours... */
  grantId?: number;
  /** ...or the access-review line whose Revoke did not take. */
  reviewLine?: { campaignId: number; itemId: number };
  removed: boolean;
}

/**
 * Compares each provider's current access with what breakglass granted or an access review kept
 * (see explainAccess): access nobody granted, and access breakglass or a review revoked that is
 * still there, are recorded as `drift.detected` and alerted to security; with `drift: remove`
 * such access is also revoked.
 */
export async function reconcileDrift(deps: AppDeps): Promise<DriftFinding[]> {
  const findings: DriftFinding[] = [];
  const now = deps.clock.now();
  const campaigns = await reviewedCampaigns(deps.db);
  for (const [resource, config] of Object.entries(deps.access.config.resources)) {
    const provider = deps.providers.forTarget(config.grant);
    // Access granted by hand cannot be listed; each grant and removal is confirmed by its owners instead.
    if (provider.canList === false) continue;
    let entries: AccessEntry[];
    let listedAt: Date;
    try {
      entries = await provider.listAccess(resource, config.grant);
      listedAt = deps.clock.now();
    } catch (error) {
      deps.logger.warn({ resource, err: error instanceof Error ? error.message : String(error) }, 'drift check skipped a resource: listAccess failed');
      continue;
    }
    await learnPeople(deps, 'listing', listingObservations(entries, deps.access.config.reviews.manager_attribute));
    const historyOf = await histories(deps.db, resource, campaigns);
    const verdicts = new Map(entries.map((entry) => [entry, explainAccess(historyOf(entry), now, SETTLE_MS)]));
    // Timed when the provider answered: a revoke listed and recorded meanwhile is newer, and this older listing must not undo it.
    await recordListing(deps, { resource, provider: provider.name, entries, source: 'drift', listedAt, explain: (entry) => basisHint(verdicts.get(entry)) });
    for (const entry of entries) {
      const verdict = verdicts.get(entry)!;
      if (verdict.drift === false) continue;
      if (await reportedRecently(deps.db, resource, entry.principal, now)) continue;
      const evidence = verdict.drift === 'revoke_ineffective' ? { ...(verdict.grantId !== undefined ? { grantId: verdict.grantId } : {}), ...(verdict.reviewLine ? { reviewLine: verdict.reviewLine } : {}) } : {};
      let removed = false;
      let sessions: SessionsEnded | undefined;
      if (deps.access.config.drift.action === 'remove') {
        try {
          sessions = sessionsEndedBy(await provider.revoke({
            grantId: evidence.grantId !== undefined ? String(evidence.grantId) : evidence.reviewLine ? `review-item-${evidence.reviewLine.itemId}` : `drift-${resource}-${entry.principal}`,
            resource,
            target: config.grant,
            person: { email: entry.email ?? entry.principal, principal: entry.principal },
            expiresAt: now,
          }));
          removed = true;
        } catch (error) {
          deps.logger.warn({ resource, principal: entry.principal, err: error instanceof Error ? error.message : String(error) }, 'drift removal failed; reported only');
        }
      }
      const finding: DriftFinding = { resource, principal: entry.principal, kind: verdict.drift, ...evidence, removed };
      if (await record(deps, finding, sessions && { provider: provider.name, sessions })) findings.push(finding);
    }
  }
  if (findings.length > 0) deps.wake.outbox();
  return findings;
}

/** Campaigns that reviewed something, newest first, with the resources each one listed. */
async function reviewedCampaigns(db: Db): Promise<Array<{ id: number; resources: Set<string> }>> {
  const rows = await db
    .select({ id: reviewCampaigns.id, targets: reviewCampaigns.targets })
    .from(reviewCampaigns)
    .where(and(inArray(reviewCampaigns.state, ['open', 'closed']), isNotNull(reviewCampaigns.openedAt)))
    .orderBy(desc(reviewCampaigns.openedAt), desc(reviewCampaigns.id));
  return rows.map((r) => ({ id: r.id, resources: new Set(Object.keys(r.targets ?? {})) }));
}

/** What breakglass knows of each listed person's access to `resource`: their grants and review lines. */
async function histories(db: Db, resource: string, campaigns: Array<{ id: number; resources: Set<string> }>): Promise<(entry: AccessEntry) => AccessHistory> {
  const known = await db.select().from(grants).where(eq(grants.resource, resource));
  const reviewing = campaigns.filter((c) => c.resources.has(resource)).map((c) => c.id);
  const lines =
    reviewing.length === 0
      ? []
      : await db
          .select({ campaignId: reviewItems.campaignId, itemId: reviewItems.id, principal: reviewItems.principal, decision: reviewItems.decision, decidedAt: reviewItems.decidedAt, revokeState: reviewItems.revokeState, revokedAt: reviewItems.revokedAt })
          .from(reviewItems)
          .where(and(eq(reviewItems.resource, resource), inArray(reviewItems.campaignId, reviewing)));
  // A campaign lists a person by the principal the same provider reports now.
  const linesOf = new Map<string, Map<number, ReviewLineFact>>();
  for (const { principal, ...line } of lines) {
    const key = principal.toLowerCase();
    linesOf.set(key, (linesOf.get(key) ?? new Map()).set(line.campaignId, line));
  }
  return (entry) => {
    const names = [entry.principal.toLowerCase(), entry.email?.toLowerCase()].filter(Boolean);
    const mine = linesOf.get(entry.principal.toLowerCase());
    return {
      // By the provider's id of the user first: a user renamed while holding the grant is still its holder.
      grants: known.filter((g) => sameHolder(g, entry) || names.includes(g.email.toLowerCase()) || (g.principal !== null && names.includes(g.principal.toLowerCase()))),
      reviews: reviewing.map((campaignId) => ({ campaignId, line: mine?.get(campaignId) })),
    };
  };
}

/** The listed entry is the grant's principal by the provider's unchanging id (an IAM UserId), whatever its name now. */
export const sameHolder = (grant: { principalId: string | null }, entry: AccessEntry): boolean => grant.principalId !== null && entry.principalId !== undefined && grant.principalId === entry.principalId;

export async function reportedRecently(db: Db | Tx, resource: string, principal: string, now: Date): Promise<boolean> {
  const [recent] = await db
    .select({ seq: evidenceEvents.seq })
    .from(evidenceEvents)
    .where(
      and(
        eq(evidenceEvents.kind, 'drift.detected'),
        eq(evidenceEvents.resource, resource),
        eq(evidenceEvents.subject, principal),
        gt(evidenceEvents.occurredAt, new Date(now.getTime() - REPORT_AGAIN_AFTER_MS)),
        sql`coalesce((${evidenceEvents.details}->>'removed')::boolean, false) = false`,
      ),
    )
    .limit(1);
  return recent !== undefined;
}

/** Records a finding unless another replica just did. */
async function record(deps: AppDeps, finding: DriftFinding, sessionsEnded?: { provider: string; sessions: SessionsEnded }): Promise<boolean> {
  return deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`drift:${finding.resource}:${finding.principal}`}))`);
    if (await reportedRecently(tx, finding.resource, finding.principal, deps.clock.now())) return false;
    await deps.ledger.append(tx, {
      kind: 'drift.detected',
      actor: 'breakglass',
      subject: finding.principal,
      resource: finding.resource,
      details: {
        drift: finding.kind,
        grant_id: finding.grantId ?? null,
        ...(finding.reviewLine ? { campaign_id: finding.reviewLine.campaignId, review_item_id: finding.reviewLine.itemId } : {}),
        action: deps.access.config.drift.action,
        removed: finding.removed,
      },
    });
    const about = { subject: finding.principal, resource: finding.resource };
    if (sessionsEnded) await recordSessionsEnded(tx, deps, about, { grantId: finding.grantId ?? null, ...sessionsEnded, reason: 'drift', principal: finding.principal });
    await raiseAlert(tx, deps, {
      kind: 'drift',
      notification: { kind: 'drift', principal: finding.principal, resource: finding.resource, removed: finding.removed, cause: driftCause(finding) },
      subject: finding.principal,
      resource: finding.resource,
    });
    return true;
  });
}

function driftCause(finding: DriftFinding): Extract<Notification, { kind: 'drift' }>['cause'] {
  if (finding.kind === 'unmanaged') return { unmanaged: true };
  if (finding.reviewLine) return { campaignId: finding.reviewLine.campaignId };
  return { grantId: finding.grantId ?? null };
}

/** The drift verdict as the inventory records it; a grant is looked up by recordListing (it names the grant). */
function basisHint(verdict: AccessVerdict | undefined): { basis: BasisHint } | undefined {
  if (!verdict || (verdict.drift === false && verdict.why === 'granted')) return undefined;
  if (verdict.drift === false) return { basis: verdict.why === 'kept' ? 'kept' : 'revoking' };
  return { basis: 'unmanaged' };
}
