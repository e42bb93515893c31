import type { WebClient } from '@slack/web-api';
import type { AppDeps } from '../../app/deps.ts';
import { endGrant } from '../../app/end-grant.ts';
import { myAccess } from '../../app/read-models.ts';
import { requestAccess, requestExtension, type RequestOutcome } from '../../app/request-access.ts';
import { formatDuration } from '../../domain/duration.ts';
import { listText } from '../blocks/list.ts';
import { uploadLog } from '../upload-log.ts';
import type { CommandHandlers } from './command.ts';
import { GRANT_FINISHES_LATER } from './failure-reply.ts';
import { openRequestForm } from './request-form.ts';

/** The slash-command handlers; Refusals thrown by the use cases become the person's answer. */
export function commandHandlers(deps: AppDeps, client: WebClient): CommandHandlers {
  return {
    form: async (_command, body) => openRequestForm(deps, client, body.user_id, body.trigger_id),
    request: async (command, body) =>
      requestReply(
        await requestAccess(deps, { requester: body.user_id, resource: command.resource, durationMs: command.durationMs, reason: command.reason, ticket: command.ticket }),
        command.resource,
        formatDuration(command.durationMs),
      ),
    extend: async (command, body) => {
      const outcome = await requestExtension(deps, { requester: body.user_id, requestId: command.requestId, durationMs: command.durationMs });
      return requestReply(outcome, `request #${command.requestId}`, `${formatDuration(command.durationMs)} more`);
    },
    end: async (command, body) => {
      const ended = await endGrant(deps, { requestId: command.requestId, user: body.user_id });
      return { text: `Ending your access to \`${ended.resource}\` (request #${command.requestId}) now. You will get a message once it is revoked.` };
    },
    list: async (_command, body) => {
      const view = await myAccess(deps, body.user_id, () => false);
      return { text: listText(view, deps.clock.now()) };
    },
    log: async (command, body) => uploadLog(deps, client, command, body),
  };
}

/** What the person is told about their request, whether it came from the command or the form. */
export function requestReply(outcome: RequestOutcome, what: string, howLong: string): { text: string } {
  if (outcome.kind === 'pending') {
    const who = outcome.approvers.map((u) => `<@${u}>`).join(', ');
    return { text: `Request #${outcome.requestId} for \`${what}\` (${howLong}) is waiting for ${outcome.approvalsRequired} approval(s) from ${who}. You will get a message when it is decided.` };
  }
  if (outcome.kind === 'on_call') return onCallReply(outcome, what, howLong);
  if (outcome.grant.state === 'failed') return { text: `:x: Emergency access for \`${what}\` could not be granted (request #${outcome.requestId}): ${outcome.grant.error}. Nothing was changed.` };
  if (outcome.grant.state === 'checking') return { text: `:hourglass: Emergency request #${outcome.requestId} for \`${what}\` is recorded, but the provider did not answer; breakglass is checking whether access was granted. You get a message then.` };
  if (outcome.grant.state === 'awaiting_owners') return { text: `:rotating_light: Emergency request #${outcome.requestId} for \`${what}\` is recorded; the owners of *${outcome.grant.system}* are asked to grant it by hand. You get a message once one of them confirms.` };
  if (outcome.grant.state === 'granting') return { text: `:rotating_light: Emergency request #${outcome.requestId} for \`${what}\` is recorded, but ${GRANT_FINISHES_LATER} You get a message then.` };
  return { text: `:rotating_light: Emergency access for \`${what}\` (${howLong}) granted under request #${outcome.requestId}. The security channel has been notified and an approver will review it.` };
}

/** Approved because PagerDuty has the requester on call now: no approver was waited for. */
function onCallReply(outcome: Extract<RequestOutcome, { kind: 'on_call' }>, what: string, howLong: string): { text: string } {
  const id = outcome.requestId;
  if (outcome.grant.state === 'failed') return { text: `:x: On-call access for \`${what}\` could not be granted (request #${id}): ${outcome.grant.error}. Nothing was changed.` };
  if (outcome.grant.state === 'checking') return { text: `:hourglass: On-call request #${id} for \`${what}\` is approved, but the provider did not answer; breakglass is checking whether access was granted. You get a message then.` };
  if (outcome.grant.state === 'awaiting_owners') return { text: `:pager: On-call request #${id} for \`${what}\` is approved; the owners of *${outcome.grant.system}* are asked to grant it by hand. You get a message once one of them confirms.` };
  if (outcome.grant.state === 'granting') return { text: `:pager: On-call request #${id} for \`${what}\` is approved, but ${GRANT_FINISHES_LATER} You get a message then.` };
  return { text: `:pager: You are on call in PagerDuty: access for \`${what}\` (${howLong}) granted under request #${id}. The approvers will review it afterwards.` };
}
