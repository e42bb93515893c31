import type { types } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../../domain/duration.ts';
import { durationSteps } from '../../domain/request-form.ts';
import { button, LIMITS, mrkdwnSection, plain } from './format.ts';
import { ACTIONS, EXTEND_FORM, VIEWS } from './view-models.ts';

/** The reminder before access ends: its words, with Extend (carries the request id) and End now (the grant id). */
export function accessEndingBlocks(text: string, ids: { requestId: number; grantId: number }): KnownBlock[] {
  return [
    mrkdwnSection(text),
    { type: 'actions', elements: [button('Extend', ACTIONS.extendAccess, String(ids.requestId), 'primary'), button('End now', ACTIONS.endGrant, String(ids.grantId), 'danger')] },
  ];
}

/** Asks for how much more time; the request id travels in private_metadata and is re-checked on submit. */
export function extendModal(view: { requestId: number; resource: string; maxDurationMs: number }): types.ModalView {
  return {
    type: 'modal',
    callback_id: VIEWS.extendForm,
    private_metadata: String(view.requestId),
    title: plain('Extend access', LIMITS.modalTitle),
    submit: plain('Ask', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    blocks: [
      mrkdwnSection(`More time on \`${view.resource}\` (request #${view.requestId}). The approvers decide, as for a new request.`),
      {
        type: 'input',
        block_id: EXTEND_FORM.block,
        label: plain('How much more time', 2_000),
        element: {
          type: 'static_select',
          action_id: EXTEND_FORM.action,
          placeholder: plain('Choose a duration', 150),
          options: durationSteps(view.maxDurationMs).map((ms) => ({ text: plain(formatDuration(ms), 75), value: String(ms) })),
        },
      },
    ],
  };
}
