import { decideReviewItem, keepAllRemaining } from '../../app/decide-review-item.ts';
import type { AppDeps } from '../../app/deps.ts';
import { signOffReview, turnReviewPage } from '../../app/sign-off-review.ts';
import { ACTIONS } from '../blocks/view-models.ts';

/** What a button handler gets: the id the button carries and the signed payload's user; returns an ephemeral reply, if any. */
type Handler = (id: number, user: string) => Promise<string | undefined>;

/**
 * The access-review buttons. Keep / Revoke carry a line id; Keep all remaining, Sign off and the
 * page buttons carry the card id. The card itself updates in place through the outbox, so most
 * clicks need no reply; refusals (not your card, already decided, your own access) come back as
 * Refusals and are shown to the clicker only.
 */
export function reviewActionHandlers(deps: AppDeps): Record<string, Handler> {
  return {
    [ACTIONS.reviewKeep]: async (id, user) => {
      await decideReviewItem(deps, { itemId: id, user, decision: 'keep' });
      return undefined;
    },
    [ACTIONS.reviewRevoke]: async (id, user) => {
      const outcome = await decideReviewItem(deps, { itemId: id, user, decision: 'revoke' });
      if (outcome.byHand && outcome.revoked === false && !outcome.error) {
        return 'Revoke recorded. This access is granted by hand: its owners are now asked to remove it, and the line shows it removed once one of them confirms with Done.';
      }
      return outcome.revoked === false ? `Revoke recorded, but the provider refused for now (${outcome.error ?? 'unknown error'}). breakglass keeps retrying and the card shows when it is done.` : undefined;
    },
    [ACTIONS.reviewKeepAll]: async (id, user) => {
      const { kept, leftForOthers } = await keepAllRemaining(deps, { cardId: id, user });
      return `Kept ${kept} line(s).${leftForOthers > 0 ? ` ${leftForOthers} line(s) about your own access are left for another reviewer.` : ' You can sign off now.'}`;
    },
    [ACTIONS.reviewSignOff]: async (id, user) => {
      const signed = await signOffReview(deps, { cardId: id, user });
      return `Signed off: ${signed.lines} line(s), ${signed.kept} kept, ${signed.revoked} revoked${signed.overdue ? ' (after the due date)' : ''}. Thank you.`;
    },
    [ACTIONS.reviewPrevPage]: async (id) => {
      await turnReviewPage(deps, { cardId: id, delta: -1 });
      return undefined;
    },
    [ACTIONS.reviewNextPage]: async (id) => {
      await turnReviewPage(deps, { cardId: id, delta: 1 });
      return undefined;
    },
  };
}
