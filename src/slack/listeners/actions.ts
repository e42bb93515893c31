import type { App, BlockAction, ButtonAction, RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { acknowledgeAlert } from '../../app/acknowledge-alert.ts';
import { approveRequest, checkMayDecide, denyRequest } from '../../app/decide-request.ts';
import { approveClick } from '../../app/step-up.ts';
import { Refusal, type AppDeps } from '../../app/deps.ts';
import { endGrant } from '../../app/end-grant.ts';
import { approvalCardView } from '../../app/read-models.ts';
import { reviewEmergency } from '../../app/review-emergency.ts';
import { controlCharacterProblem } from '../../domain/command.ts';
import { reviewActionHandlers } from './review-actions.ts';
import { extendActionHandlers } from './extend-form.ts';
import { humanTaskActionHandlers, registerHumanTaskView } from './human-task-actions.ts';
import { registerRespondView, respondActionHandlers } from './respond-actions.ts';
import { denyModal } from '../blocks/deny-modal.ts';
import { ACTIONS, DENY_MODAL, VIEWS } from '../blocks/view-models.ts';
import { refusalMrkdwn } from '../render.ts';
import { failureReply, GRANT_BEING_CHECKED, GRANT_FINISHES_LATER } from './failure-reply.ts';

/** Button values carry only a database id; anything else is not ours. */
const idValue = z.string().regex(/^\d{1,9}$/).transform(Number);

/** `tell` answers the clicker before the handler's reply, e.g. while it waits on them. */
type ActionHandler = (id: number, user: string, body: BlockAction, client: WebClient, tell: (text: string) => Promise<void>) => Promise<string | undefined>;

type ListenerOptions = { track: (work: Promise<unknown>) => void; refreshHome: (user: string) => Promise<void> };

/**
 * Every button: acknowledged first, then the id is parsed, and the use case decides with the
 * database, taking who clicked from the signed payload, never from the button.
 */
export function registerActionListeners(app: App, deps: AppDeps, options: ListenerOptions): void {
  registerButtons(app, deps, options.track, actionHandlers(deps, options));
  registerHumanTaskView(app, deps);
  registerRespondView(app, deps);
  registerDenyReasonView(app, deps);
}

/** What each button does, by action id; the reply (if any) goes to whoever clicked. */
function actionHandlers(deps: AppDeps, options: ListenerOptions): Record<string, ActionHandler> {
  return {
    // Acked already: a step-up's push is sent and waited for here, after the ack.
    [ACTIONS.approve]: async (id, user, _body, _client, tell) => approvalReply(id, await approveClick(deps, { requestId: id, approver: user, pushSent: () => tell(STEP_UP_PUSH_SENT) })),
    [ACTIONS.deny]: async (id, user, body, client) => {
      // Only someone who may deny is asked for a reason; the submission is checked again.
      await checkMayDecide(deps, { requestId: id, user, verb: 'deny' });
      const view = await approvalCardView(deps, id);
      if (!view) return `There is no request #${id}.`;
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
    ...reviewActionHandlers(deps),
    ...extendActionHandlers(deps),
    ...humanTaskActionHandlers(deps),
    ...respondActionHandlers(deps),
  };
}

/** An Approve that needs a step-up: said once the push is on its way. */
const STEP_UP_PUSH_SENT = ':iphone: Approve the Okta Verify push on your phone… Your approval counts once you accept it (within a minute).';

/** What the approver is told after clicking Approve: how far the request got, and the grant's state if it was the last approval. */
function approvalReply(id: number, outcome: Awaited<ReturnType<typeof approveRequest>>): string | undefined {
  if (outcome.kind !== 'approved') return undefined;
  if (!outcome.final) return `Approved. Request #${id} has ${outcome.approvals} of ${outcome.required} approvals.`;
  if (outcome.grant?.state === 'awaiting_owners') return `Approved request #${id}. The owners of *${outcome.grant.system}* are asked to grant it by hand; the requester is told once one of them confirms.`;
  if (outcome.grant?.state === 'failed') return `Approved, but the ${outcome.extension ? 'extension' : 'grant'} failed: ${outcome.grant.error}`;
  if (outcome.grant?.state === 'checking') return `Approved request #${id}, but ${GRANT_BEING_CHECKED}`;
  return outcome.grant?.state === 'granting' ? `Approved request #${id}, but ${GRANT_FINISHES_LATER} The requester is told then.` : undefined;
}

function registerButtons(app: App, deps: AppDeps, track: ListenerOptions['track'], handlers: Record<string, ActionHandler>): void {
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions' }, async ({ ack, body, action, client, respond }) => {
    await ack();
    // Own keys only: an action id such as "constructor" or "__proto__" must not reach Object.prototype.
    const handler = Object.hasOwn(handlers, action.action_id) ? handlers[action.action_id] : undefined;
    if (!handler || typeof body.user.id !== 'string') return;
    const user = body.user.id;
    const tell = (text: string) => answerClicker(deps, { user, action: action.action_id, hasResponseUrl: Boolean(body.response_url), respond, client }, text);
    const id = idValue.safeParse(action.value);
    if (!id.success) {
      await tell('This button is not valid any more; nothing changed.');
      return;
    }
    track(
      handler(id.data, user, body, client, tell)
        .then((reply) => (reply ? tell(reply) : undefined))
        .catch(async (error: unknown) => {
          if (error instanceof Refusal) return tell(refusalMrkdwn(error.reason));
          deps.logger.error({ err: error, action: action.action_id, user }, 'button handler failed');
          return tell(failureReply(error));
        }),
    );
  });
}

/**
 * Answering the clicker is best effort: the decision is already recorded (or refused), and a
 * reply Slack will not take (a forged user, an expired response_url) must not read as a bot error.
 */
async function answerClicker(
  deps: AppDeps,
  click: { user: string; action: string; hasResponseUrl: boolean; respond: RespondFn; client: WebClient },
  text: string,
): Promise<void> {
  const { user, client } = click;
  try {
    if (click.hasResponseUrl) await click.respond({ response_type: 'ephemeral', replace_original: false, text });
    else {
      // App Home clicks carry no response_url: answer in the app's DM with the person.
      const dm = await client.conversations.open({ users: user });
      if (dm.channel?.id) await client.chat.postMessage({ channel: dm.channel.id, text });
    }
  } catch (error) {
    deps.logger.warn({ user, action: click.action, err: error instanceof Error ? error.message : String(error) }, 'could not answer a click');
  }
}

/** The deny modal's submission: a reason is required, and the use case decides again. */
function registerDenyReasonView(app: App, deps: AppDeps): void {
  app.view(VIEWS.denyReason, async ({ ack, body, view }) => {
    const requestId = idValue.safeParse(view.private_metadata);
    const typed: unknown = view.state?.values?.[DENY_MODAL.block]?.[DENY_MODAL.action]?.value;
    const reason = typeof typed === 'string' ? typed.trim() : '';
    if (!requestId.success) {
      await ack();
      return;
    }
    const problem = reason === '' ? 'Say why, so the requester knows what to do instead.' : controlCharacterProblem(reason);
    if (problem) {
      await ack({ response_action: 'errors', errors: { [DENY_MODAL.block]: problem } });
      return;
    }
    try {
      await denyRequest(deps, { requestId: requestId.data, approver: body.user.id, reason });
      await ack();
    } catch (error) {
      if (!(error instanceof Refusal)) deps.logger.error({ err: error, user: body.user.id }, 'deny failed');
      // A modal's field error is plain text, so the refusal is worded without mrkdwn here.
      await ack({ response_action: 'errors', errors: { [DENY_MODAL.block]: error instanceof Refusal ? error.message : failureReply(error) } });
    }
  });
}
