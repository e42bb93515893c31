import { formatDuration } from './duration.ts';
import { bold, code, date, emoji, joined, mention, msg, pre, type Message } from './message.ts';

/**
 * What breakglass tells people, as facts: the use cases queue these (in the outbox, or in an
 * alert) and each channel words them when it sends. Dates are ISO-8601 strings, since they are
 * stored as JSON.
 */
export type Notification =
  // To the person whose access it is.
  | { kind: 'grant_active'; requestId: number; resource: string; endsAt: string }
  | { kind: 'grant_failed'; requestId: number; resource: string; error: string }
  | { kind: 'grant_checking'; requestId: number; resource: string }
  | { kind: 'grant_extended'; requestId: number; resource: string; endsAt: string }
  | { kind: 'extension_failed'; requestId: number; extensionRequestId: number; resource: string; error: string; stillEndsAt: string | null }
  | { kind: 'grant_ended'; requestId: number; resource: string; reason: string }
  | { kind: 'grant_ended_access_continues'; requestId: number; resource: string }
  | { kind: 'request_expired'; requestId: number; resource: string }
  | { kind: 'request_denied'; requestId: number; resource: string; approver: string; reason: string }
  | { kind: 'extension_cancelled'; requestId: number; resource: string; extendedRequestId: number }
  | { kind: 'access_ending'; requestId: number; grantId: number; resource: string; endsAt: string }
  // To approvers.
  | { kind: 'approval_reminder'; requestId: number; requester: string; resource: string; pendingUntil: string }
  | { kind: 'review_access_removed'; campaignId: number; resource: string; decidedBy: string | null }
  // To reviewers and the security channel.
  | { kind: 'review_reminder'; campaignId: number; period: string; audience: 'manager' | 'security'; dueAt: string | null; overdue: boolean; undecided: number; lines: number }
  | { kind: 'review_overdue_report'; campaignId: number; period: string; reviewer: string; dueAt: string | null; undecided: number; lines: number }
  | { kind: 'review_started'; campaignId: number; period: string; items: number; people: number; resources: number; reviewers: number; dueAt: string; securityItems: number; leftItems: number; unmanagedItems: number; skipped: Array<{ resource: string; reason: string }> }
  | { kind: 'review_closed'; campaignId: number; period: string; items: number; kept: number; revoked: number; verified: number; signOffs: number; late: number; closedAt: string }
  | { kind: 'ledger_checkpoint'; count: number; head: string; at: string; fingerprint: string; line: string }
  // To the owners of a system granted by hand.
  | { kind: 'human_task_reminder'; taskId: number; action: 'grant' | 'remove'; system: string; person: string; email: string; dueAt: string }
  // Security alerts.
  | { kind: 'human_task_overdue'; taskId: number; action: 'grant' | 'remove'; system: string; person: string; email: string; owners: string[]; dueAt: string }
  | { kind: 'manual_grant_unconfirmed'; taskId: number; system: string; person: string; email: string; owners: string[]; endsAt: string }
  | { kind: 'emergency_grant'; requestId: number; requester: string; resource: string; durationMs: number; reason: string }
  | { kind: 'emergency_unreviewed'; requestId: number; person: string; resource: string; onCall?: true }
  | { kind: 'revoke_failed'; requestId: number; person: string; resource: string; error: string }
  | { kind: 'grant_in_doubt'; requestId: number; person: string; resource: string; error: string }
  | { kind: 'revoke_ineffective'; requestId: number; person: string; resource: string; principal: string }
  | { kind: 'review_revoke_failed'; campaignId: number; person: string; resource: string; error: string }
  | { kind: 'review_overdue'; campaignId: number; period: string; reviewer: string | null; dueAt: string | null; undecided: number; lines: number; escalatedTo: string | null }
  | { kind: 'review_build_failed'; campaignId: number; period: string; error: string }
  | { kind: 'approver_unavailable'; approver: string; resource: string; reason: string; required: number; available: number }
  | { kind: 'offboarding_unmanaged'; email: string; resources: string[]; removed?: boolean }
  | { kind: 'offboarding_sla_missed'; email: string; slaMs: number }
  | { kind: 'policy_refused'; path: string; hash: string; problems: string[]; inForce: string }
  | { kind: 'drift'; principal: string; resource: string; removed: boolean; cause: { unmanaged: true } | { campaignId: number } | { grantId: number | null } }
  // Suspicious patterns (access.yml `monitors`), found in the ledger after the fact.
  | { kind: 'repeated_emergency'; person: string; resource: string; requestId: number | null; count: number; withinMs: number }
  | { kind: 'grant_outside_hours'; person: string; resource: string; requestId: number | null; startsAt: string; timeZone: string }
  | { kind: 'reasked_after_denial'; person: string; resource: string; requestId: number | null; deniedRequestId: number | null; deniedBy: string; approver: string }
  | { kind: 'hasty_sign_off'; campaignId: number; reviewer: string; lines: number; elapsedMs: number }
  | { kind: 'repeated_approver'; approver: string; person: string; count: number; withinMs: number }
  | { kind: 'large_log_export'; user: string; events: number; resource: string | null }
  // In an approval channel: each step of a request, a reply in its card's thread.
  | { kind: 'approval_thread'; requestId: number; step: ApprovalThreadStep }
  | { kind: 'approval_reminder_in_channel'; requestId: number; requester: string; resource: string; pendingUntil: string; channel: string }
  // Security alerts about approval channels (access.yml approvers.channel).
  | { kind: 'approval_channel_unusable'; channel: string; resources: string[]; problem: 'not_found' | 'not_member' | 'archived' }
  | { kind: 'approval_channel_failed'; requestId: number; channel: string; resource: string; error: string; approvers: string[] };

/** What happened to a request whose card is in a channel, as its thread tells it. */
export type ApprovalThreadStep =
  | { step: 'approved'; by: string; approvals: number; required: number }
  | { step: 'denied'; by: string; reason: string }
  | { step: 'expired' }
  | { step: 'cancelled' }
  | { step: 'granted'; endsAt: string }
  | { step: 'grant_failed'; error: string }
  | { step: 'ended'; reason: string };

const codes = (names: readonly string[]): Message => joined(names.map((n) => [code(n)]), ', ');

/** How each notification is worded, by kind; typed so that every kind has exactly one wording. */
type Wording = { [K in Notification['kind']]: (notification: Extract<Notification, { kind: K }>) => Message };

/** To the person whose access it is. */
const ACCESS_NOTICES = {
  grant_active: (n) => msg`${emoji('unlock')} Your access to ${code(n.resource)} is active until ${date(n.endsAt)} (request #${n.requestId}). ${code(`/breakglass end ${n.requestId}`)} ends it early.`,
  grant_failed: (n) => msg`${emoji('x')} Your access to ${code(n.resource)} could not be granted (request #${n.requestId}): ${n.error}. Nothing was changed; try again, or tell your security team if it persists.`,
  grant_checking: (n) => msg`${emoji('hourglass')} The provider did not answer when breakglass granted your access to ${code(n.resource)} (request #${n.requestId}); breakglass is checking whether access was granted and tells you the outcome.`,
  grant_extended: (n) => msg`Your access to ${code(n.resource)} (request #${n.requestId}) is extended until ${date(n.endsAt)}.`,
  extension_failed: (n) => {
    const still = n.stillEndsAt ? msg` It still ends ${date(n.stillEndsAt)}; try again, or tell your security team if it persists.` : [];
    return msg`${emoji('x')} Your access to ${code(n.resource)} (request #${n.requestId}) could not be extended (request #${n.extensionRequestId}): ${n.error}.${still}`;
  },
  access_ending: (n) => msg`${emoji('hourglass_flowing_sand')} Your access to ${code(n.resource)} ends at ${date(n.endsAt)} (request #${n.requestId}). ${code(`/breakglass extend ${n.requestId} <duration>`)} asks for more time; ${code(`/breakglass end ${n.requestId}`)} ends it now.`,
  grant_ended: (n) => msg`${emoji('lock')} Your access to ${code(n.resource)} has ended (request #${n.requestId}${n.reason === 'expired' ? [] : msg`, ${n.reason}`}).`,
  grant_ended_access_continues: (n) => msg`Request #${n.requestId} for ${code(n.resource)} has ended; your access continues under another grant.`,
  request_expired: (n) => msg`${emoji('hourglass')} Your request #${n.requestId} for ${code(n.resource)} expired before enough approvers decided. You can ask again.`,
  request_denied: (n) => msg`${emoji('no_entry')} ${mention(n.approver)} denied your request #${n.requestId} for ${code(n.resource)}: ${n.reason}`,
  extension_cancelled: (n) => msg`${emoji('no_entry_sign')} Your extension request #${n.requestId} for ${code(n.resource)} is cancelled: the access it extends (request #${n.extendedRequestId}) has ended. Ask for new access if you still need it.`,
  review_access_removed: (n) => msg`${emoji('lock')} Your access to ${code(n.resource)} was removed in access review #${n.campaignId}${n.decidedBy ? msg` by ${mention(n.decidedBy)}` : []}. Ask with ${code(`/breakglass ${n.resource} …`)} if you need it again.`,
} satisfies Partial<Wording>;

/** To approvers, and to the owners of a system granted by hand. */
const REMINDERS = {
  approval_reminder: (n) => msg`${emoji('bell')} ${mention(n.requester)}'s request #${n.requestId} for ${code(n.resource)} is still waiting for your decision; it expires at ${date(n.pendingUntil)}. The card with Approve and Deny is above.`,
  human_task_reminder: (n) => msg`${emoji('bell')} Reminder: ${n.action === 'grant' ? msg`grant ${bold(n.system)} to ${n.email}` : msg`remove ${bold(n.system)} from ${n.email}`} (${mention(n.person)}) and press ${bold('Done')} on the card; due ${date(n.dueAt)}.`,
} satisfies Partial<Wording>;

/** To reviewers and the security channel, about an access review's course. */
const REVIEW_NOTICES = {
  review_reminder: (n) => reminder(n),
  review_overdue_report: (n) => msg`${emoji('rotating_light')} Access review #${n.campaignId} (${n.period}) is overdue: ${mention(n.reviewer)}, who reports to you, has not signed off their review (${n.undecided} of ${n.lines} line(s) undecided; due ${n.dueAt ? [date(n.dueAt)] : msg`its due date`}). Please follow up with them.`,
  review_started: (n) => reviewStarted(n),
  review_closed: (n) => msg`${emoji('white_check_mark')} Access review #${n.campaignId} (${n.period}) is complete: ${n.items} line(s), ${n.kept} kept, ${n.revoked} revoked (${n.verified} verified gone at the provider), ${n.signOffs} sign-off(s)${n.late > 0 ? msg`, ${n.late} after the due date` : []}; closed ${date(n.closedAt)}. The report follows.`,
  ledger_checkpoint: (n) => msg`${emoji('lock')} ${bold('Ledger checkpoint')}: ${n.count.toLocaleString('en-US')} event(s), head ${code(`${n.head.slice(0, 16)}…`)} at ${n.at}, signed with key ${code(n.fingerprint)}.\n${pre(n.line)}\nKeep this message: it proves what the ledger held. To check the ledger against it: ${code('npx breakglass evidence checkpoint verify "<the line above>"')}.`,
} satisfies Partial<Wording>;

/** Security alerts. */
const SECURITY_ALERTS = {
  human_task_overdue: (n) => msg`${emoji('rotating_light')} Nobody has confirmed ${n.action === 'grant' ? msg`granting ${bold(n.system)} to` : msg`removing ${bold(n.system)} from`} ${n.email} (${mention(n.person)}); it was due ${date(n.dueAt)}. Owners: ${joined(n.owners.map((o) => [mention(o)]), ', ')}.`,
  manual_grant_unconfirmed: (n) =>
    msg`${emoji('rotating_light')} Nobody confirmed granting ${bold(n.system)} to ${n.email} (${mention(n.person)}) before the grant's end, ${date(n.endsAt)}: breakglass does not know whether it was granted. The grant is recorded ended unconfirmed, and its owners (${joined(n.owners.map((o) => [mention(o)]), ', ')}) are asked to remove it.`,
  emergency_grant: (n) => msg`${emoji('rotating_light')} ${mention(n.requester)} self-granted emergency access to ${code(n.resource)} for ${formatDuration(n.durationMs)} (request #${n.requestId}). Reason: ${n.reason}`,
  emergency_unreviewed: (n) => msg`${emoji('rotating_light')} ${mention(n.person)}'s ${n.onCall ? 'on-call' : 'emergency'} access to ${code(n.resource)} (request #${n.requestId}) has not been reviewed by an approver after 24 hours.`,
  revoke_failed: (n) => msg`${emoji('warning')} Revoking ${mention(n.person)}'s access to ${code(n.resource)} (request #${n.requestId}) failed: ${n.error}. breakglass keeps retrying until it succeeds.`,
  grant_in_doubt: (n) => msg`${emoji('warning')} Granting ${mention(n.person)} access to ${code(n.resource)} (request #${n.requestId}) got no answer from the provider (${n.error}), and the provider cannot be listed yet: whether the access was granted is unknown. breakglass keeps checking and records the outcome.`,
  revoke_ineffective: (n) => msg`${emoji('warning')} Revoking ${mention(n.person)}'s access to ${code(n.resource)} (request #${n.requestId}) did not remove it: the provider reported the access gone, but still lists ${n.principal} holding it (a renamed user?). breakglass keeps retrying; remove it at the provider if it persists.`,
  review_revoke_failed: (n) => msg`${emoji('warning')} Revoking ${n.person}'s access to ${code(n.resource)} (access review #${n.campaignId}) failed: ${n.error}. breakglass keeps retrying until it succeeds.`,
  review_overdue: (n) => {
    const whose = n.reviewer ? msg`${mention(n.reviewer)}'s review` : msg`the security channel's review`;
    const told = n.escalatedTo ? msg` Their manager ${mention(n.escalatedTo)} has been told.` : [];
    return msg`${emoji('rotating_light')} Access review #${n.campaignId} (${n.period}) is overdue: ${whose} was due ${n.dueAt ? [date(n.dueAt)] : msg`its due date`} and is not signed off (${n.undecided} of ${n.lines} line(s) undecided).${told}`;
  },
  review_build_failed: (n) => msg`${emoji('warning')} Access review #${n.campaignId} (${n.period}) could not start: ${n.error}. breakglass keeps trying.`,
  approver_unavailable: (n) => {
    const left = n.available < n.required ? msg`${code(n.resource)} cannot be approved now: it needs ${n.required} approval(s) and only ${n.available} approver(s) remain.` : msg`${n.available} approver(s) remain for the ${n.required} approval(s) it needs.`;
    return msg`${emoji('warning')} ${mention(n.approver)} approves ${code(n.resource)} but cannot: ${n.reason}. breakglass skips them. ${left} Fix its approvers in access.yml.`;
  },
  offboarding_unmanaged: (n) =>
    n.removed
      ? msg`${emoji('warning')} ${n.email} left, but still had access breakglass did not grant: ${codes(n.resources)}. breakglass removed it (drift action remove).`
      : msg`${emoji('warning')} ${n.email} left, but still has access breakglass did not grant: ${codes(n.resources)}. Remove it at the provider; the offboarding stays open until a listing shows it gone.`,
  offboarding_sla_missed: (n) => msg`${emoji('warning')} Offboarding of ${n.email} missed the ${formatDuration(n.slaMs)} SLA.`,
  policy_refused: (n) => msg`${emoji('warning')} A new version of ${code(n.path)} (${code(n.hash.slice(0, 12))}) was refused, so the policy in force stays ${code(n.inForce.slice(0, 12))}:\n${pre(n.problems.join('\n'))}\nFix the file; breakglass loads it as soon as it changes.`,
  drift: (n) => msg`${emoji('mag')} Drift: ${n.principal} ${driftCause(n)}.${n.removed ? msg` breakglass removed it (drift: remove).` : msg` Remove it at the provider, or set ${code('drift: remove')}.`}`,
  repeated_emergency: suspiciousPattern,
  grant_outside_hours: suspiciousPattern,
  reasked_after_denial: suspiciousPattern,
  hasty_sign_off: suspiciousPattern,
  repeated_approver: suspiciousPattern,
  large_log_export: suspiciousPattern,
} satisfies Partial<Wording>;

/** Approval channels: the card's thread, and what security is told when a channel cannot take the card. */
const APPROVAL_CHANNEL_NOTICES = {
  approval_thread: (n) => threadStep(n.step),
  approval_reminder_in_channel: (n) =>
    msg`${emoji('bell')} ${mention(n.requester)}'s request #${n.requestId} for ${code(n.resource)} is still waiting for your decision; it expires at ${date(n.pendingUntil)}. Its card, with Approve and Deny, is in channel ${code(n.channel)}.`,
  approval_channel_unusable: (n) => {
    const why = n.problem === 'not_member' ? 'breakglass is not a member of it' : n.problem === 'archived' ? 'it is archived' : 'Slack does not know it, or it is a private channel breakglass is not in';
    const fix = n.problem === 'not_member' ? msg`invite the bot there (${code('/invite @breakglass')})` : msg`correct ${code('approvers.channel')} in access.yml, or invite the bot to the channel`;
    return msg`${emoji('warning')} Approval cards for ${codes(n.resources)} go to channel ${code(n.channel)}, but ${why}. Until you ${fix}, their cards are sent to each approver as a direct message instead.`;
  },
  approval_channel_failed: (n) =>
    msg`${emoji('warning')} The approval card for request #${n.requestId} (${code(n.resource)}) could not be posted in channel ${code(n.channel)} (${n.error}); it was sent as a direct message to ${n.approvers.length > 0 ? joined(n.approvers.map((a) => [mention(a)]), ', ') : msg`nobody (no approver is available)`} instead.`,
} satisfies Partial<Wording>;

function threadStep(s: ApprovalThreadStep): Message {
  switch (s.step) {
    case 'approved':
      return msg`${emoji('white_check_mark')} ${mention(s.by)} approved (${s.approvals} of ${s.required}).`;
    case 'denied':
      return msg`${emoji('no_entry')} ${mention(s.by)} denied: ${s.reason}`;
    case 'expired':
      return msg`${emoji('hourglass')} Expired before enough approvers decided.`;
    case 'cancelled':
      return msg`${emoji('no_entry_sign')} Cancelled.`;
    case 'granted':
      return msg`${emoji('unlock')} Access granted until ${date(s.endsAt)}.`;
    case 'grant_failed':
      return msg`${emoji('x')} The grant failed: ${s.error}`;
    case 'ended':
      return msg`${emoji('lock')} Access ended (${s.reason}).`;
  }
}

const WORDING: Wording = { ...ACCESS_NOTICES, ...REMINDERS, ...REVIEW_NOTICES, ...SECURITY_ALERTS, ...APPROVAL_CHANNEL_NOTICES };

/** What a notification says, for every channel; each formats the marked parts its own way. */
export function notificationWords(n: Notification): Message {
  // TypeScript cannot correlate the kind with its wording's parameter: WORDING's type pairs them.
  return (WORDING[n.kind] as (notification: Notification) => Message)(n);
}

function reminder(n: Extract<Notification, { kind: 'review_reminder' }>): Message {
  const due = n.dueAt ? msg`${n.overdue ? 'was due' : 'is due'} ${date(n.dueAt)}` : msg`is open`;
  const what = n.undecided > 0 ? msg`${n.undecided} of ${n.lines} line(s) are still undecided` : msg`every line is decided; press ${bold('Sign off')} on the card`;
  return n.audience === 'manager'
    ? msg`${emoji('bell')} Reminder: access review #${n.campaignId} (${n.period}) ${due} and ${what}. Your review card is in this conversation.`
    : msg`${emoji('bell')} Reminder: the security channel's part of access review #${n.campaignId} (${n.period}) ${due} and ${what}.`;
}

function reviewStarted(n: Extract<Notification, { kind: 'review_started' }>): Message {
  const parts = [
    msg`${emoji('mag')} Access review #${n.campaignId} (${n.period}) has started: ${n.items} line(s) of access for ${n.people} people across ${n.resources} resource(s), sent to ${n.reviewers} manager(s); due ${date(n.dueAt)}.`,
  ];
  if (n.securityItems > 0) parts.push(msg`${n.securityItems} line(s) have no manager breakglass could find to review them; they are on the card in this channel, each with the reason.`);
  if (n.leftItems > 0) parts.push(msg`${n.leftItems} line(s) belong to people who have left and are being revoked now.`);
  if (n.unmanagedItems > 0) parts.push(msg`${n.unmanagedItems} line(s) were not granted through breakglass.`);
  if (n.skipped.length > 0) parts.push(msg`${emoji('warning')} Not reviewed: ${joined(n.skipped.map((s) => msg`${code(s.resource)} (${s.reason})`), '; ')}.`);
  return joined(parts, ' ');
}

type SuspiciousPattern = Extract<Notification, { kind: 'repeated_emergency' | 'grant_outside_hours' | 'reasked_after_denial' | 'hasty_sign_off' | 'repeated_approver' | 'large_log_export' }>;

const request = (id: number | null): Message => (id === null ? [] : msg` (request #${id})`);

function suspiciousPattern(n: SuspiciousPattern): Message {
  const flag = msg`${emoji('eyes')} ${bold('Suspicious pattern')}:`;
  switch (n.kind) {
    case 'repeated_emergency':
      return msg`${flag} ${mention(n.person)} self-granted emergency access ${n.count} times within ${formatDuration(n.withinMs)}, the latest to ${code(n.resource)}${request(n.requestId)}.`;
    case 'grant_outside_hours':
      return msg`${flag} ${mention(n.person)} was granted ${code(n.resource)}${request(n.requestId)} at ${date(n.startsAt)}, outside working hours (${n.timeZone}).`;
    case 'reasked_after_denial':
      return msg`${flag} ${mention(n.approver)} approved ${mention(n.person)}'s request for ${code(n.resource)}${request(n.requestId)} after ${mention(n.deniedBy)} denied the same access${request(n.deniedRequestId)}.`;
    case 'hasty_sign_off':
      return msg`${flag} ${mention(n.reviewer)} kept all ${n.lines} line(s) of access review #${n.campaignId} and signed off ${Math.round(n.elapsedMs / 1000)} s after getting the card: faster than the lines can be read.`;
    case 'repeated_approver':
      return msg`${flag} ${mention(n.approver)} has approved ${mention(n.person)}'s requests ${n.count} times within ${formatDuration(n.withinMs)}.`;
    case 'large_log_export':
      return msg`${flag} ${mention(n.user)} exported ${n.events.toLocaleString('en-US')} evidence event(s)${n.resource ? msg` of ${code(n.resource)}` : []} with ${code('/breakglass log')}.`;
  }
}

function driftCause(n: Extract<Notification, { kind: 'drift' }>): Message {
  if ('unmanaged' in n.cause) return msg`has access to ${code(n.resource)} that breakglass did not grant and no review kept`;
  if ('campaignId' in n.cause) return msg`still has access to ${code(n.resource)} although access review #${n.cause.campaignId} revoked it`;
  return msg`still has access to ${code(n.resource)} although breakglass revoked grant ${n.cause.grantId ?? '?'}`;
}
