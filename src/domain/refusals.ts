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
  | { code: 'review_all_decided' };

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

/** What a refusal says, for every channel; each formats the marked parts its own way. */
export function refusalWords(r: RefusalReason): Message {
  switch (r.code) {
    case 'not_task_owner':
      return msg`Only the owners of ${n(r.system)} may confirm this${NOTHING_CHANGED}`;
    case 'task_already_done':
      return msg`${who(r.by)} already confirmed this for ${n(r.system)}${NOTHING_CHANGED}`;
    case 'no_task':
      return msg`There is no such task (${r.taskId})${NOTHING_CHANGED}`;
    case 'slack_account_deactivated':
      return msg`Your Slack account is deactivated.`;
    case 'no_email':
      return msg`breakglass cannot see an email address on your Slack profile, and it needs one to find you in Okta and AWS. Ask your Slack admin, or add you under ${code('people:')} in access.yml.`;
    case 'not_requestable':
      if (r.exists) {
        const others = r.options.length === 0 ? msg`No other resource is open to you.` : msg`You may request: ${codes(r.options)}.`;
        return msg`${code(r.resource)} exists, but you are not among its requesters in access.yml; ask your security team if you need it. ${others}`;
      }
      return r.options.length === 0
        ? msg`There is no resource ${code(r.resource)} you may request, and no other resource is open to you. Ask your security team.`
        : msg`There is no resource ${code(r.resource)} you may request. You may request: ${codes(r.options)}.`;
    case 'too_long':
      return msg`${formatDuration(r.durationMs)} is longer than ${code(r.resource)} allows (max_duration ${formatDuration(r.maxMs)}). Ask for ${formatDuration(r.maxMs)} or less; you can extend later.`;
    case 'too_few_approvers':
      return msg`${code(r.resource)} needs ${r.required} approval(s), but only ${r.available} person(s) other than you can approve it. Ask your security team to fix its approvers in access.yml.`;
    case 'requester_left':
      return msg`You cannot request access: you were ${r.left}. breakglass gives a leaver no access; once you are active again in Okta and Slack, you can ask again.`;
    case 'no_active_access':
      return msg`You have no active access under ${accessLabel(r.access)}. ${code('/breakglass list')} shows yours.`;
    case 'access_already_ending':
      return msg`Access under ${accessLabel(r.access)} is already ${r.state === 'active' || r.state === 'extending' ? 'ending' : r.state}.`;
    case 'extension_in_progress':
      return msg`Your access under request #${r.requestId} is being extended by request #${r.extensionRequestId ?? '?'} right now; ask again in a moment.`;
    case 'approval_blocked_by_extension':
      return msg`Request #${r.requestId} cannot be approved this moment: the access it extends is being extended by request #${r.extensionRequestId ?? '?'}. Nothing changed; approve again in a moment.`;
    case 'extended_access_ended':
      return msg`Request #${r.requestId} extends access that has already ended, so it is cancelled; nothing was granted.`;
    case 'no_request':
      return msg`There is no request #${r.requestId}.`;
    case 'request_decided':
      return msg`Request #${r.requestId} was already ${r.state}${r.outcomeReason ? msg` (${r.outcomeReason})` : []}${NOTHING_CHANGED}`;
    case 'request_expired':
      return msg`Request #${r.requestId} has expired; the requester can ask again.`;
    case 'own_request':
      return msg`You cannot ${r.verb} your own request.`;
    case 'not_request_approver':
      return msg`You are not an approver for ${code(r.resource)}, so you cannot ${r.verb} request #${r.requestId}.`;
    case 'approver_left':
      return msg`${mention(r.requester)} was ${r.left}, so request #${r.requestId} cannot be approved${NOTHING_CHANGED}`;
    case 'already_approved':
      return msg`You already approved request #${r.requestId}; it needs ${r.required} approvals.`;
    case 'resource_gone':
      return msg`${code(r.resource)} is no longer in access.yml, so it cannot be granted.`;
    case 'denial_needs_reason':
      return msg`A denial needs a reason.`;
    case 'no_emergency_grant':
      return msg`There is no emergency grant to review here.`;
    case 'own_emergency':
      return msg`You cannot review your own emergency access.`;
    case 'not_approver':
      return msg`You are not an approver for ${code(r.resource)}.`;
    case 'emergency_already_reviewed':
      return msg`${mention(r.by)} already reviewed this emergency access.`;
    case 'emergency_reviewed_meanwhile':
      return msg`Someone else reviewed it a moment ago.`;
    case 'ack_not_security':
      return msg`Only the security team (access.yml ${code('security:')}) can acknowledge alerts.`;
    case 'alert_already_acknowledged':
      return msg`That alert is already acknowledged (or does not exist).`;
    case 'respond_not_security':
      return msg`Only the security team (access.yml ${code('security:')}) can respond to alerts.`;
    case 'invalid_response':
      return [{ words: r.problem }];
    case 'no_alert':
      return msg`There is no alert ${r.alertId}; nothing was recorded.`;
    case 'log_no_security_team':
      return msg`${code('/breakglass log')} is for the security team, and access.yml names none (${code('security:')}). Nothing was exported; use ${code('npx breakglass evidence export')} instead.`;
    case 'log_not_security':
      return msg`${code('/breakglass log')} is only for the security team named in access.yml (${code('security:')}), and you are not in it. Nothing was exported.`;
    case 'unknown_review_resources':
      return msg`No resource ${codes(r.unknown)} in access.yml; known resources: ${r.known.join(', ')}.`;
    case 'no_review':
      return msg`There is no access review #${r.campaignId}.`;
    case 'review_not_open':
      return msg`Access review #${r.campaignId} is ${r.state}${NOTHING_CHANGED}`;
    case 'review_card_gone':
      return msg`This review card no longer exists${NOTHING_CHANGED}`;
    case 'review_page_card_gone':
      return msg`This review card no longer exists.`;
    case 'review_line_gone':
      return msg`This review line no longer exists${NOTHING_CHANGED}`;
    case 'review_not_yours':
      return r.recipient === null
        ? msg`Only the security team (access.yml ${code('security:')}) can decide the lines on this review${NOTHING_CHANGED}`
        : msg`Only ${mention(r.recipient)} (or the security team) can decide the lines on this review${NOTHING_CHANGED}`;
    case 'reviewer_lookup_failed':
      return msg`breakglass could not look you up in Okta to make sure this is not your own access (${r.error})${NOTHING_CHANGED} Try again in a moment.`;
    case 'review_signed_off':
      return msg`This review was signed off by ${who(r.by)}; its decisions are final.`;
    case 'review_already_signed_off':
      return msg`${who(r.by)} already signed off this review${NOTHING_CHANGED}`;
    case 'review_signed_off_meanwhile':
      return msg`This review was signed off a moment ago${NOTHING_CHANGED}`;
    case 'review_lines_undecided':
      return msg`${r.undecided} line(s) are still undecided; decide them (or press ${bold('Keep all remaining')}), then sign off.`;
    case 'own_review_line':
      return msg`You cannot decide about your own access; another reviewer will.`;
    case 'review_line_decided':
      return msg`${who(r.by)} already chose ${bold(r.decision)} for ${r.person} on ${code(r.resource)}${NOTHING_CHANGED}`;
    case 'review_only_own_lines_left':
      return msg`The only lines left are about your own access; another reviewer will decide them.`;
    case 'review_all_decided':
      return msg`Every line is already decided; sign off when you are ready.`;
  }
}
