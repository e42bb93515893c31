/**
 * An access review's Keep / Revoke and sign-off as the use cases see them: each line is decided
 * once, by its reviewer or security and never by its own holder; a Revoke is carried out at Okta;
 * a card is signed off only when every line on it is decided.
 */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildRequestedCampaigns } from '../../src/app/build-campaign.ts';
import { decideReviewItem } from '../../src/app/decide-review-item.ts';
import { signOffReview } from '../../src/app/sign-off-review.ts';
import { startReview } from '../../src/app/start-review.ts';
import { reviewCards, reviewItems } from '../../src/db/schema.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { activeGrant, ALICE, BOB, CAROL, DAVE, evidence, OKTA_GROUP, oktaUseCases, SECURITY, type OktaUseCases, type Person } from '../support/okta-use-cases.ts';

const HOUR = 3_600_000;
const ACCESS_YML = `security_channel: C0SEC
security: { slack_users: [U0SEC, U0DAVE] }
resources:
  prod-db:
    grant: { okta_group: ${OKTA_GROUP} }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

describeEachDatabase('decide-review-item and sign-off-review', (ctx) => {
  const clock = new FakeClock('2026-03-02T09:00:00.000Z');
  let world: OktaUseCases;
  /** Alice's and Carol's access goes to their manager Bob; Sam's and Dave's (no manager in Okta) to the security channel. */
  beforeAll(async () => {
    world = await oktaUseCases(ctx.database.db, { accessYml: ACCESS_YML, clock });
    for (const p of [ALICE, CAROL]) world.okta.updateProfile(p.email, { managerId: BOB.email });
    for (const p of [ALICE, CAROL]) await activeGrant(world.deps, { requester: p, approver: BOB, resource: 'prod-db', durationMs: 4 * HOUR });
    for (const p of [SECURITY, DAVE]) world.okta.addMember(OKTA_GROUP, p.email);
    await startReview({ db: ctx.database.db, clock, config: world.deps.access.config }, { trigger: 'manual', requestedBy: 'cli:test', period: '2026-Q1' });
    expect(await buildRequestedCampaigns(world.deps)).toBe(1);
  });
  afterAll(() => world.okta.close());

  const cardOf = async (recipient: string) => (await ctx.database.db.select().from(reviewCards).where(eq(reviewCards.recipient, recipient)))[0]!;
  const lineOf = async (person: Person) => (await ctx.database.db.select().from(reviewItems).where(and(eq(reviewItems.email, person.email), eq(reviewItems.resource, 'prod-db'))))[0]!;
  async function refusedWithoutChange(person: Person, click: () => Promise<unknown>, code: string) {
    const before = { line: await lineOf(person), events: (await evidence(ctx.database.db)).length };
    await expect(click()).rejects.toMatchObject({ name: 'Refusal', reason: { code } });
    expect(await lineOf(person)).toEqual(before.line);
    expect((await evidence(ctx.database.db)).length).toBe(before.events);
  }

  it('the manager Keeps a line once; a second click, by them or anyone, changes nothing', async () => {
    const alice = await lineOf(ALICE);
    expect(alice.cardId).toBe((await cardOf(BOB.slack)).id);
    await refusedWithoutChange(ALICE, () => decideReviewItem(world.deps, { itemId: alice.id, user: CAROL.slack, decision: 'revoke' }), 'review_not_yours');
    expect(await decideReviewItem(world.deps, { itemId: alice.id, user: BOB.slack, decision: 'keep' })).toEqual({ itemId: alice.id, decision: 'keep' });
    await refusedWithoutChange(ALICE, () => decideReviewItem(world.deps, { itemId: alice.id, user: BOB.slack, decision: 'revoke' }), 'review_line_decided');
    await refusedWithoutChange(ALICE, () => decideReviewItem(world.deps, { itemId: alice.id, user: SECURITY.slack, decision: 'revoke' }), 'review_line_decided');
    const [decided] = await evidence(ctx.database.db, 'review.decided');
    expect(decided).toMatchObject({ actor: BOB.slack, subject: ALICE.slack, details: { item_id: alice.id, decision: 'keep', route: 'manager', reviewer: BOB.slack, by_assigned_reviewer: true } });
    expect(world.okta.isMember(OKTA_GROUP, ALICE.email)).toBe(true);
  });

  it('a Revoke clicked twice at once is decided once and removes the access at Okta, with grant.revoked', async () => {
    const carol = await lineOf(CAROL);
    const clicks = await Promise.allSettled([0, 1].map(() => decideReviewItem(world.deps, { itemId: carol.id, user: BOB.slack, decision: 'revoke' })));
    expect(clicks.filter((c) => c.status === 'fulfilled').map((c) => c.value)).toEqual([{ itemId: carol.id, decision: 'revoke', revoked: true, error: undefined }]);
    expect(clicks.find((c) => c.status === 'rejected')).toMatchObject({ reason: { reason: { code: 'review_line_decided' } } });
    expect(world.okta.isMember(OKTA_GROUP, CAROL.email)).toBe(false);
    expect(await lineOf(CAROL)).toMatchObject({ decision: 'revoke', decidedBy: BOB.slack, revokeState: 'revoked' });
    expect((await evidence(ctx.database.db, 'review.decided')).filter((e) => e.details.item_id === carol.id)).toHaveLength(1);
    const revoked = (await evidence(ctx.database.db, 'grant.revoked')).filter((e) => e.details.item_id === carol.id);
    expect(revoked).toMatchObject([{ actor: BOB.slack, subject: CAROL.slack }]);
  });

  it('nobody decides their own line, not even security; another security member can', async () => {
    const sam = await lineOf(SECURITY);
    expect(sam.cardId).toBe((await cardOf('C0SEC')).id);
    await refusedWithoutChange(SECURITY, () => decideReviewItem(world.deps, { itemId: sam.id, user: SECURITY.slack, decision: 'keep' }), 'own_review_line');
    await decideReviewItem(world.deps, { itemId: sam.id, user: DAVE.slack, decision: 'keep' });
    expect(await lineOf(SECURITY)).toMatchObject({ decision: 'keep', decidedBy: DAVE.slack });
  });

  it('a card is signed off only once every line is decided, and only once', async () => {
    const bobsCard = await cardOf(BOB.slack);
    await expect(signOffReview(world.deps, { cardId: bobsCard.id, user: CAROL.slack })).rejects.toMatchObject({ reason: { code: 'review_not_yours' } });
    expect(await signOffReview(world.deps, { cardId: bobsCard.id, user: BOB.slack })).toEqual({ lines: 2, kept: 1, revoked: 1, overdue: false });
    await expect(signOffReview(world.deps, { cardId: bobsCard.id, user: BOB.slack })).rejects.toMatchObject({ reason: { code: 'review_already_signed_off', by: BOB.slack } });
    const signed = await evidence(ctx.database.db, 'review.signed_off');
    expect(signed.map((e) => [e.actor, e.details.card_id, e.details.lines, e.details.kept, e.details.revoked, e.details.by_assigned_reviewer])).toEqual([[BOB.slack, bobsCard.id, 2, 1, 1, true]]);
    expect(await cardOf(BOB.slack)).toMatchObject({ signedOffBy: BOB.slack, signedOffAt: clock.now() });
  });

  it('a card with a line still undecided cannot be signed off, and the attempt changes nothing', async () => {
    const securityCard = await cardOf('C0SEC');
    const before = (await evidence(ctx.database.db)).length;
    await expect(signOffReview(world.deps, { cardId: securityCard.id, user: SECURITY.slack })).rejects.toMatchObject({ reason: { code: 'review_lines_undecided', undecided: 1 } });
    expect(await cardOf('C0SEC')).toEqual(securityCard);
    expect((await evidence(ctx.database.db)).length).toBe(before);
    await decideReviewItem(world.deps, { itemId: (await lineOf(DAVE)).id, user: SECURITY.slack, decision: 'keep' });
    expect(await signOffReview(world.deps, { cardId: securityCard.id, user: SECURITY.slack })).toMatchObject({ lines: 2, kept: 2, revoked: 0 });
    expect((await evidence(ctx.database.db, 'review.signed_off')).at(-1)).toMatchObject({ actor: SECURITY.slack, details: { audience: 'security', by_assigned_reviewer: false } });
  });
});
