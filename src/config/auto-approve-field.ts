import { z } from 'zod';

/**
 * access.yml `auto_approve:` of a resource: who is approved at once without waiting for an approver.
 * Only PagerDuty on-call today: the person on call in one of these schedules, at one of these
 * escalation levels, when they ask. Ids are checked here so a typo fails the start, not an incident.
 */
const scheduleId = z.string().regex(/^P[A-Z0-9]+$/, 'a PagerDuty schedule id looks like PABC123 (P, then capital letters and digits; see the schedule URL)');
// A refine, not z.int(): a fraction's issue would carry no input and read as "missing".
const escalationLevel = z.number().refine((n) => Number.isInteger(n) && n >= 1, 'an escalation level is a whole number from 1 (the first level) up');

export const pagerDutyAutoApprove = z.strictObject({
  schedule_ids: z.array(scheduleId).min(1, 'name at least one PagerDuty schedule id'),
  escalation_levels: z.array(escalationLevel).min(1, 'name at least one escalation level, e.g. [1]').default([1]),
});

export const autoApprove = z.strictObject({ pagerduty: pagerDutyAutoApprove });

export type PagerDutyAutoApprove = z.output<typeof pagerDutyAutoApprove>;
