/**
 * A revoke that also ends the person's open sessions is on the record whichever path revoked: the
 * drift pass removing access nobody granted (`drift: { action: remove }`), and a review's Revoke,
 * each with the provider's count, from when, and how, committed next to the revoke's own event.
 */
import { eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { reconcileDrift } from '../../src/app/reconcile-drift.ts';
import { revokeReviewItems } from '../../src/app/revoke-review-items.ts';
import { evidenceEvents, reviewCampaigns, reviewItems } from '../../src/db/schema.ts';
import type { AccessEntry, AccessProvider, GrantSpec } from '../../src/ports.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { useCaseDeps } from '../support/process-deps.ts';

const ACCESS_YML = `
security_channel: C0SECURITY
resources:
  prod-db:
    grant: { postgres: { role: prod_rw, admin_url_env: PROD_DB_ADMIN_URL } }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
drift: { every: 1h, action: remove }
`;

describeEachDatabase('sessions ended by a drift removal', (ctx) => {
  /** A PostgreSQL-like provider holding `held`: its revoke removes the member and terminates their backends. */
  function setUp(held: Map<string, AccessEntry>, effectiveAt: Date) {
    const revoked: GrantSpec[] = [];
    const provider: AccessProvider = {
      name: 'postgres',
      supports: () => true,
      grant: async () => undefined,
      revoke: async (spec) => {
        revoked.push(spec);
        held.delete(spec.person.principal!);
        return { sessionsEnded: { ended: 2, effectiveAt, method: 'pg_terminate_backend' } };
      },
      listAccess: async () => [...held.values()],
    };
    const deps = useCaseDeps(ctx.database.db, { accessYml: ACCESS_YML, clock: new FakeClock('2026-03-04T03:00:00Z'), provider });
    return { deps, revoked };
  }
  const ofKind = async (kind: string) => ctx.database.db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, kind));

  it('records grant.sessions_ended (reason drift) with the drift finding when the removal ended sessions', async () => {
    const effectiveAt = new Date('2026-03-04T03:00:00.500Z');
    const { deps, revoked } = setUp(new Map([['mallory', { resource: 'prod-db', principal: 'mallory' }]]), effectiveAt);
    const findings = await reconcileDrift(deps);
    expect(findings).toMatchObject([{ principal: 'mallory', kind: 'unmanaged', removed: true }]);
    expect(revoked.map((spec) => spec.person.principal)).toEqual(['mallory']);
    const [drift] = await ofKind('drift.detected');
    const [ended] = await ofKind('grant.sessions_ended');
    expect(ended).toMatchObject({
      subject: 'mallory',
      resource: 'prod-db',
      details: { grant_id: null, provider: 'postgres', ended: 2, effective_at: effectiveAt.toISOString(), method: 'pg_terminate_backend', reason: 'drift', principal: 'mallory' },
    });
    // Committed with the finding, right after it.
    expect(ended!.seq).toBe(drift!.seq + 1);
  });

  it("records grant.sessions_ended (reason review) with a review's verified Revoke", async () => {
    const effectiveAt = new Date('2026-03-04T03:00:01.000Z');
    const { deps } = setUp(new Map([['trent', { resource: 'prod-db', principal: 'trent' }]]), effectiveAt);
    const now = deps.clock.now();
    const [campaign] = await ctx.database.db
      .insert(reviewCampaigns)
      .values({ period: '2026-Q1', scope: ['prod-db'], scopeKey: 'prod-db', trigger: 'manual', requestedBy: 'U0SEC', requestedAt: now, state: 'open', targets: { 'prod-db': { kind: 'postgres_role', role: 'prod_rw', adminUrlEnv: 'PROD_DB_ADMIN_URL', endSessions: true } as never } })
      .returning({ id: reviewCampaigns.id });
    const [item] = await ctx.database.db
      .insert(reviewItems)
      .values({ campaignId: campaign!.id, resource: 'prod-db', principal: 'trent', route: 'manager', decision: 'revoke', decidedBy: 'U0MGR', decidedAt: now, revokeState: 'pending' })
      .returning({ id: reviewItems.id });
    expect(await revokeReviewItems(deps)).toBe(1);
    const revokedEvent = (await ofKind('grant.revoked')).find((e) => (e.details as { item_id?: number }).item_id === item!.id);
    const ended = (await ofKind('grant.sessions_ended')).find((e) => (e.details as { review_item_id?: number }).review_item_id === item!.id);
    expect(ended).toMatchObject({ actor: 'U0MGR', resource: 'prod-db', details: { grant_id: null, provider: 'postgres', ended: 2, effective_at: effectiveAt.toISOString(), reason: 'review', principal: 'trent' } });
    expect(ended!.seq).toBe(revokedEvent!.seq + 1);
  });
});
