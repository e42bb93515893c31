import { eq } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { reviewCampaigns, reviewCards, reviewItems } from '../db/schema.ts';
import { samePerson } from '../domain/review.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { principalOverrides } from '../providers/registry.ts';
import { targetsOf } from './grant-specs.ts';
import { isSecurity } from './security.ts';

type Card = typeof reviewCards.$inferSelect;
type Item = typeof reviewItems.$inferSelect;
export type Campaign = typeof reviewCampaigns.$inferSelect;

/** Who is clicking, as far as a review needs to know; read before any transaction (it may ask Slack). */
export interface Decider {
  user: string;
  email: string | undefined;
  security: boolean;
}

export async function decider(deps: AppDeps, user: string): Promise<Decider> {
  const [security, profile] = await Promise.all([isSecurity(deps, user), deps.directory.user(user)]);
  return { user, email: deps.access.config.people[user]?.email ?? profile?.email, security };
}

/** A decider of lines, with every name the providers may know them by, to recognise their own access. */
export interface LineDecider extends Decider {
  /** Lower-case: their emails, their IAM user name from access.yml `people:`, their Okta login. */
  names: ReadonlySet<string>;
  directoryId: string | undefined;
}

/**
 * A line may name its person only by the provider's principal (an IAM user with no email), so the
 * decider is looked up in Okta too. Failing that, nobody can tell whose a line is: nothing is decided.
 */
export async function lineDecider(deps: AppDeps, user: string): Promise<LineDecider> {
  const who = await decider(deps, user);
  let okta;
  try {
    okta = who.email && deps.identities ? await deps.identities.lookupUser(who.email) : undefined;
  } catch (error) {
    throw new Refusal({ code: 'reviewer_lookup_failed', error: error instanceof Error ? error.message : String(error) });
  }
  const names = [who.email, ...principalOverrides(targetsOf(deps), deps.access.config.people[user], [who.email]), okta?.login, okta?.email];
  return { ...who, names: new Set(names.filter((n): n is string => Boolean(n)).map((n) => n.trim().toLowerCase())), directoryId: okta?.id };
}

/** Only the card's reviewer may decide its lines, or a member of `security:` (the only ones for the security channel's card). */
export function assertMayDecide(card: Card, who: Decider): void {
  if (card.audience === 'manager' && card.recipient === who.user) return;
  if (who.security) return;
  throw new Refusal({ code: 'review_not_yours', recipient: card.audience === 'security' ? null : card.recipient });
}

/** Nobody decides about their own access, not even security. */
export function isOwnLine(item: Item, who: LineDecider): boolean {
  if ([item.principal, item.email].some((name) => name && who.names.has(name.trim().toLowerCase()))) return true;
  return samePerson(
    { slackId: item.personSlack ?? undefined, email: item.email ?? undefined, directoryId: item.directoryId ?? undefined },
    { slackId: who.user, email: who.email, directoryId: who.directoryId },
  );
}

export async function lockCard(tx: Tx, cardId: number): Promise<{ card: Card; campaign: Campaign }> {
  const [card] = await tx.select().from(reviewCards).where(eq(reviewCards.id, cardId)).for('update');
  if (!card) throw new Refusal({ code: 'review_card_gone' });
  const campaign = await openCampaignOf(tx, card.campaignId);
  return { card, campaign };
}

export async function openCampaignOf(tx: Tx, campaignId: number): Promise<Campaign> {
  const [campaign] = await tx.select().from(reviewCampaigns).where(eq(reviewCampaigns.id, campaignId));
  if (!campaign) throw new Refusal({ code: 'no_review', campaignId });
  if (campaign.state !== 'open') throw new Refusal({ code: 'review_not_open', campaignId: campaign.id, state: campaign.state });
  return campaign;
}

export function assertNotSignedOff(card: Card): void {
  if (card.signedOffAt) throw new Refusal({ code: 'review_signed_off', by: card.signedOffBy });
}
