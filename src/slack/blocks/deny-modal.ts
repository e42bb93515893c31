import type { types } from '@slack/bolt';
import { DENY_MODAL, VIEWS, type RequestSummary } from './view-models.ts';
import { LIMITS, plain } from './format.ts';
import { requestBlocks } from './approval-card.ts';

export const DENY_REASON_MAX = 500;

/**
 * Asks the approver why. The request id travels in private_metadata, not in the form, and the
 * submission handler re-reads the request from the database, as it does for a button click.
 */
export function denyModal(requestId: number, requestSummary: RequestSummary): types.ModalView {
  return {
    type: 'modal',
    callback_id: VIEWS.denyReason,
    private_metadata: String(requestId),
    title: plain(`Deny request #${requestId}`, LIMITS.modalTitle),
    submit: plain('Deny', LIMITS.modalTitle),
    close: plain('Cancel', LIMITS.modalTitle),
    blocks: [
      ...requestBlocks(requestSummary, 1_000),
      {
        type: 'input',
        block_id: DENY_MODAL.block,
        label: plain('Why are you denying it?', 2_000),
        hint: plain('The requester sees this, and it is kept as audit evidence.', 2_000),
        element: {
          type: 'plain_text_input',
          action_id: DENY_MODAL.action,
          multiline: true,
          min_length: 1,
          max_length: DENY_REASON_MAX,
          placeholder: plain('e.g. Use the read replica instead; no write access needed', 150),
        },
      },
    ],
  };
}
