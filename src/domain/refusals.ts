import { formatDuration } from './duration.ts';
import { bold, code, joined, mention, msg, plainText, type Message } from './message.ts';

/** Which access an `/breakglass end` or extension names: a request or (security's CLI) a grant. */
export type AccessRef = { requestId: number } | { grantId: number };

/** Why a use case said no: a code and its facts. Each channel words it from these. */
export type RefusalReason =
  | { code: 'slack_account_deactivated' }
  | { code: 'no_email' }
  | { code: 'not_requestable'; resource: string; options: string[]; /** The resource is defined, but this person is not among its requesters. */ exists?: boolean }
  | { code: 'too_long'; resource: string; durationMs: number; maxMs: number }
  | { code: 'too_few_approvers'; resource: string; required: number; available: number }
  | { code: 'approvers_unavailable'; resource: string; required: number; available: number; unavailable: Array<{ approver: string; reason: string }> }
  | { code: 'requester_left'; left: string }
  | { code: 'no_active_access'; access: AccessRef }
  | { code: 'access_already_ending'; access: AccessRef; state: string }
  | { code: 'extension_in_progress'; requestId: number; extensionRequestId: number | null }
  | { code: 'approval_blocked_by_extension'; requestId: number; extensionRequestId: number | null }
  | { code: 'extended_access_ended'; requestId: number }
  | { code: 'no_request'; requestId: number }
  | { code: 'request_decided'; requestId: number; state: string; outcomeReason: string | null }
  | { code: 'request_expired'; requestId: number }
  | { code: 'own_request'; verb: 'approve' | 'deny' }
  | { code: 'not_request_approver'; resource: string; requestId: number; verb: 'approve' | 'deny' }
  | { code: 'approver_left'; requester: string; requestId: number; left: string }
  | { code: 'already_approved'; requestId: number; required: number }
  | { code: 'resource_gone'; resource: string }
  | { code: 'denial_needs_reason' }
  | { code: 'no_emergency_grant' }
  | { code: 'own_emergency' }
  | { code: 'not_approver'; resource: string }
  | { code: 'emergency_already_reviewed'; by: string }
  | { code: 'emergency_reviewed_meanwhile' }
  | { code: 'not_task_owner'; system: string }
  | { code: 'task_already_done'; system: string; by: string | null }
  | { code: 'no_task'; taskId: number }
  | { code: 'task_withdrawn'; system: string }
  | { code: 'ack_not_security' }
  | { code: 'alert_already_acknowledged' }
  | { code: 'respond_not_security' }
  | { code: 'invalid_response'; problem: string }
  | { code: 'no_alert'; alertId: number }
  | { code: 'log_no_security_team' }
  | { code: 'log_not_security' }
  | { code: 'unknown_review_resources'; unknown: string[]; known: string[] }
  | { code: 'no_review'; campaignId: number }
  | { code: 'review_not_open'; campaignId: number; state: string }
  | { code: 'review_card_gone' }
  | { code: 'review_page_card_gone' }
  | { code: 'review_line_gone' }
  | { code: 'review_not_yours'; recipient: string | null }
  | { code: 'reviewer_lookup_failed'; error: string }
  | { code: 'review_signed_off'; by: string | null }
  | { code: 'review_already_signed_off'; by: string | null }
  | { code: 'review_signed_off_meanwhile' }
  | { code: 'review_lines_undecided'; undecided: number }
  | { code: 'own_review_line' }
  | { code: 'review_line_decided'; by: string | null; decision: string; person: string; resource: string }
  | { code: 'review_only_own_lines_left' }
  | { code: 'review_all_decided' }
  | { code: 'step_up_failed'; requestId: number; reason: StepUpFailure; error?: string | undefined }
  | { code: 'step_up_pending'; requestId: number }
  | { code: 'step_up_required'; requestId: number; resource: string };

/** Why an Okta Verify step-up did not let an approval count (the `approval.step_up_failed` event's reason). */
export type StepUpFailure = 'rejected' | 'timed_out' | 'no_push_factor' | 'no_okta_user' | 'okta_unreachable';

/** A known, user-facing outcome: shown to the person, nothing else happens. Its message is the plain wording. */
export class Refusal extends Error {
  constructor(readonly reason: RefusalReason) {
    super(plainText(refusalWords(reason)));
    this.name = 'Refusal';
  }
}

const accessLabel = (access: AccessRef): Message => ('grantId' in access ? msg`grant ${access.grantId}` : msg`request #${access.requestId}`);
const codes = (names: readonly string[]): Message => joined(names.map((n) => [code(n)]), ', ');
const who = (user: string | null): Message => (user ? [mention(user)] : msg`someone`);
const NOTHING_CHANGED = '; nothing changed.';
const n = (system: string): Message => [bold(system)];

/** How each refusal is worded, by code; typed so that every code has exactly one wording. */
type Wording = { [C in RefusalReason['code']]: (reason: Extract<RefusalReason, { code: C }>) => Message };

/** Asking for access. */
const REQUEST_REFUSALS = {
  slack_account_deactivated: () => msg`Your Slack account is deactivated.`,
  no_email: () => msg`breakglass cannot see an email address on your Slack profile, and it needs one to find you in Okta and AWS. Ask your Slack admin, or add you under ${code('people:')} in access.yml.`,
  not_requestable: (r) => {
    if (r.exists) {
      const others = r.options.length === 0 ? msg`No other resource is open to you.` : msg`You may request: ${codes(r.options)}.`;
      return msg`${code(r.resource)} exists, but you are not among its requesters in access.yml; ask your security team if you need it. ${others}`;
    }
    return r.options.length === 0
      ? msg`There is no resource ${code(r.resource)} you may request, and no other resource is open to you. Ask your security team.`
      : msg`There is no resource ${code(r.resource)} you may request. You may request: ${codes(r.options)}.`;
  },
  too_long: (r) => msg`${formatDuration(r.durationMs)} is longer than ${code(r.resource)} allows (max_duration ${formatDuration(r.maxMs)}). Ask for ${formatDuration(r.maxMs)} or less; you can extend later.`,
  too_few_approvers: (r) => msg`${code(r.resource)} needs ${r.required} approval(s), but only ${r.available} person(s) other than you can approve it. Ask your security team to fix its approvers in access.yml.`,
  approvers_unavailable: (r) =>
    msg`${code(r.resource)} needs ${r.required} approval(s), but only ${r.available} of its approvers can approve now: ${joined(r.unavailable.map((u) => msg`${mention(u.approver)} (${u.reason})`), ', ')}. Your security team has been told; ask them to fix its approvers in access.yml.`,
  requester_left: (r) => msg`You cannot request access: you were ${r.left}. breakglass gives a leaver no access; once you are active again in Okta and Slack, you can ask again.`,
} satisfies Partial<Wording>;

/** Ending or extending access one holds. */
const ACCESS_REFUSALS = {
  no_active_access: (r) => msg`You have no active access under ${accessLabel(r.access)}. ${code('/breakglass list')} shows yours.`,
  access_already_ending: (r) => msg`Access under ${accessLabel(r.access)} is already ${r.state === 'active' || r.state === 'extending' ? 'ending' : r.state}.`,
  extension_in_progress: (r) => msg`Your access under request #${r.requestId} is being extended by request #${r.extensionRequestId ?? '?'} right now; ask again in a moment.`,
  approval_blocked_by_extension: (r) => msg`Request #${r.requestId} cannot be approved this moment: the access it extends is being extended by request #${r.extensionRequestId ?? '?'}. Nothing changed; approve again in a moment.`,
  extended_access_ended: (r) => msg`Request #${r.requestId} extends access that has already ended, so it is cancelled; nothing was granted.`,
} satisfies Partial<Wording>;

/** Approving or denying a request. */
const DECISION_REFUSALS = {
  no_request: (r) => msg`There is no request #${r.requestId}.`,
  request_decided: (r) => msg`Request #${r.requestId} was already ${r.state}${r.outcomeReason ? msg` (${r.outcomeReason})` : []}${NOTHING_CHANGED}`,
  request_expired: (r) => msg`Request #${r.requestId} has expired; the requester can ask again.`,
  own_request: (r) => msg`You cannot ${r.verb} your own request.`,
  not_request_approver: (r) => msg`You are not an approver for ${code(r.resource)}, so you cannot ${r.verb} request #${r.requestId}.`,
  approver_left: (r) => msg`${mention(r.requester)} was ${r.left}, so request #${r.requestId} cannot be approved${NOTHING_CHANGED}`,
  already_approved: (r) => msg`You already approved request #${r.requestId}; it needs ${r.required} approvals.`,
  resource_gone: (r) => msg`${code(r.resource)} is no longer in access.yml, so it cannot be granted.`,
  denial_needs_reason: () => msg`A denial needs a reason.`,
} satisfies Partial<Wording>;

/** Why an Approve that needs an Okta Verify push did not count. */
const STEP_UP_WHY: Record<StepUpFailure, (r: { error?: string | undefined }) => Message> = {
  rejected: () => msg`you rejected the Okta Verify push`,
  timed_out: () => msg`the Okta Verify push was not answered in time`,
  no_push_factor: () => msg`you have no active Okta Verify push enrolled in Okta; enrol Okta Verify, then approve again`,
  no_okta_user: () => msg`breakglass cannot find you in Okta by your Slack email (or ${code('people:')} in access.yml)`,
  okta_unreachable: (r) => msg`breakglass could not reach Okta${r.error ? msg` (${r.error})` : []}; try again in a moment`,
};

/** Approving a resource whose approvals need an Okta Verify push (access.yml `approval: { step_up: okta_verify }`). */
const STEP_UP_REFUSALS = {
  step_up_failed: (r) => msg`Your approval of request #${r.requestId} was not counted: ${STEP_UP_WHY[r.reason](r)}. Nothing changed.`,
  step_up_pending: (r) => msg`An Okta Verify push for request #${r.requestId} is already on your phone; approve it there. No second push was sent.`,
  step_up_required: (r) => msg`Approvals of ${code(r.resource)} need an Okta Verify push now, so request #${r.requestId} was not approved; click Approve again${NOTHING_CHANGED}`,
} satisfies Partial<Wording>;

/** Reviewing emergency access. */
const EMERGENCY_REFUSALS = {
  no_emergency_grant: () => msg`There is no emergency grant to review here.`,
  own_emergency: () => msg`You cannot review your own emergency access.`,
  not_approver: (r) => msg`You are not an approver for ${code(r.resource)}.`,
  emergency_already_reviewed: (r) => msg`${mention(r.by)} already reviewed this emergency access.`,
  emergency_reviewed_meanwhile: () => msg`Someone else reviewed it a moment ago.`,
} satisfies Partial<Wording>;

/** Confirming a task done by hand. */
const TASK_REFUSALS = {
  not_task_owner: (r) => msg`Only the owners of ${n(r.system)} may confirm this${NOTHING_CHANGED}`,
  task_already_done: (r) => msg`${who(r.by)} already confirmed this for ${n(r.system)}${NOTHING_CHANGED}`,
  no_task: (r) => msg`There is no such task (${r.taskId})${NOTHING_CHANGED}`,
  task_withdrawn: (r) => msg`The grant ended before this was confirmed, so there is nothing to confirm for ${n(r.system)} any more${NOTHING_CHANGED}`,
} satisfies Partial<Wording>;

/** The security team's alerts and log export. */
const SECURITY_REFUSALS = {
  ack_not_security: () => msg`Only the security team (access.yml ${code('security:')}) can acknowledge alerts.`,
  alert_already_acknowledged: () => msg`That alert is already acknowledged (or does not exist).`,
  respond_not_security: () => msg`Only the security team (access.yml ${code('security:')}) can respond to alerts.`,
  invalid_response: (r) => [{ words: r.problem }],
  no_alert: (r) => msg`There is no alert ${r.alertId}; nothing was recorded.`,
  log_no_security_team: () => msg`${code('/breakglass log')} is for the security team, and access.yml names none (${code('security:')}). Nothing was exported; use ${code('npx breakglass evidence export')} instead.`,
  log_not_security: () => msg`${code('/breakglass log')} is only for the security team named in access.yml (${code('security:')}), and you are not in it. Nothing was exported.`,
} satisfies Partial<Wording>;

/** Access reviews: starting one, deciding its lines, signing it off. */
const REVIEW_REFUSALS = {
  unknown_review_resources: (r) => msg`No resource ${codes(r.unknown)} in access.yml; known resources: ${r.known.join(', ')}.`,
  no_review: (r) => msg`There is no access review #${r.campaignId}.`,
  review_not_open: (r) => msg`Access review #${r.campaignId} is ${r.state}${NOTHING_CHANGED}`,
  review_card_gone: () => msg`This review card no longer exists${NOTHING_CHANGED}`,
  review_page_card_gone: () => msg`This review card no longer exists.`,
  review_line_gone: () => msg`This review line no longer exists${NOTHING_CHANGED}`,
  review_not_yours: (r) =>
    r.recipient === null
      ? msg`Only the security team (access.yml ${code('security:')}) can decide the lines on this review${NOTHING_CHANGED}`
      : msg`Only ${mention(r.recipient)} (or the security team) can decide the lines on this review${NOTHING_CHANGED}`,
  reviewer_lookup_failed: (r) => msg`breakglass could not look you up in Okta to make sure this is not your own access (${r.error})${NOTHING_CHANGED} Try again in a moment.`,
  review_signed_off: (r) => msg`This review was signed off by ${who(r.by)}; its decisions are final.`,
  review_already_signed_off: (r) => msg`${who(r.by)} already signed off this review${NOTHING_CHANGED}`,
  review_signed_off_meanwhile: () => msg`This review was signed off a moment ago${NOTHING_CHANGED}`,
  review_lines_undecided: (r) => msg`${r.undecided} line(s) are still undecided; decide them (or press ${bold('Keep all remaining')}), then sign off.`,
  own_review_line: () => msg`You cannot decide about your own access; another reviewer will.`,
  review_line_decided: (r) => msg`${who(r.by)} already chose ${bold(r.decision)} for ${r.person} on ${code(r.resource)}${NOTHING_CHANGED}`,
  review_only_own_lines_left: () => msg`The only lines left are about your own access; another reviewer will decide them.`,
  review_all_decided: () => msg`Every line is already decided; sign off when you are ready.`,
} satisfies Partial<Wording>;

const WORDING: Wording = { ...REQUEST_REFUSALS, ...ACCESS_REFUSALS, ...DECISION_REFUSALS, ...EMERGENCY_REFUSALS, ...TASK_REFUSALS, ...SECURITY_REFUSALS, ...REVIEW_REFUSALS, ...STEP_UP_REFUSALS };

/** What a refusal says, for every channel; each formats the marked parts its own way. */
export function refusalWords(r: RefusalReason): Message {
  // TypeScript cannot correlate the code with its wording's parameter: WORDING's type pairs them.
  return (WORDING[r.code] as (reason: RefusalReason) => Message)(r);
}
