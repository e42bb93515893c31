/** The views are the app's (src/app/views.ts); the Block Kit builders take them from here. */
export type { RequestSummary, CardStatus, HistoryItem, ApprovalCardView, EmergencyReviewCardView, SecurityAlertView, HomeView, ReviewLineView, ReviewCardView, HumanTaskView } from '../../app/views.ts';

/** Action ids: the single place the listeners and builders agree on. Buttons carry only an id. */
export const ACTIONS = {
  approve: 'bg_approve',
  deny: 'bg_deny',
  endGrant: 'bg_end_grant',
  reviewEmergency: 'bg_review_emergency',
  acknowledgeAlert: 'bg_ack_alert',
  /** A security alert's Respond: carries the alert id, opens the response modal. */
  respondAlert: 'bg_respond_alert',
  /** On the reminder before access ends: opens the extension form; carries the request id. */
  extendAccess: 'bg_extend_access',
  /** A human task card's Done: carries the task id, opens the note modal. */
  humanTaskDone: 'bg_human_task_done',
  /** Access-review cards: Keep / Revoke carry a line id; the rest carry the card id. */
  reviewKeep: 'bg_review_keep',
  reviewRevoke: 'bg_review_revoke',
  reviewKeepAll: 'bg_review_keep_all',
  reviewSignOff: 'bg_review_sign_off',
  reviewPrevPage: 'bg_review_prev',
  reviewNextPage: 'bg_review_next',
} as const;

export const VIEWS = {
  denyReason: 'bg_deny_reason',
  requestForm: 'bg_request_form',
  extendForm: 'bg_extend_form',
  humanTaskDone: 'bg_human_task_done_note',
  respondAlert: 'bg_respond_alert_text',
} as const;

/** Block and action ids inside the response modal. */
export const RESPOND_MODAL = { block: 'response', action: 'response_text' } as const;

/** Block and action ids inside the extension form. */
export const EXTEND_FORM = { block: 'duration', action: 'duration_select' } as const;

/** The global shortcut's callback id, as manifest.yml declares it. */
export const SHORTCUTS = { requestAccess: 'bg_request_access' } as const;

/** Block and action ids inside the request form: a field error names the block. */
export const REQUEST_FORM = {
  resource: { block: 'resource', action: 'resource_select' },
  duration: { block: 'duration', action: 'duration_select' },
  reason: { block: 'reason', action: 'reason_input' },
  ticket: { block: 'ticket', action: 'ticket_input' },
} as const;

/** Block and action ids inside the deny modal. */
export const DENY_MODAL = { block: 'reason', action: 'reason_input' } as const;

/** Block and action ids inside the Done modal of a human task. */
export const HUMAN_TASK_MODAL = { block: 'proof', action: 'proof_input' } as const;

