import { readFileSync } from 'node:fs';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { evidenceEvents, grants, reviewCampaigns } from '../../db/schema.ts';
import type { StoredEvent } from '../../ledger/event.ts';
import { eventToOcsf, gapToOcsf, type GrantTargetShape } from './ocsf.ts';
import { readEventPages, type EventFilter } from '../../ledger/read.ts';
import { readinessFromLedger } from '../readiness/readiness.ts';

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * What each revoke in a page took away: a grant's target as its grant.applied recorded it, a review
 * line's from the campaign's snapshot of targets (so a later access.yml never changes the record).
 */
async function revokedTargets(db: Db, page: StoredEvent[]): Promise<Map<number, GrantTargetShape>> {
  const revokes = page.filter((e) => e.kind === 'grant.revoked');
  const grantIds = [...new Set(revokes.map((e) => Number((e.details as { grant_id?: unknown }).grant_id)).filter(Number.isInteger))];
  const campaignIds = [...new Set(revokes.map((e) => Number((e.details as { campaign_id?: unknown }).campaign_id)).filter(Number.isInteger))];
  const byGrant = new Map<number, GrantTargetShape>();
  // The ledger's own grant.applied says what was granted; the grants table is only a fallback.
  const applied = grantIds.length
    ? await db
        .select({ details: evidenceEvents.details })
        .from(evidenceEvents)
        .where(and(eq(evidenceEvents.kind, 'grant.applied'), inArray(sql<number>`(${evidenceEvents.details}->>'grant_id')::int`, grantIds)))
    : [];
  for (const row of applied) byGrant.set(Number(row.details.grant_id), row.details.target as GrantTargetShape);
  const missing = grantIds.filter((id) => !byGrant.has(id));
  const rows = missing.length ? await db.select({ id: grants.id, target: grants.target }).from(grants).where(inArray(grants.id, missing)) : [];
  for (const row of rows) byGrant.set(row.id, row.target as unknown as GrantTargetShape);
  const campaigns = campaignIds.length ? await db.select({ id: reviewCampaigns.id, targets: reviewCampaigns.targets }).from(reviewCampaigns).where(inArray(reviewCampaigns.id, campaignIds)) : [];
  const targets = new Map<number, GrantTargetShape>();
  for (const event of revokes) {
    const d = event.details as { grant_id?: unknown; campaign_id?: unknown };
    const fromGrant = typeof d.grant_id === 'number' ? byGrant.get(d.grant_id) : undefined;
    const fromCampaign = campaigns.find((c) => c.id === d.campaign_id)?.targets?.[event.resource ?? ''] as unknown as GrantTargetShape | undefined;
    const target = fromGrant ?? fromCampaign;
    if (target) targets.set(event.seq, target);
  }
  return targets;
}

/**
 * `evidence export --format ocsf`: the matching events as OCSF JSON Lines, then the period's
 * readiness findings (of the resource or person filtered on, when one is). Returns the number of
 * events written.
 */
export async function exportOcsf(db: Db, filter: EventFilter, write: (text: string) => Promise<void>, onProgress?: (count: number) => void): Promise<number> {
  let count = 0;
  const hashes = new Map<number, string>();
  for await (const page of readEventPages(db, filter, 2_000)) {
    const targets = await revokedTargets(db, page);
    for (const event of page) hashes.set(event.seq, event.hash);
    await write(page.map((event) => `${JSON.stringify(eventToOcsf(event, targets.get(event.seq), version))}\n`).join(''));
    count += page.length;
    onProgress?.(count);
  }
  if (filter.from && filter.to) {
    const report = await readinessFromLedger(db, { from: filter.from, to: filter.to }, new Date());
    const mine = report.gaps.filter((gap) => (!filter.resource || gap.resource === filter.resource) && (!filter.user || gap.subject === filter.user));
    if (mine.length > 0) await write(mine.map((gap) => `${JSON.stringify(gapToOcsf(gap, hashes, version))}\n`).join(''));
  }
  return count;
}
