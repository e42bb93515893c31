import { z } from 'zod';
import { parseDuration } from '../domain/duration.ts';
import { SLACK_USER_ID } from '../domain/people.ts';
import { duration } from './duration-field.ts';
import { autoApprove } from './auto-approve-field.ts';
import { scheduleProblem } from '../domain/review.ts';
import { monitorsSchema } from './monitors-schema.ts';
import type { GrantTarget } from '../ports.ts';
import { grantFields, grantTarget, personFields } from '../providers/registry.ts';

const slackUserId = z.string().regex(SLACK_USER_ID, 'a Slack user id looks like U012ABCDEF');
const slackUsergroupId = z.string().regex(/^S[A-Z0-9]{2,}$/, 'a Slack user group id looks like S012ABCDEF');
const slackChannelId = z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'a Slack channel id looks like C012ABCDEF');

const slackAudience = z
  .strictObject({
    slack_users: z.array(slackUserId).optional(),
    slack_usergroup: slackUsergroupId.optional(),
  })
  .refine((a) => (a.slack_users?.length ?? 0) > 0 || a.slack_usergroup !== undefined, {
    message: 'name at least one of slack_users or slack_usergroup',
  });

/**
 * Who approves a resource: people, a user group, and/or a channel the one approval card is posted
 * to. A channel alone makes its members the approvers; beside users or a group it only says where
 * the card goes. A DM id (D…) is no place for a shared card, so only C… and G… are accepted.
 */
const approverAudience = z
  .strictObject({
    slack_users: z.array(slackUserId).optional(),
    slack_usergroup: slackUsergroupId.optional(),
    channel: z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'an approval channel id looks like C012ABCDEF (G… for an old private channel); copy it from the channel details in Slack').optional(),
  })
  .refine((a) => (a.slack_users?.length ?? 0) > 0 || a.slack_usergroup !== undefined || a.channel !== undefined, {
    message: 'name at least one of slack_users, slack_usergroup or channel',
  });

const grant = z.strictObject(grantFields).transform((fields, ctx): GrantTarget => {
  const target = grantTarget(fields);
  if ('kind' in target) return target;
  ctx.addIssue({ code: 'custom', message: target.message, ...(target.path ? { path: target.path } : {}) });
  return z.NEVER;
});

const approvalSettings = z.strictObject({
  step_up: z.enum(['okta_verify'], { error: 'step_up takes okta_verify (an Okta Verify push to the approver\'s phone before the approval counts)' }).optional(),
});

const resource = z
  .strictObject({
    description: z.string().optional(),
    grant,
    max_duration: duration,
    approvers: approverAudience,
    approvals_required: z.int().min(1).default(1),
    emergency_self_grant: z.boolean().default(false),
    requesters: slackAudience.optional(),
    request_ttl: duration.default(() => parseDuration('1h')!),
    /** How long before the end the holder is reminded; the top-level remind_before when absent. */
    remind_before: duration.optional(),
    /** Approved at once for who is on call now (PagerDuty), reviewed by the approvers afterwards. */
    auto_approve: autoApprove.optional(),
    /** How an approver proves it is them before their approval counts; absent: their Slack session. */
    approval: approvalSettings.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.auto_approve && r.emergency_self_grant) {
      ctx.addIssue({ code: 'custom', path: ['auto_approve'], message: 'auto_approve has no effect with emergency_self_grant: true (everyone is already granted at once); remove one of them' });
    }
    const listed = r.approvers.slack_users?.length ?? 0;
    // A channel alone is approved by its members, who are only known once Slack is asked.
    const channelMembersApprove = r.approvers.channel !== undefined && listed === 0;
    if (r.approvers.slack_usergroup === undefined && !channelMembersApprove && r.approvals_required > listed) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvals_required'],
        message: `${r.approvals_required} approvals are required but only ${listed} approver(s) are listed; add approvers or lower approvals_required`,
      });
    }
  });

/**
 * A map keyed by names from access.yml, with a prototype-free result: a lookup by what someone
 * typed (`constructor`, `toString`) finds only what the file defines. Zod drops a `__proto__` key
 * without a word, so it is refused here instead of losing that entry silently.
 */
function ownRecord<K extends z.core.$ZodRecordKey, V extends z.ZodType>(key: K, value: V) {
  return z.preprocess((input, ctx) => {
    if (typeof input === 'object' && input !== null && Object.hasOwn(input, '__proto__')) {
      ctx.addIssue({ code: 'custom', path: ['__proto__'], input, message: '"__proto__" cannot be used as a name here; choose another' });
    }
    return input;
  }, z.record(key, value).transform((record) => Object.assign(Object.create(null) as typeof record, record)));
}

const resourceName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'resource names are lower-case letters, digits, ".", "_" or "-"');

export const accessSchema = z
  .strictObject({
    security_channel: slackChannelId,
    security: slackAudience.optional(),
    resources: ownRecord(resourceName, resource).refine((r) => Object.keys(r).length > 0, 'define at least one resource'),
    people: ownRecord(slackUserId, z.strictObject({ ...personFields, email: z.email().optional() })).default(() => Object.create(null) as Record<string, never>),
    reviews: z
      .strictObject({
        manager_attribute: z.string().min(1).default('managerId'),
        schedule: z
          .string()
          .min(1)
          .superRefine((value, ctx) => {
            const problem = scheduleProblem(value);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .default('quarterly'),
        due_in: duration.default(() => parseDuration('14d')!),
        remind_every: duration.default(() => parseDuration('3d')!),
        scope: z.array(z.string()).optional(),
      })
      .default({ manager_attribute: 'managerId', schedule: 'quarterly', due_in: parseDuration('14d')!, remind_every: parseDuration('3d')! }),
    offboarding: z
      .strictObject({ sla: duration.default(() => parseDuration('24h')!), poll_every: duration.default(() => parseDuration('5m')!) })
      .default({ sla: parseDuration('24h')!, poll_every: parseDuration('5m')! }),
    checkpoint_every: duration.default(() => parseDuration('1h')!),
    /** How long before access ends its holder gets a reminder with Extend and End now. */
    remind_before: duration.default(() => parseDuration('10m')!),
    drift: z
      .strictObject({ every: duration.default(() => parseDuration('1h')!), action: z.enum(['report', 'remove']).default('report') })
      .default({ every: parseDuration('1h')!, action: 'report' }),
    monitors: monitorsSchema,
  })
  .superRefine((cfg, ctx) => {
    for (const [index, name] of (cfg.reviews.scope ?? []).entries()) {
      if (!Object.hasOwn(cfg.resources, name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['reviews', 'scope', index],
          message: `reviews.scope names "${name}", which is not a resource; known resources: ${Object.keys(cfg.resources).join(', ')}`,
        });
      }
    }
  });

export type AccessConfig = z.output<typeof accessSchema>;
export type ResourceConfig = AccessConfig['resources'][string];
