import type { App, BlockAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { Refusal, type AppDeps } from '../../app/deps.ts';
import { MAX_RESPONSE, respondToAlert, responseProblem } from '../../app/respond-to-exception.ts';
import { securityAlertView } from '../../app/read-models.ts';
import { isSecurity } from '../../app/security.ts';
import { LIMITS, plain, truncate } from '../blocks/format.ts';
import { ACTIONS, RESPOND_MODAL, VIEWS } from '../blocks/view-models.ts';
import { failureReply } from './failure-reply.ts';

const alertIdValue = z.string().regex(/^\d{1,9}$/).transform(Number);

/** The Respond button on a security alert: opens the response modal for whoever may respond. */
export function respondActionHandlers(deps: AppDeps) {
  return {
    [ACTIONS.respondAlert]: async (alertId: number, user: string, body: BlockAction, client: WebClient): Promise<string | undefined> => {
      if (deps.access.config.security && !(await isSecurity(deps, user))) throw new Refusal({ code: 'respond_not_security' });
      const alert = await securityAlertView(deps.db, alertId);
      if (!alert) throw new Refusal({ code: 'no_alert', alertId });
      await client.views.open({ trigger_id: body.trigger_id, view: respondModal(alertId, alert.text) });
      return undefined;
    },
  };
}

function respondModal(alertId: number, alertText: string) {
  return {
    type: 'modal' as const,
    callback_id: VIEWS.respondAlert,
    private_metadata: String(alertId),
    title: plain(`Respond to alert ${alertId}`, LIMITS.modalTitle),
    submit: plain('Record', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    blocks: [
      { type: 'section' as const, text: plain(truncate(alertText, 2_900), 3_000) },
      {
        type: 'input' as const,
        block_id: RESPOND_MODAL.block,
        label: plain('Management response', 2_000),
        hint: plain('What was done about it, or why it is acceptable. Kept as audit evidence and shown on the alert.', 2_000),
        element: { type: 'plain_text_input' as const, action_id: RESPOND_MODAL.action, multiline: true, min_length: 1, max_length: MAX_RESPONSE },
      },
    ],
  };
}

/** The modal's submission: checked again (who, what), recorded, and the alert's message updated. */
export function registerRespondView(app: App, deps: AppDeps): void {
  app.view(VIEWS.respondAlert, async ({ ack, body, view }) => {
    const alertId = alertIdValue.safeParse(view.private_metadata);
    const typed: unknown = view.state?.values?.[RESPOND_MODAL.block]?.[RESPOND_MODAL.action]?.value;
    const response = typeof typed === 'string' ? typed : '';
    if (!alertId.success) {
      await ack();
      return;
    }
    const problem = responseProblem(response);
    if (problem) {
      await ack({ response_action: 'errors', errors: { [RESPOND_MODAL.block]: problem } });
      return;
    }
    try {
      await respondToAlert(deps, { alertId: alertId.data, user: body.user.id, response });
      await ack();
    } catch (error) {
      if (!(error instanceof Refusal)) deps.logger.error({ err: error, user: body.user.id }, 'recording a response failed');
      await ack({ response_action: 'errors', errors: { [RESPOND_MODAL.block]: error instanceof Refusal ? error.message : failureReply(error) } });
    }
  });
}
