import { and, eq, isNull } from 'drizzle-orm';
import { enqueue } from '../db/outbox.ts';
import { accessRequests, grants } from '../db/schema.ts';
import { eligibleApprovers } from '../domain/policy.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { isSecurity } from './security.ts';
import { usergroupLookup } from './usergroups.ts';
import { aboutGrant } from './grant-evidence.ts';

/** An approver (or security) reviews an emergency self-grant, or an on-call approval, after the fact. */
export async function reviewEmergency(deps: AppDeps, input: { grantId: number; reviewer: string }): Promise<void> {
  const now = deps.clock.now();
  const members = await usergroupLookup(deps.access.config, deps.directory);
  const security = await isSecurity(deps, input.reviewer);
  await deps.db.transaction(async (tx) => {
    const [grant] = await tx.select().from(grants).where(eq(grants.id, input.grantId)).for('update');
    const [request] = grant ? await tx.select({ kind: accessRequests.kind }).from(accessRequests).where(eq(accessRequests.id, grant.requestId)) : [];
    // An on-call approval is reviewed afterwards the same way: nobody approved it before it began.
    if (!grant || !(grant.emergency || request?.kind === 'on_call')) throw new Refusal({ code: 'no_emergency_grant' });
    const resource = deps.access.config.resources[grant.resource];
    const allowed = security || (resource !== undefined && eligibleApprovers(resource, grant.person, members).includes(input.reviewer));
    if (input.reviewer === grant.person) throw new Refusal({ code: 'own_emergency' });
    if (!allowed) throw new Refusal({ code: 'not_approver', resource: grant.resource });
    if (grant.reviewedBy) throw new Refusal({ code: 'emergency_already_reviewed', by: grant.reviewedBy });
    const [updated] = await tx
      .update(grants)
      .set({ reviewedBy: input.reviewer, reviewedAt: now })
      .where(and(eq(grants.id, grant.id), isNull(grants.reviewedBy)))
      .returning({ id: grants.id });
    if (!updated) throw new Refusal({ code: 'emergency_reviewed_meanwhile' });
    await deps.ledger.append(tx, {
      kind: 'emergency.reviewed',
      actor: input.reviewer,
      ...aboutGrant(grant),
      details: { grant_id: grant.id, granted_at: grant.createdAt.toISOString(), reviewed_after_ms: now.getTime() - grant.createdAt.getTime() },
    });
    await enqueue(tx, now, { type: 'refresh_cards', requestId: grant.requestId });
  });
  deps.wake.outbox();
}
