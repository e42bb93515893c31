import type { Notification } from '../domain/notifications.ts';

/**
 * What the channels render (Slack's Block Kit builders, App Home, `/breakglass list`). Built from
 * the database at send time, so a card always shows the current state, whichever replica renders it.
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
  kind: 'standard' | 'emergency' | 'extension' | 'on_call';
  /** For an extension: the grant being extended. */
  extendsGrantId?: number | undefined;
  createdAt: Date;
}

export type CardStatus =
  | { state: 'pending'; approvals: string[]; approvalsRequired: number; pendingUntil: Date }
  | { state: 'approved'; approvals: string[] }
  | { state: 'denied'; by: string; reason: string }
  | { state: 'expired' }
  /** `reason`: why breakglass cancelled it (an extension whose access ended, a requester who was offboarded). */
  | { state: 'cancelled'; by: string; reason?: string | undefined }
  /** Approved, then the provider refused (nothing was left behind), or an extension could not be applied. */
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
  /** Approvals of the resource count only after an Okta Verify push (access.yml `approval: { step_up }`). */
  stepUp?: boolean;
}

export interface EmergencyReviewCardView {
  request: RequestSummary;
  grantId: number;
  endsAt: Date;
  reviewed?: { by: string; at: Date } | undefined;
  /** An on-call approval (request kind on_call): the PagerDuty shifts it was approved on. */
  onCall?: Array<{ scheduleId: string; escalationLevel: number; end: string | null }> | undefined;
}

export interface SecurityAlertView {
  alertId: number;
  /** Plain text; for alerts raised before notifications were data, the finished Slack text. */
  text: string;
  /** What the alert is about, as facts: each channel words it. Null on alerts raised before. */
  notification?: Notification | null | undefined;
  acknowledged?: { by: string; at: Date } | undefined;
  /** Management's responses, oldest first. */
  responses?: Array<{ by: string; at: Date; text: string }> | undefined;
}

export interface HomeView {
  user: string;
  /** `revoke_retrying`: the provider refused the revoke, and it is being retried. */
  activeGrants: Array<{ grantId: number; requestId: number; resource: string; endsAt: Date; state: 'active' | 'granting' | 'extending' | 'revoking' | 'revoke_retrying' }>;
  waitingOnMe: Array<{ request: RequestSummary; approvals: string[]; approvalsRequired: number }>;
  myPending: Array<{ request: RequestSummary; approvals: string[]; approvalsRequired: number }>;
  /** Filled once access reviews exist. */
  reviewsDue: Array<{ campaignId: number; items: number; dueAt: Date }>;
}

/** One person's access to one resource, as a line on a review card. */
export interface ReviewLineView {
  itemId: number;
  /** Display name (Okta first and last name, else login). */
  person: string;
  email?: string | undefined;
  slackId?: string | undefined;
  resource: string;
  since?: Date | undefined;
  /** `grant`: when breakglass granted it; `first_seen`: the first review that found it. */
  sinceSource: 'grant' | 'first_seen';
  /** Not in the previous review of this resource; null when this is its first review. */
  isNew: boolean | null;
  /** The breakglass request behind the access; undefined means unmanaged (granted outside breakglass). */
  requestId?: number | undefined;
  route: 'manager' | 'skip_level' | 'security' | 'left';
  routeNote?: string | undefined;
  decision?: { kind: 'keep' | 'revoke'; by: string; at: Date } | undefined;
  revoke?: { state: 'pending' | 'revoked'; verified: boolean; error?: string | undefined } | undefined;
  /** Granted by hand (a system breakglass cannot list): the line is breakglass's own confirmed grant, and its owners remove it. */
  byHand?: boolean | undefined;
}

/** One reviewer's card in an access-review campaign, at one page. */
export interface ReviewCardView {
  campaign: { id: number; period: string; dueAt: Date; state: 'requested' | 'open' | 'closed' };
  cardId: number;
  /** A manager's card arrives as a DM; the security card is posted in the security channel. */
  audience: 'manager' | 'security';
  /** The manager's Slack id, or the security channel's id. */
  recipient: string;
  /** 0-based page shown, and how many pages there are. */
  page: number;
  pages: number;
  totals: { lines: number; decided: number; kept: number; revoked: number; people: number };
  signedOff?: { by: string; at: Date } | undefined;
  escalated: boolean;
  /** The lines on this page. */
  lines: ReviewLineView[];
}

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
