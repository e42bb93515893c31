import type { Tx } from '../db/client.ts';
import { canonicalJson } from '../ledger/canonical-json.ts';
import type { AccessEntry, GrantSpec, GrantTarget } from '../ports.ts';
import type { AppDeps } from './deps.ts';
import { holderIn } from './grant-in-doubt.ts';
import { recordListingIn } from './record-listing.ts';

/** What the provider showed after revokes of one resource, or why it could not be listed. */
export type AfterRevoke = { entries: AccessEntry[]; listedAt: Date; provider: string } | { error: string };

/**
 * The access being gone is observed, not assumed: one listing after a worker pass's revokes of a
 * resource, however many there were, so 200 grants ending together cost a few listings, not 200.
 * A lone revoke whose provider already listed after its change (to confirm a "not found", or
 * PostgreSQL, which always checks) reuses that listing. A listing that fails leaves the revokes
 * standing, since the provider answered them; the next drift pass looks.
 */
export async function listAfterRevokes(
  deps: Pick<AppDeps, 'providers' | 'clock' | 'logger'>,
  at: { resource: string; target: GrantTarget },
  revoked: Array<{ listed?: AccessEntry[] | undefined; at: Date }>,
): Promise<AfterRevoke> {
  const provider = deps.providers.forTarget(at.target);
  const lone = revoked.length === 1 ? revoked[0] : undefined;
  if (lone?.listed) return { entries: lone.listed, listedAt: lone.at, provider: provider.name };
  try {
    const entries = await provider.listAccess(at.resource, at.target);
    return { entries, listedAt: deps.clock.now(), provider: provider.name };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    deps.logger.warn({ resource: at.resource, err: message }, 'could not list the resource after revoking; the revokes stand and the next drift pass looks');
    return { error: message };
  }
}

/** What grant.revoked says of the listing after it: `verified` when it no longer showed the holder. */
export function afterRevokeDetails(after: AfterRevoke, spec: GrantSpec): { verified: boolean; listed_at: string | null; listing_error?: string } {
  if ('error' in after) return { verified: false, listed_at: null, listing_error: after.error };
  return { verified: holderIn(after.entries, spec) === undefined, listed_at: after.listedAt.toISOString() };
}

/**
 * The listing into the access inventory, in the transaction that records the revokes. Only a
 * listing of the target access.yml gives the resource now counts: a grant made under an older
 * target lists another group, whose members are not the resource's holders.
 */
export async function inventoryAfterRevoke(
  tx: Tx,
  deps: Pick<AppDeps, 'ledger' | 'clock' | 'access'>,
  at: { resource: string; target: GrantTarget },
  after: AfterRevoke,
  revoked: Array<{ grantId: number; spec: GrantSpec }>,
): Promise<void> {
  if ('error' in after) return;
  const configured = deps.access.config.resources[at.resource]?.grant;
  if (!configured || canonicalJson(configured) !== canonicalJson(at.target)) return;
  await recordListingIn(tx, deps, {
    resource: at.resource,
    provider: after.provider,
    entries: after.entries,
    source: 'revoke',
    listedAt: after.listedAt,
    // Still listed right after its revoke: the drift pass calls it revoke_ineffective once the provider had time to settle.
    explain: (entry) => {
      const grant = revoked.find((r) => holderIn([entry], r.spec));
      return grant ? { basis: 'revoking', grantId: grant.grantId } : undefined;
    },
  });
}
