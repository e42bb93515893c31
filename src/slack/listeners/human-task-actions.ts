import type { App, BlockAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { checkMayConfirm, confirmHumanTask } from '../../app/confirm-human-task.ts';
import { Refusal, type AppDeps } from '../../app/deps.ts';
import { humanTaskView } from '../../app/human-tasks.ts';
import { humanTaskModal } from '../blocks/human-task-card.ts';
import { ACTIONS, HUMAN_TASK_MODAL, VIEWS } from '../blocks/view-models.ts';
import { failureReply } from './failure-reply.ts';

type Handler = (id: number, user: string, body: BlockAction, client: WebClient) => Promise<string | undefined>;

/** Done on a task card: only an owner gets the note modal; anyone else is refused at once. */
export function humanTaskActionHandlers(deps: AppDeps): Record<string, Handler> {
  return {
    [ACTIONS.humanTaskDone]: async (taskId, user, body, client) => {
      await checkMayConfirm(deps, { taskId, user });
      const view = await humanTaskView(deps, taskId);
      if (!view) return undefined;
      await client.views.open({ trigger_id: body.trigger_id, view: humanTaskModal(view) });
      return undefined;
    },
  };
}

const taskId = z.string().regex(/^\d{1,9}$/).transform(Number);

/** The modal's submission: the confirmation itself, by whoever submitted it. */
export function registerHumanTaskView(app: App, deps: AppDeps): void {
  app.view(VIEWS.humanTaskDone, async ({ ack, body, view }) => {
    const id = taskId.safeParse(view.private_metadata);
    if (!id.success) return void (await ack());
    const typed: unknown = view.state?.values?.[HUMAN_TASK_MODAL.block]?.[HUMAN_TASK_MODAL.action]?.value;
    const note = typeof typed === 'string' && typed.trim() !== '' ? typed.trim() : null;
    try {
      await confirmHumanTask(deps, { taskId: id.data, user: body.user.id, note });
      await ack();
    } catch (error) {
      if (!(error instanceof Refusal)) deps.logger.error({ err: error, user: body.user.id }, 'confirming a human task failed');
      await ack({ response_action: 'errors', errors: { [HUMAN_TASK_MODAL.block]: error instanceof Refusal ? error.message : failureReply(error) } });
    }
  });
}
