import { and, eq, gt, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client.ts';
import { isHeld } from '../db/grants-repo.ts';
import { evidenceEvents, grants } from '../db/schema.ts';
import type { AccessEntry } from '../ports.ts';
import { escapeMrkdwn } from '../slack/blocks/format.ts';
import { raiseAlert } from './alerts.ts';
import type { AppDeps } from './deps.ts';

/** How long after a revoke the provider's listing is trusted to reflect it. */
const SETTLE_MS = 60_000;
/** A drift still there is reported again after this long, not at every pass. */
const REPORT_AGAIN_AFTER_MS = 24 * 3_600_000;

export type DriftKind = 'unmanaged' | 'revoke_ineffective';

export interface DriftFinding {
  resource: string;
  principal: string;
  kind: DriftKind;
  /** For revoke_ineffective: the grant breakglass revoked that the provider still honours. */
  grantId?: number;
  removed: boolean;
}

/**
 * Compares each provider's current access with what breakglass granted (or a review kept):
 * access nobody granted, and access breakglass revoked that is still there, are recorded as
 * `drift.detected` and alerted to security; with `drift: remove` such access is also revoked.
 * `keptByReview` answers whether an access review explicitly kept that access.
 */
export async function reconcileDrift(deps: AppDeps, keptByReview: (resource: string, principal: string) => Promise<boolean> = async () => false): Promise<DriftFinding[]> {
  const findings: DriftFinding[] = [];
  const now = deps.clock.now();
  for (const [resource, config] of Object.entries(deps.access.config.resources)) {
    const provider = deps.providers.forTarget(config.grant);
    let entries: AccessEntry[];
    try {
      entries = await provider.listAccess(resource, config.grant);
    } catch (error) {
      deps.logger.warn({ resource, err: error instanceof Error ? error.message : String(error) }, 'drift check skipped a resource: listAccess failed');
      continue;
    }
    const known = await deps.db.select().from(grants).where(eq(grants.resource, resource));
    for (const entry of entries) {
      const names = [entry.principal.toLowerCase(), entry.email?.toLowerCase()].filter(Boolean);
      const mine = known.filter((g) => names.includes(g.email.toLowerCase()) || (g.awsIamUser !== null && names.includes(g.awsIamUser.toLowerCase())));
      // Live grants (or one ending right now, which the revoke worker is about to take) explain the access.
      if (mine.some(isHeld)) continue;
      const revoked = mine.filter((g) => g.state === 'revoked' && g.revokedAt).at(-1);
      // A provider may list a membership for a moment after removing it (IAM is eventually consistent).
      if (revoked?.revokedAt && now.getTime() - revoked.revokedAt.getTime() < SETTLE_MS) continue;
      if (!revoked && (await keptByReview(resource, entry.principal))) continue;
      const kind: DriftKind = revoked ? 'revoke_ineffective' : 'unmanaged';
      if (await reportedRecently(deps.db, resource, entry.principal, now)) continue;
      let removed = false;
      if (deps.access.config.drift.action === 'remove') {
        try {
          await provider.revoke({
            grantId: revoked ? String(revoked.id) : `drift-${resource}-${entry.principal}`,
            resource,
            target: config.grant,
            person: { email: entry.email ?? entry.principal, awsIamUser: entry.principal },
            expiresAt: now,
          });
          removed = true;
        } catch (error) {
          deps.logger.warn({ resource, principal: entry.principal, err: error instanceof Error ? error.message : String(error) }, 'drift removal failed; reported only');
        }
      }
      const finding: DriftFinding = { resource, principal: entry.principal, kind, ...(revoked ? { grantId: revoked.id } : {}), removed };
      if (await record(deps, finding)) findings.push(finding);
    }
  }
  if (findings.length > 0) deps.wake.outbox();
  return findings;
}

async function reportedRecently(db: Db | Tx, resource: string, principal: string, now: Date): Promise<boolean> {
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
async function record(deps: AppDeps, finding: DriftFinding): Promise<boolean> {
  return deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`drift:${finding.resource}:${finding.principal}`}))`);
    if (await reportedRecently(tx, finding.resource, finding.principal, deps.clock.now())) return false;
    await deps.ledger.append(tx, {
      kind: 'drift.detected',
      actor: 'breakglass',
      subject: finding.principal,
      resource: finding.resource,
      details: { drift: finding.kind, grant_id: finding.grantId ?? null, action: deps.access.config.drift.action, removed: finding.removed },
    });
    const what =
      finding.kind === 'unmanaged'
        ? `has access to \`${finding.resource}\` that breakglass did not grant and no review kept`
        : `still has access to \`${finding.resource}\` although breakglass revoked grant ${finding.grantId}`;
    await raiseAlert(tx, deps, {
      kind: 'drift',
      text: `:mag: Drift: ${escapeMrkdwn(finding.principal)} ${what}.${finding.removed ? ' breakglass removed it (drift: remove).' : ' Remove it at the provider, or set `drift: remove`.'}`,
      subject: finding.principal,
      resource: finding.resource,
    });
    return true;
  });
}
