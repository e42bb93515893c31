import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { acknowledgeAlert } from '../../app/acknowledge-alert.ts';
import { approveRequest, denyRequest } from '../../app/decide-request.ts';
import { Refusal, type AppDeps } from '../../app/deps.ts';
import { endGrant } from '../../app/end-grant.ts';
import { approvalCardView } from '../../app/read-models.ts';
import { reviewEmergency } from '../../app/review-emergency.ts';
import { denyModal } from '../blocks/deny-modal.ts';
import { ACTIONS, DENY_MODAL, VIEWS } from '../blocks/view-models.ts';

/** Button values carry only a database id; anything else is not ours. */
const idValue = z.string().regex(/^\d{1,9}$/).transform(Number);

type ActionHandler = (id: number, user: string, body: BlockAction, client: WebClient) => Promise<string | undefined>;

/**
 * Every button: acknowledged first, then the id is parsed, and the use case decides with the
 * database, taking who clicked from the signed payload, never from the button.
 */
export function registerActionListeners(app: App, deps: AppDeps, options: { track: (work: Promise<unknown>) => void; refreshHome: (user: string) => Promise<void> }): void {
  const handlers: Record<string, ActionHandler> = {
    [ACTIONS.approve]: async (id, user) => {
      const outcome = await approveRequest(deps, { requestId: id, approver: user });
      if (outcome.kind !== 'approved') return undefined;
      if (!outcome.final) return `Approved. Request #${id} has ${outcome.approvals} of ${outcome.required} approvals.`;
      return outcome.granted === false ? `Approved, but the grant failed: ${outcome.error}` : undefined;
    },
    [ACTIONS.deny]: async (id, user, body, client) => {
      const view = await approvalCardView(deps, id);
      if (!view || view.status.state !== 'pending') return `Request #${id} is no longer pending; nothing changed.`;
      if (view.request.requester === user) return 'You cannot deny your own request.';
      await client.views.open({ trigger_id: body.trigger_id, view: denyModal(id, view.request) });
      return undefined;
    },
    [ACTIONS.endGrant]: async (id, user) => {
      const ended = await endGrant(deps, { grantId: id, user });
      await options.refreshHome(user);
      return `Ending your access to \`${ended.resource}\` now.`;
    },
    [ACTIONS.reviewEmergency]: async (id, user) => {
      await reviewEmergency(deps, { grantId: id, reviewer: user });
      return undefined;
    },
    [ACTIONS.acknowledgeAlert]: async (id, user) => {
      await acknowledgeAlert(deps, { alertId: id, user });
      return undefined;
    },
  };

  app.action<BlockAction<ButtonAction>>({ type: 'block_actions' }, async ({ ack, body, action, client, respond }) => {
    await ack();
    const handler = handlers[action.action_id];
    if (!handler) return;
    const user = body.user.id;
    const tell = async (text: string) => {
      if (body.response_url) await respond({ response_type: 'ephemeral', replace_original: false, text });
      else await client.chat.postEphemeral({ channel: body.channel?.id ?? user, user, text }).catch(() => {});
    };
    const id = idValue.safeParse(action.value);
    if (!id.success) {
      await tell('This button is not valid any more; nothing changed.');
      return;
    }
    options.track(
      handler(id.data, user, body, client)
        .then((reply) => (reply ? tell(reply) : undefined))
        .catch(async (error: unknown) => {
          if (error instanceof Refusal) return tell(error.message);
          deps.logger.error({ err: error, action: action.action_id, user }, 'button handler failed');
          return tell('Something went wrong and nothing was changed. Please try again.').catch(() => {});
        }),
    );
  });

  app.view(VIEWS.denyReason, async ({ ack, body, view }) => {
    const requestId = idValue.safeParse(view.private_metadata);
    const reason = view.state.values[DENY_MODAL.block]?.[DENY_MODAL.action]?.value?.trim() ?? '';
    if (!requestId.success) {
      await ack();
      return;
    }
    if (reason === '') {
      await ack({ response_action: 'errors', errors: { [DENY_MODAL.block]: 'Say why, so the requester knows what to do instead.' } });
      return;
    }
    try {
      await denyRequest(deps, { requestId: requestId.data, approver: body.user.id, reason });
      await ack();
    } catch (error) {
      if (!(error instanceof Refusal)) deps.logger.error({ err: error, user: body.user.id }, 'deny failed');
      await ack({ response_action: 'errors', errors: { [DENY_MODAL.block]: error instanceof Refusal ? error.message : 'Something went wrong; nothing changed. Try again.' } });
    }
  });
}
