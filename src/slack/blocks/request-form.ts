import type { types } from '@slack/bolt';
import type { RequestFormView } from '../../app/request-form.ts';
import { MAX_REASON } from '../../domain/command.ts';
import { formatDuration } from '../../domain/duration.ts';
import { durationSteps } from '../../domain/request-form.ts';
import { LIMITS, mrkdwnSection, plain } from './format.ts';
import { REQUEST_FORM, VIEWS } from './view-models.ts';

/** Slack's limits on a static_select: 100 options (or 100 groups of 100), 75 characters an option's text. */
const MAX_OPTIONS = 100;
const OPTION_TEXT = 75;

/**
 * `/breakglass` with nothing typed: the resources this person may request, a duration within the
 * longest any of them allows (the submission checks it against the chosen one), a reason, a ticket.
 */
export function requestFormModal(view: RequestFormView): types.ModalView {
  const base = { type: 'modal' as const, callback_id: VIEWS.requestForm, title: plain('Request access', LIMITS.modalTitle), close: plain('Cancel', LIMITS.modalTitle) };
  if (view.resources.length === 0) {
    return { ...base, blocks: [mrkdwnSection('There is no resource you may request. Ask your security team to add you to a resource’s `requesters` in access.yml.')] };
  }
  const longest = Math.max(...view.resources.map((r) => r.maxDurationMs));
  return {
    ...base,
    submit: plain('Request', LIMITS.modalTitle),
    blocks: [
      {
        type: 'input',
        block_id: REQUEST_FORM.resource.block,
        label: plain('Resource', 2_000),
        element: { type: 'static_select', action_id: REQUEST_FORM.resource.action, placeholder: plain('Choose a resource', 150), ...resourceOptions(view.resources) },
      },
      {
        type: 'input',
        block_id: REQUEST_FORM.duration.block,
        label: plain('For how long', 2_000),
        hint: plain('At most the resource’s limit (shown beside it); you can extend later.', 2_000),
        element: {
          type: 'static_select',
          action_id: REQUEST_FORM.duration.action,
          placeholder: plain('Choose a duration', 150),
          options: durationSteps(longest).map((ms) => ({ text: plain(formatDuration(ms), OPTION_TEXT), value: String(ms) })),
        },
      },
      {
        type: 'input',
        block_id: REQUEST_FORM.reason.block,
        label: plain('Reason', 2_000),
        hint: plain('Your approvers see this, and it is kept as audit evidence.', 2_000),
        element: { type: 'plain_text_input', action_id: REQUEST_FORM.reason.action, multiline: true, max_length: MAX_REASON, placeholder: plain('e.g. INC-1234 replication lag on the primary', 150) },
      },
      {
        type: 'input',
        block_id: REQUEST_FORM.ticket.block,
        optional: true,
        label: plain('Ticket', 2_000),
        element: { type: 'plain_text_input', action_id: REQUEST_FORM.ticket.action, max_length: 30, placeholder: plain('INC-1234', 150) },
      },
    ],
  };
}

type Option = { text: types.PlainTextElement; value: string; description?: types.PlainTextElement };

/** Up to 100 options as they are; more, in groups of 100 by first letter range (Slack allows 100 groups). */
function resourceOptions(resources: RequestFormView['resources']): { options: Option[] } | { option_groups: Array<{ label: types.PlainTextElement; options: Option[] }> } {
  const options = resources.slice(0, MAX_OPTIONS * MAX_OPTIONS).map(resourceOption);
  if (options.length <= MAX_OPTIONS) return { options };
  const groups = [];
  for (let start = 0; start < options.length; start += MAX_OPTIONS) {
    const chunk = options.slice(start, start + MAX_OPTIONS);
    groups.push({ label: plain(`${chunk[0]!.value} – ${chunk.at(-1)!.value}`, OPTION_TEXT), options: chunk });
  }
  return { option_groups: groups };
}

function resourceOption(resource: RequestFormView['resources'][number]): Option {
  const limit = `up to ${formatDuration(resource.maxDurationMs)}`;
  return {
    text: plain(resource.name, OPTION_TEXT),
    value: resource.name,
    description: plain(resource.description ? `${limit} · ${resource.description}` : limit, OPTION_TEXT),
  };
}
