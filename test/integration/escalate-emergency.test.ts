/** An emergency self-grant no approver reviewed within a day is escalated to security: once, with evidence and an alert. */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { escalateUnreviewedEmergencies } from '../../src/app/escalate-emergency.ts';
import { requestAccess } from '../../src/app/request-access.ts';
import { reviewEmergency } from '../../src/app/review-emergency.ts';
import { alerts, grants } from '../../src/db/schema.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { ALICE, BOB, CAROL, evidence, OKTA_GROUP, oktaUseCases, type OktaUseCases } from '../support/okta-use-cases.ts';

const HOUR = 3_600_000;
const ACCESS_YML = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: ${OKTA_GROUP} }
    max_duration: 4h
    emergency_self_grant: true
    approvers: { slack_users: [U0BOB] }
`;

describeEachDatabase('escalate-emergency', (ctx) => {
  const clock = new FakeClock('2026-03-02T09:00:00.000Z');
  let world: OktaUseCases;
  beforeAll(async () => {
    world = await oktaUseCases(ctx.database.db, { accessYml: ACCESS_YML, clock });
  });
  afterAll(() => world.okta.close());
  const selfGrant = async (requester: string) => {
    const outcome = await requestAccess(world.deps, { requester, resource: 'prod-db', durationMs: HOUR, reason: 'INC-1 site down' });
    if (outcome.kind !== 'emergency') throw new Error(`expected an emergency grant, got ${outcome.kind}`);
    expect(outcome.grant).toEqual({ state: 'active' });
    return outcome.grantId;
  };

  it('an unreviewed emergency grant past the review window is escalated once, however many workers look; a reviewed one is not', async () => {
    const unreviewed = await selfGrant(ALICE.slack);
    const reviewed = await selfGrant(CAROL.slack);
    expect(world.okta.memberLogins(OKTA_GROUP).sort()).toEqual([ALICE.email, CAROL.email]);
    await reviewEmergency(world.deps, { grantId: reviewed, reviewer: BOB.slack });
    clock.advance(24 * HOUR - 1);
    expect(await escalateUnreviewedEmergencies(world.deps)).toBe(0);
    clock.advance(1);
    const counts = await Promise.all([escalateUnreviewedEmergencies(world.deps), escalateUnreviewedEmergencies(world.deps)]);
    expect(counts.reduce((a, b) => a + b)).toBe(1);
    expect(await escalateUnreviewedEmergencies(world.deps)).toBe(0);

    const escalated = await evidence(ctx.database.db, 'emergency.escalated');
    expect(escalated.map((e) => [e.actor, e.subject, e.details.grant_id, e.details.unreviewed_for_ms])).toEqual([['breakglass', ALICE.slack, unreviewed, 24 * HOUR]]);
    const [grant] = await ctx.database.db.select().from(grants).where(eq(grants.id, unreviewed));
    expect(grant!.escalatedAt?.toISOString()).toBe('2026-03-03T09:00:00.000Z');
    const raised = (await ctx.database.db.select().from(alerts)).filter((a) => a.kind === 'emergency_unreviewed');
    expect(raised.map((a) => [a.grantId, a.notification])).toEqual([[unreviewed, expect.objectContaining({ kind: 'emergency_unreviewed', person: ALICE.slack, resource: 'prod-db' })]]);
  });
});
