/**
 * What the Block Kit builders render. Built from the database at send time, so a card always
 * shows the current state, whichever replica renders it.
 */

export interface RequestSummary {
  id: number;
  requester: string;
  resource: string;
  resourceDescription?: string | undefined;
  /** `2h`, as formatDuration gives it. */
  duration: string;
  reason: string;
  ticket?: string | undefined;
  kind: 'standard' | 'emergency' | 'extension';
  /** For an extension: the grant being extended. */
  extendsGrantId?: number | undefined;
  createdAt: Date;
}

export type CardStatus =
  | { state: 'pending'; approvals: string[]; approvalsRequired: number; pendingUntil: Date }
  | { state: 'approved'; approvals: string[] }
  | { state: 'denied'; by: string; reason: string }
  | { state: 'expired' }
  | { state: 'cancelled'; by: string }
  /** Approved, then the provider refused: nothing was left behind. */
  | { state: 'failed'; error: string }
  | { state: 'active'; approvals: string[]; endsAt: Date }
  | { state: 'ended'; approvals: string[]; endedAt: Date };

/** The requester's recent history, shown to approvers so they can judge the pattern. */
export interface HistoryItem {
  id: number;
  resource: string;
  duration: string;
  state: string;
  createdAt: Date;
}

export interface ApprovalCardView {
  request: RequestSummary;
  status: CardStatus;
  history: HistoryItem[];
}

export interface EmergencyReviewCardView {
  request: RequestSummary;
  grantId: number;
  endsAt: Date;
  reviewed?: { by: string; at: Date } | undefined;
}

export interface SecurityAlertView {
  alertId: number;
  text: string;
  acknowledged?: { by: string; at: Date } | undefined;
}

export interface HomeView {
  user: string;
  activeGrants: Array<{ grantId: number; requestId: number; resource: string; endsAt: Date; state: string }>;
  waitingOnMe: Array<{ request: RequestSummary; approvals: string[]; approvalsRequired: number }>;
  myPending: Array<{ request: RequestSummary; approvals: string[]; approvalsRequired: number }>;
  /** Filled once access reviews exist. */
  reviewsDue: Array<{ campaignId: number; items: number; dueAt: Date }>;
}

/** Action ids: the single place the listeners and builders agree on. Buttons carry only an id. */
export const ACTIONS = {
  approve: 'bg_approve',
  deny: 'bg_deny',
  endGrant: 'bg_end_grant',
  reviewEmergency: 'bg_review_emergency',
  acknowledgeAlert: 'bg_ack_alert',
} as const;

export const VIEWS = {
  denyReason: 'bg_deny_reason',
} as const;

/** Block and action ids inside the deny modal. */
export const DENY_MODAL = { block: 'reason', action: 'reason_input' } as const;
