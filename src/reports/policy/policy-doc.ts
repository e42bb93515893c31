import { EMERGENCY_REVIEW_WITHIN_MS } from '../../domain/emergency.ts';
import type { LoadedAccessConfig } from '../../config/access.ts';
import type { AccessConfig } from '../../config/access-schema.ts';
import type { Audience } from '../../domain/policy.ts';
import { QUARTERLY_CRON } from '../../domain/review.ts';
import { describeGrant, identities } from '../../providers/registry.ts';

/**
 * The access-control policy written out from access.yml, in Markdown. Pure and deterministic
 * (no timestamp): the same file always renders the same document, headed with the file's SHA-256,
 * which is the hash breakglass records in `config.loaded` and stores with every request. So the
 * written policy and the enforced one are provably the same version.
 */
export function renderPolicy(loaded: Pick<LoadedAccessConfig, 'config' | 'hash' | 'path'>): string {
  const { config } = loaded;
  const sections = [heading(loaded), principles(), resourcesSection(config), emergencySection(config), separationOfDuties(config), reviewsSection(config), offboardingSection(config), monitoringSection(config), identitySection(config)];
  return `${sections.flat().join('\n').trimEnd()}\n`;
}

/** Collects a section's lines. */
function lines(): { out: string[]; line: (...text: string[]) => void } {
  const out: string[] = [];
  return { out, line: (...text) => out.push(...text) };
}

/** The title, the source file and its hash, and what the document is. */
function heading({ config, hash, path }: Pick<LoadedAccessConfig, 'config' | 'hash' | 'path'>): string[] {
  const { out, line } = lines();
  const resources = Object.entries(config.resources);
  line('# Access-control policy', '');
  line('| | |', '| --- | --- |');
  line(`| Source | \`${cell(path)}\` |`);
  line(`| SHA-256 of the source | \`${hash}\` |`);
  line(`| Resources | ${resources.length} |`, '');
  line(
    'This document is rendered by `npx breakglass policy` from the configuration breakglass enforces; it is not written by hand. ' +
      'breakglass records the SHA-256 above in a `config.loaded` evidence event whenever the configuration changes, and stores it with every ' +
      'request and decision, so each decision can be tied to this exact version of the policy.',
    '',
  );
  return out;
}

function principles(): string[] {
  const { out, line } = lines();
  line('## 1. Principles', '');
  line('- **No standing production access.** Access to the resources below is requested for a stated reason, approved, granted for a limited time and revoked automatically when that time ends.');
  line('- **A reason for everything.** Every request carries a reason; a ticket reference in it (such as `INC-1234`) is recorded with the request.');
  line('- **Evidence by default.** Every request, approval, denial, grant, extension, revocation, review and alert is an event in a hash-chained, append-only evidence ledger; the database refuses to update or delete it.');
  line('- **Least privilege at the provider.** Access is given through one Okta group, one IAM group or one inline IAM policy per resource, nothing broader.', '');
  return out;
}

function resourcesSection(config: AccessConfig): string[] {
  const { out, line } = lines();
  const resources = Object.entries(config.resources);
  const reviewHours = Math.round(EMERGENCY_REVIEW_WITHIN_MS / 3_600_000);
  line('## 2. Resources', '');
  for (const [name, resource] of resources) {
    line(`### \`${name}\`${resource.description ? ` — ${inline(resource.description)}` : ''}`, '');
    line('| | |', '| --- | --- |');
    line(`| How access is granted | ${cell(describeGrant(resource.grant))} |`);
    line(`| Who may request it | ${cell(resource.requesters ? audienceText(resource.requesters) : 'everyone in the Slack workspace')} |`);
    line(`| Approvers | ${cell(audienceText(resource.approvers) || `members of Slack channel \`${resource.approvers.channel}\``)} |`);
    if (resource.approvers.channel) line(`| Approvals | ${cell(channelApprovals(resource.approvers.channel))} |`);
    line(`| Approvals required | ${resource.approvals_required} distinct approver${resource.approvals_required === 1 ? '' : 's'}, never the requester |`);
    if (resource.approval?.step_up === 'okta_verify') line(`| Approver verification | ${STEP_UP_ROW} |`);
    line(`| Maximum duration | ${words(resource.max_duration)}; longer requests are refused |`);
    line(`| Request expiry | an undecided request expires after ${words(resource.request_ttl)} |`);
    line(`| Reminders | the holder is reminded ${words(resource.remind_before ?? config.remind_before)} before access ends; approvers are reminded once of a request still undecided halfway to its expiry |`);
    line(
      `| Emergency self-grant | ${
        resource.emergency_self_grant
          ? `allowed: granted at once, the security channel is alerted, and an approver must review it within ${reviewHours} hours (see section 3)`
          : 'not allowed: access needs approval first'
      } |`,
    );
    const onCall = resource.auto_approve?.pagerduty;
    if (onCall) line(`| On-call auto-approval | ${cell(`approved at once for whoever PagerDuty has on call in schedule ${onCall.schedule_ids.join(', ')} at escalation level ${onCall.escalation_levels.join(', ')}; reviewed by an approver afterwards (see section 3)`)} |`);
    line(`| Extensions | a new request, approved under the same rules, each for at most ${words(resource.max_duration)} |`, '');
  }
  return out;
}

const STEP_UP_ROW =
  'step-up: an approval counts only once the approver accepts an Okta Verify push sent to their phone through Okta, within 60 seconds; a rejected, unanswered or impossible push does not count, and is recorded';

function emergencySection(config: AccessConfig): string[] {
  const { out, line } = lines();
  const emergency = Object.entries(config.resources).filter(([, r]) => r.emergency_self_grant);
  const reviewHours = Math.round(EMERGENCY_REVIEW_WITHIN_MS / 3_600_000);
  line('## 3. Emergency access', '');
  const onCall = Object.entries(config.resources).filter(([, r]) => r.auto_approve?.pagerduty);
  if (emergency.length === 0) {
    line(`No resource allows emergency self-grant: all access is approved before it is given${onCall.length > 0 ? ', by its approvers or by the on-call policy below' : ''}.`, '');
  } else {
    line(`Resources that allow emergency self-grant: ${emergency.map(([n]) => `\`${n}\``).join(', ')}. For these:`, '');
    line('1. The requester is granted access at once, within the resource’s maximum duration; the self-grant is recorded as approved under the `emergency_self_grant` policy.');
    line(`2. The security channel (\`${config.security_channel}\`) is alerted immediately, with an **Acknowledge** button; who acknowledged it, and when, is evidence.`);
    line(`3. An approver of the resource (never the person who took the access) must review the grant after the fact, within ${reviewHours} hours of its start.`);
    line(`4. A grant not reviewed within ${reviewHours} hours is escalated to the security channel, and the escalation is evidence.`, '');
  }
  if (onCall.length > 0) out.push(...onCallSection(onCall.map(([name]) => name), reviewHours));
  return out;
}

/** access.yml auto_approve.pagerduty, where any resource uses it: who is approved without an approver, and what follows. */
function onCallSection(resources: string[], reviewHours: number): string[] {
  const { out, line } = lines();
  line('### On-call auto-approval', '');
  line(`Resources approved at once for the engineer on call: ${resources.map((n) => `\`${n}\``).join(', ')}. For these:`, '');
  line('1. When the request is made, breakglass asks PagerDuty whether the requester (matched by email) is on call at that moment in one of the resource’s schedules, at one of its escalation levels.');
  line('2. If so, the request is approved under the `pagerduty_on_call` policy: the approval records the PagerDuty shifts exactly as PagerDuty returned them (schedule, escalation policy, escalation level, shift start and end) and this policy’s SHA-256.');
  line(`3. The resource’s approvers are asked to review the grant after the fact, as for emergency access; one not reviewed within ${reviewHours} hours is escalated to the security channel.`);
  line('4. Anything else — not on call, unknown to PagerDuty, or PagerDuty unreachable, failing or slow — sends the request to the approvers as usual. An outage never approves a request.');
  line('5. Extensions are always approved by the approvers.', '');
  return out;
}

function separationOfDuties(config: AccessConfig): string[] {
  const { out, line } = lines();
  line('## 4. Separation of duties', '');
  line('- Nobody approves their own request: the requester is never counted among the approvers, even when listed as one.');
  line('- Where more than one approval is required, each must come from a different person.');
  line('- Only the approvers configured for the resource count; a decision is re-checked against the policy in force when it is made.');
  line('- Nobody reviews their own emergency access, and nobody reviews their own access in an access review.');
  const stepUp = Object.entries(config.resources).filter(([, r]) => r.approval?.step_up === 'okta_verify');
  if (stepUp.length > 0) {
    line(
      `- Approvals of ${listOf(stepUp.map(([n]) => `\`${n}\``))} require step-up: the approver accepts an Okta Verify push before the approval counts, so a Slack session alone cannot approve them. Every approval records how its approver was verified (Slack session or Okta Verify push).`,
    );
  }
  if (config.security) line(`- The security team (${inline(audienceText(config.security))}) may end any grant and acknowledge alerts.`);
  line('');
  return out;
}

function reviewsSection(config: AccessConfig): string[] {
  const { out, line } = lines();
  const resources = Object.entries(config.resources);
  line('## 5. Access reviews', '');
  const scope = config.reviews.scope ?? resources.map(([n]) => n);
  const schedule = config.reviews.schedule.trim().toLowerCase() === 'quarterly' ? `every quarter, at 09:00 UTC on the first working day of January, April, July and October (cron \`${QUARTERLY_CRON}\`)` : `on the cron schedule \`${config.reviews.schedule}\` (UTC)`;
  line(`- **Cadence:** ${schedule}; security can also start a campaign at any time.`);
  line(`- **Scope:** ${scope.map((n) => `\`${n}\``).join(', ')}. A campaign covers everyone who has access at the provider to these resources, whether or not breakglass granted it.`);
  line(`- **Reviewers:** each person’s manager (from the Okta profile attribute \`${config.reviews.manager_attribute}\`) keeps or revokes each access line, then signs off; revokes are carried out at once. Access with no manager who can review it goes to the security channel’s card; people who have left are revoked without review.`);
  line(`- **Due:** ${words(config.reviews.due_in)} after the campaign starts; reminders every ${words(config.reviews.remind_every)}; an overdue review is escalated to the security channel (and to the reviewer’s own manager, when known).`, '');
  return out;
}

function offboardingSection(config: AccessConfig): string[] {
  const { out, line } = lines();
  line('## 6. Offboarding', '');
  line(
    `- A person who is deactivated (Slack account deleted, or Okta status DEPROVISIONED or SUSPENDED) loses every grant at once. The SLA for removing all their access is **${words(config.offboarding.sla)}**.`,
  );
  line(`- Okta is checked for deactivated people every ${words(config.offboarding.poll_every)}.`);
  line('- The offboarding record lists each system and when access there ended, against the SLA.', '');
  return out;
}

function monitoringSection(config: AccessConfig): string[] {
  const { out, line } = lines();
  line('## 7. Monitoring and evidence', '');
  line(`- **Alerts** go to the security channel \`${config.security_channel}\`: emergency grants, failed revocations, unreviewed emergency access, overdue reviews, drift.`);
  line(`- **Ledger checkpoints:** every ${words(config.checkpoint_every)}, a checkpoint of the ledger head is recorded and posted to the security channel, so cutting off the newest events is detectable.`);
  line(
    `- **Drift:** every ${words(config.drift.every)}, current access at each provider is compared with what breakglass granted or a review kept; access nobody granted is ${
      config.drift.action === 'remove' ? 'reported to security as evidence and removed' : 'reported to security as evidence (not removed automatically)'
    }.`,
  );
  line('- **Revocation** is durable: due grants are revoked by a worker that survives restarts and retries failures until they succeed; inline IAM policies also carry their expiry, so AWS itself ends the access.', '');
  return out;
}

function identitySection(config: AccessConfig): string[] {
  const { out, line } = lines();
  line('## 8. Identity', '');
  const overrides = Object.keys(config.people).length;
  const matched = identities(Object.values(config.resources).map((r) => r.grant));
  line(
    `People are matched across ${listOf(['Slack', ...matched.map((i) => i.system)])} by email (${['Slack profile email', ...matched.map((i) => i.matchedBy)].join(' = ')})${
      overrides > 0 ? `, with ${overrides} override${overrides === 1 ? '' : 's'} in \`people:\`` : ''
    }.`,
    '',
  );
  return out;
}

function audienceText(audience: Audience): string {
  const parts: string[] = [];
  if (audience.slack_users?.length) parts.push(`Slack user${audience.slack_users.length === 1 ? '' : 's'} ${audience.slack_users.map((u) => `\`${u}\``).join(', ')}`);
  if (audience.slack_usergroup) parts.push(`members of Slack user group \`${audience.slack_usergroup}\``);
  return parts.join(' and ');
}

/** Where the card goes when a resource names an approval channel. */
function channelApprovals(channel: string): string {
  return `in channel \`#${channel}\`: one card there, updated in place, each decision a reply in its thread; only the approvers above count. Should the channel refuse it, the approvers get it as direct messages and the security channel is alerted.`;
}

/** "A, B and C". */
function listOf(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** Text from access.yml inside a Markdown table cell. */
function cell(value: string): string {
  return value.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Free text from access.yml inside a Markdown line. */
function inline(value: string): string {
  return value.replace(/([\\*_[\]<>|#])/g, '\\$1').replace(/\r?\n/g, ' ');
}

/** 5400000 → "1 hour 30 minutes"; 86400000 → "24 hours"; 1209600000 → "14 days". */
export function words(ms: number): string {
  const totalMinutes = Math.round(ms / 60_000);
  // Up to two days read better in hours (an SLA of 24h is "24 hours", not "1 day").
  if (totalMinutes < 2 * 1440 && totalMinutes >= 120 && totalMinutes % 60 === 0) return `${totalMinutes / 60} hours`;
  const units: Array<[number, string]> = [
    [Math.floor(totalMinutes / 1440), 'day'],
    [Math.floor((totalMinutes % 1440) / 60), 'hour'],
    [totalMinutes % 60, 'minute'],
  ];
  const parts = units.filter(([n]) => n > 0).map(([n, unit]) => `${n} ${unit}${n === 1 ? '' : 's'}`);
  return parts.length > 0 ? parts.join(' ') : `${Math.round(ms / 1000)} seconds`;
}
