import type { VerifyResult } from '../../ledger/verify.ts';
import type { UnreadableEvent } from '../history.ts';
import type { UptimeSummary } from './uptime-findings.ts';

/** The readiness report as data: what assessReadiness finds, what readiness-render.ts words for a person. */

export const GAP_KINDS = [
  'ledger_tampered',
  'checkpoint_missing',
  'checkpoint_overdue',
  'unapproved_grant',
  'late_revoke',
  'not_revoked',
  'unreviewed_emergency',
  'unacknowledged_alert',
  'review_overdue',
  'offboarding_past_sla',
  'approvers_short',
  'silent_days',
  'bot_down',
  'bot_stopped',
] as const;

export type GapKind = (typeof GAP_KINDS)[number];

export const GAP_TITLES: Record<GapKind, string> = {
  ledger_tampered: 'The evidence ledger does not verify',
  checkpoint_missing: 'Evidence not covered by a signed checkpoint for more than a day',
  checkpoint_overdue: 'More than 24 hours without a signed checkpoint',
  unapproved_grant: 'Access without a recorded final approval',
  late_revoke: 'Access revoked later than its end',
  not_revoked: 'Access past its end with no revocation recorded',
  unreviewed_emergency: 'Emergency access not reviewed within 24 hours',
  unacknowledged_alert: 'Security alerts never acknowledged',
  review_overdue: 'Access reviews overdue or not signed off',
  offboarding_past_sla: 'Offboarding past its SLA',
  approvers_short: 'Resources left with fewer approvers than they need',
  silent_days: 'Days with no evidence at all',
  bot_down: 'The bot was not running, with no clean stop recorded (crash or host down)',
  bot_stopped: 'The bot was stopped cleanly (planned stop)',
};

export interface Gap {
  kind: GapKind;
  /** One sentence an auditor can read. Deterministic: facts, never "N hours ago". */
  summary: string;
  /** The events behind it, ascending. */
  seqs: number[];
  resource?: string | null;
  subject?: string | null;
  requestId?: string | null;
  grantId?: string | null;
  /** When it happened (ISO-8601 UTC): the grant's start, the revocation, the alert, the day… */
  at: string;
  /** For a stretch of time (bot_down, bot_stopped, checkpoint_overdue): its start, its end (now, if it goes on) and length. */
  start?: string;
  end?: string;
  duration_ms?: number;
  /** What management can respond to (`npx breakglass respond <id>`): see exceptions.ts. */
  id?: string;
  /** Management's responses to it, oldest first. */
  responses?: Array<{ by: string; at: string; text: string; seq: number }>;
  /** An unacknowledged alert: its kind and id, and every alert folded into it for the same finding. */
  alert_kind?: string;
  alert_ids?: string[];
  occurrences?: number;
  last_at?: string;
}

export interface ReadinessReport {
  period: { from: string; to: string };
  ok: boolean;
  ledger: { ok: boolean; count: number; head_hash: string; problem: VerifyResult['problem'] | null; checkpoint: CheckpointStatus | null };
  /** What was looked at, so "no gaps" can be told apart from "nothing to check". */
  checked: { grants: number; extensions: number; revocations: number; emergency_grants: number; alerts: number; review_campaigns: number; offboardings: number; days: number };
  gaps: Gap[];
  counts: Record<GapKind, number>;
  late_revoke_tolerance_ms: number;
  /** Whether the bot's uptime is recorded for the period, and how long it was not running in it. */
  uptime: UptimeSummary;
  /**
   * Events whose details the catalogue cannot read (an unknown kind, or details not of their
   * kind's shape): left out of the checks rather than guessed at, and named here.
   */
  unreadable: UnreadableEvent[];
}

export interface CheckpointStatus {
  ok: boolean;
  /** The seq of the ledger.checkpoint event. */
  seq: number;
  message: string;
}
