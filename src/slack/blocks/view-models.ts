/** The views are the app's (src/app/views.ts); the Block Kit builders take them from here. */
export type { RequestSummary, CardStatus, HistoryItem, ApprovalCardView, EmergencyReviewCardView, SecurityAlertView, HomeView, ReviewLineView, ReviewCardView } from '../../app/views.ts';

/** Action ids: the single place the listeners and builders agree on. Buttons carry only an id. */
export const ACTIONS = {
  approve: 'bg_approve',
  deny: 'bg_deny',
  endGrant: 'bg_end_grant',
  reviewEmergency: 'bg_review_emergency',
  acknowledgeAlert: 'bg_ack_alert',
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
  humanTaskDone: 'bg_human_task_done_note',
} as const;

/** Block and action ids inside the deny modal. */
export const DENY_MODAL = { block: 'reason', action: 'reason_input' } as const;

/** Block and action ids inside the Done modal of a human task. */
export const HUMAN_TASK_MODAL = { block: 'proof', action: 'proof_input' } as const;

/** A task for the owners of a system granted by hand, as its card shows it. */
export interface HumanTaskView {
  taskId: number;
  action: 'grant' | 'remove';
  system: string;
  person: string;
  email: string;
  resource: string;
  endsAt: Date;
  dueAt: Date;
  done?: { by: string; at: Date; note: string | null };
  /** The grant moved on before anyone pressed Done (it failed or ended): nothing left to do. */
  withdrawn: boolean;
}
