import type { AccessPeriodAnswer, UserAtAnswer, WhoAtAnswer } from './access-render.ts';
import type { AccessInterval, Coverage } from './timeline.ts';

/** The access record's answers for a person at a terminal. */

const iso = (date: Date) => date.toISOString();

function personLine(i: AccessInterval): string {
  const others = i.person.aliases.filter((a) => a !== i.person.label && a !== i.person.id);
  return `${i.person.label}${i.person.id !== i.person.label ? ` (${i.person.id}${others.length ? `; also ${others.join(', ')}` : ''})` : others.length ? ` (also ${others.join(', ')})` : ''}`;
}

function basisLines(i: AccessInterval): string[] {
  const b = i.basis;
  const since = i.start === 'first_seen' ? `first seen at the provider ${iso(i.from)}${i.appearedAfter ? ` (not there at the listing of ${iso(i.appearedAfter)})` : ' (at the first listing: it may be older)'}` : `since ${iso(i.from)}`;
  switch (b.kind) {
    case 'grant':
    case 'emergency_grant':
      return [
        `  basis:        ${b.kind === 'emergency_grant' ? 'emergency self-grant' : 'breakglass grant'} ${b.grantId} under request #${b.requestId ?? '?'}${b.requestKind ? ` (${b.requestKind})` : ''}`,
        `  reason:       ${b.reason ?? '(none recorded)'}`,
        `  ticket:       ${b.ticket ?? '(none)'}`,
        `  approved by:  ${b.requestKind === 'on_call' ? `on call in PagerDuty (policy pagerduty_on_call; ${b.emergencyReview ? `reviewed by ${b.emergencyReview.by} at ${iso(b.emergencyReview.at)}` : 'not reviewed'})` : b.selfGranted ? `${b.approvedBy.join(', ')} (self-grant; ${b.emergencyReview ? `reviewed by ${b.emergencyReview.by} at ${iso(b.emergencyReview.at)}` : 'not reviewed'})` : b.approvedBy.length ? `${b.approvedBy.join(', ')}${b.approvalsRequired !== null ? ` (${b.approvalsRequired} required)` : ''}` : 'NO APPROVAL RECORDED'}`,
        `  policy:       ${b.policy.configHash ?? '(not recorded)'}${b.policy.source ? ` (${describeSource(b.policy.source)})` : ''}`,
        `  granted:      ${iso(i.from)}, to end ${iso(b.scheduledEndAt)}`,
      ];
    case 'review_keep':
      return [`  basis:        kept in access review ${b.period ?? ''} (campaign ${b.campaignId}) by ${b.reviewer} at ${iso(b.decidedAt)}`, `  held:         ${since}`];
    case 'unmanaged':
      return [`  basis:        UNMANAGED: seen at the provider, granted by nobody through breakglass${b.note ? ` (${b.note})` : ''}`, `  held:         ${since}`];
  }
}

function describeSource(source: Record<string, unknown>): string {
  if (source.kind === 'git') return `git ${String(source.commit).slice(0, 12)} by ${String(source.author)}`;
  return `${String(source.path)} on ${String(source.host)}`;
}

function endLine(i: AccessInterval): string {
  const e = i.ended;
  if (!e) return `  ended:        not yet (as recorded)`;
  const how = {
    expired: 'expired, revoked by breakglass',
    ended_early: 'ended early, revoked by breakglass',
    offboarding: 'revoked by breakglass at offboarding',
    review_revoke: 'revoked in an access review',
    revoked: 'revoked by breakglass',
    removed_outside_breakglass: 'removed outside breakglass',
  }[e.how];
  const seen = e.seenGoneAt ? `; seen gone at ${iso(e.seenGoneAt)}${e.lastSeenAt ? ` (last seen ${iso(e.lastSeenAt)})` : ''}` : '';
  return `  ended:        ${iso(e.at)} (${how}${e.by && e.by !== 'breakglass' ? ` by ${e.by}` : ''}${e.reason && e.how === 'revoked' ? `: ${e.reason}` : ''}${seen})`;
}

function holderBlock(i: AccessInterval, withResource: boolean): string[] {
  return [`${withResource ? `${i.resource}: ` : ''}${personLine(i)}${i.principal ? ` [at the provider: ${i.principal}]` : ''}`, ...basisLines(i), endLine(i), `  evidence:     seq ${i.evidence.join(', ')}`, ''];
}

export function coverageText(c: Coverage): string {
  const around = [c.lastListingBefore ? `last listing before: ${iso(c.lastListingBefore)}` : null, c.nextListingAfter ? `next listing after: ${iso(c.nextListingAfter)}` : null].filter(Boolean).join('; ');
  const why = {
    covered: 'listings at the provider covered this instant',
    never_listed: `breakglass has never listed ${c.resource} at its provider`,
    before_first_listing: `this is before breakglass first listed ${c.resource} at its provider`,
    between_spans: `breakglass was not listing ${c.resource} at its provider then`,
    after_last_listing: `this is after breakglass last listed ${c.resource} at its provider`,
  }[c.state];
  return `${why}${around ? ` (${around})` : ''}`;
}

export function whoAtToText(answer: WhoAtAnswer): string {
  const at = iso(answer.at);
  const known = answer.coverage.state === 'covered';
  const lines: string[] = [];
  if (answer.holders.length === 0) {
    lines.push(known ? `Nobody had access to ${answer.resource} at ${at} (UTC): ${coverageText(answer.coverage)}, and no breakglass grant held it.` : `NOT KNOWN who had access to ${answer.resource} at ${at} (UTC): ${coverageText(answer.coverage)}. No breakglass grant held it then; access held outside breakglass is not known.`);
    return `${lines.join('\n')}\n`;
  }
  lines.push(`Access to ${answer.resource} at ${at} (UTC): ${answer.holders.length} ${answer.holders.length === 1 ? 'holder' : 'holders'}${known ? '' : ' known'}`);
  lines.push(known ? `(${coverageText(answer.coverage)})` : `INCOMPLETE: ${coverageText(answer.coverage)}; others may have had access outside breakglass.`, '');
  for (const holder of answer.holders) lines.push(...holderBlock(holder, false));
  return lines.join('\n');
}

export function userAtToText(answer: UserAtAnswer): string {
  const at = iso(answer.at);
  const who = answer.person ? `${answer.person.label} (${answer.person.id})` : answer.user;
  const lines = [answer.holders.length === 0 ? `${who} held no access recorded at ${at} (UTC).` : `Access ${who} held at ${at} (UTC): ${answer.holders.length}`, ''];
  for (const holder of answer.holders) lines.push(...holderBlock(holder, true));
  if (answer.notKnown.length > 0) {
    lines.push('Not known (no listing covered this instant; access outside breakglass there would not show):');
    for (const c of answer.notKnown) lines.push(`  ${c.resource}: ${coverageText(c)}`);
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

export function accessToText(answer: AccessPeriodAnswer): string {
  const lines = [`Access ${answer.resource ? `to ${answer.resource} ` : ''}from ${iso(answer.from)} to ${iso(answer.to)} (UTC): ${answer.intervals.length} interval(s)`, ''];
  for (const i of answer.intervals) {
    const basis = i.basis.kind === 'grant' || i.basis.kind === 'emergency_grant' ? `${i.basis.kind} ${i.basis.grantId} (request #${i.basis.requestId ?? '?'})` : i.basis.kind === 'review_keep' ? `kept by ${i.basis.reviewer} (campaign ${i.basis.campaignId})` : 'unmanaged';
    lines.push(`${i.resource}  ${i.person.label}  ${iso(i.from)} → ${i.to ? iso(i.to) : 'still held'}  ${basis}${i.ended ? `  ended: ${i.ended.how}` : ''}`);
  }
  if (answer.uncovered.length > 0) {
    lines.push('', 'Not covered by listings (access outside breakglass then is not known):');
    for (const u of answer.uncovered) lines.push(`  ${u.resource}: ${iso(u.from)} → ${iso(u.to)}`);
  }
  return `${lines.join('\n')}\n`;
}
