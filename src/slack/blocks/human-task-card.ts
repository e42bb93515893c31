import type { types } from '@slack/bolt';
import { ACTIONS, HUMAN_TASK_MODAL, VIEWS, type HumanTaskView } from './view-models.ts';
import { button, context, escapeMrkdwn, header, LIMITS, mrkdwnSection, plain, quote, resourceName, slackDate, truncate, user } from './format.ts';

export const HUMAN_TASK_NOTE_MAX = 500;

const whatToDo = (view: HumanTaskView): string =>
  view.action === 'grant'
    ? `Grant *${escapeMrkdwn(view.system)}* to ${escapeMrkdwn(view.email)} (${user(view.person)}) until ${slackDate(view.endsAt)}`
    : `Remove *${escapeMrkdwn(view.system)}* from ${escapeMrkdwn(view.email)} (${user(view.person)})`;

/** The card an owner gets: what to do by hand, and Done once it is done (the Done is the evidence). */
export function humanTaskCard(view: HumanTaskView): { text: string; blocks: types.KnownBlock[] } {
  const todo = whatToDo(view);
  const blocks: types.KnownBlock[] = [header(view.action === 'grant' ? '🔑 Access to grant by hand' : '🔒 Access to remove by hand'), mrkdwnSection(todo)];
  blocks.push(context([`breakglass resource ${resourceName(view.resource)} · task ${view.taskId}`]));
  if (view.done) {
    blocks.push(mrkdwnSection(`✅ Done by ${user(view.done.by)} at ${slackDate(view.done.at)}${view.done.note ? `\n${quote(view.done.note, HUMAN_TASK_NOTE_MAX)}` : ''}`));
  } else if (view.withdrawn) {
    blocks.push(
      mrkdwnSection(
        view.action === 'grant'
          ? 'Nothing to do any more: the grant ended before anyone confirmed granting it. If it was granted after all, the removal card asks you to remove it.'
          : 'Nothing to do any more: the grant ended before this was done.',
      ),
    );
  } else {
    blocks.push(mrkdwnSection(`Due ${slackDate(view.dueAt)}. Press *Done* once you have made the change.`));
    blocks.push({ type: 'actions', elements: [button('Done', ACTIONS.humanTaskDone, String(view.taskId), 'primary')] });
  }
  return { text: truncate(todo.replace(/\*/g, ''), 300), blocks };
}

/** Asks the owner for an optional note or link as proof; the task id travels in private_metadata. */
export function humanTaskModal(view: HumanTaskView): types.ModalView {
  return {
    type: 'modal',
    callback_id: VIEWS.humanTaskDone,
    private_metadata: String(view.taskId),
    title: plain('Confirm it is done', LIMITS.modalTitle),
    submit: plain('Done', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    blocks: [
      mrkdwnSection(whatToDo(view)),
      {
        type: 'input',
        block_id: HUMAN_TASK_MODAL.block,
        optional: true,
        label: plain('Note or link (optional)', 2_000),
        hint: plain('Kept as audit evidence with your confirmation, e.g. a ticket or a screenshot link.', 2_000),
        element: { type: 'plain_text_input', action_id: HUMAN_TASK_MODAL.action, multiline: true, max_length: HUMAN_TASK_NOTE_MAX },
      },
    ],
  };
}
