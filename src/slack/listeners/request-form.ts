import type { App } from '@slack/bolt';
import { ErrorCode, type WebClient } from '@slack/web-api';
import { z } from 'zod';
import { Refusal, type AppDeps } from '../../app/deps.ts';
import { requestAccess } from '../../app/request-access.ts';
import { checkFormAsk, requestFormView } from '../../app/request-form.ts';
import { formatDuration } from '../../domain/duration.ts';
import type { RefusalReason } from '../../domain/refusals.ts';
import { readRequestForm, type FormField } from '../../domain/request-form.ts';
import { requestFormModal } from '../blocks/request-form.ts';
import { REQUEST_FORM, SHORTCUTS, VIEWS } from '../blocks/view-models.ts';
import { refusalMrkdwn } from '../render.ts';
import { requestReply } from './command-handlers.ts';
import { failureReply } from './failure-reply.ts';

/**
 * `/breakglass` with nothing typed and the global shortcut: the form, opened with the trigger Slack
 * just sent. A trigger Slack refuses (expired after 3 seconds, already used, malformed) is the
 * person's to retry, not a bot failure: they are told so, and it is logged as a warning.
 */
export async function openRequestForm(deps: AppDeps, client: WebClient, user: string, triggerId: string): Promise<{ text: string } | undefined> {
  const retry = (why: string) => ({ text: `The form could not be opened (${why}). Try again, or type \`/breakglass <resource> <duration> <reason>\`.` });
  if (typeof triggerId !== 'string' || triggerId === '') return retry('Slack sent no trigger for it');
  const view = requestFormModal(await requestFormView(deps, user));
  try {
    await client.views.open({ trigger_id: triggerId, view });
    return undefined;
  } catch (error) {
    const code = (error as { code?: unknown; data?: { error?: unknown } }).code === ErrorCode.PlatformError ? (error as { data?: { error?: unknown } }).data?.error : undefined;
    if (typeof code !== 'string') throw error;
    deps.logger.warn({ user, err: code }, 'Slack did not open the request form');
    return retry(`Slack said \`${code}\``);
  }
}

/** One field's value in view.state.values, whichever element holds it. */
const fieldValue = z
  .object({ value: z.string().nullish(), selected_option: z.object({ value: z.string() }).nullish() })
  .transform((field) => field.selected_option?.value ?? field.value ?? undefined)
  .optional()
  .catch(undefined);

function readField(values: Record<string, Record<string, unknown>> | undefined, field: FormField): string | undefined {
  const ids = REQUEST_FORM[field];
  return fieldValue.parse(values?.[ids.block]?.[ids.action]);
}

/** A refusal about the resource or the duration is shown on that field; anything else on the resource. */
function refusalField(refusal: RefusalReason): FormField {
  return refusal.code === 'too_long' ? 'duration' : 'resource';
}

/**
 * The form: its errors are shown on their fields before it closes, then requestAccess records it
 * (checking everything again) and the person gets the same answer as the slash command, as a DM,
 * since a modal has no response_url. A form already accepted is never accepted again.
 */
export function registerRequestFormListeners(app: App, deps: AppDeps, options: { track: (work: Promise<unknown>) => void }): void {
  app.shortcut(SHORTCUTS.requestAccess, async ({ ack, shortcut, client }) => {
    await ack();
    options.track(
      openRequestForm(deps, client, shortcut.user.id, shortcut.trigger_id).catch((error: unknown) => {
        deps.logger.error({ err: error, user: shortcut.user.id }, 'could not open the request form');
      }),
    );
  });

  const accepted = new Set<string>();
  app.view(VIEWS.requestForm, async ({ ack, body, view, client }) => {
    const user = body.user.id;
    if (accepted.has(view.id)) {
      deps.logger.warn({ user, view: view.id }, 'the request form was submitted again; ignored');
      await ack();
      return;
    }
    const values = view.state?.values as Record<string, Record<string, unknown>> | undefined;
    const reading = readRequestForm({
      resource: readField(values, 'resource'),
      duration: readField(values, 'duration'),
      reason: readField(values, 'reason'),
      ticket: readField(values, 'ticket'),
    });
    if (!reading.ok) {
      await ack({ response_action: 'errors', errors: Object.fromEntries(Object.entries(reading.errors).map(([field, text]) => [REQUEST_FORM[field as FormField].block, text])) });
      return;
    }
    const ask = { requester: user, ...reading.ask };
    accepted.add(view.id);
    // Bounded: Slack resends nothing after the ack, so only recent forms can come again (a replay, a double click).
    if (accepted.size > 10_000) accepted.delete(accepted.values().next().value as string);
    const refusal = await checkFormAsk(deps, { user, resource: ask.resource, durationMs: ask.durationMs }).catch((error: unknown) => {
      accepted.delete(view.id);
      throw error;
    });
    if (refusal) {
      accepted.delete(view.id);
      // A modal's field error is plain text, so the refusal is worded without mrkdwn here.
      await ack({ response_action: 'errors', errors: { [REQUEST_FORM[refusalField(refusal)].block]: new Refusal(refusal).message } });
      return;
    }
    await ack();
    const tell = (text: string) => directMessage(client, user, text).catch((error: unknown) => deps.logger.warn({ user, err: String(error) }, 'could not answer a request form'));
    options.track(
      requestAccess(deps, ask)
        .then((outcome) => tell(requestReply(outcome, ask.resource, formatDuration(ask.durationMs)).text))
        .catch(async (error: unknown) => {
          if (error instanceof Refusal) return tell(refusalMrkdwn(error.reason));
          deps.logger.error({ err: error, user }, 'request form failed');
          return tell(failureReply(error));
        }),
    );
  });
}

async function directMessage(client: WebClient, user: string, text: string): Promise<void> {
  const dm = await client.conversations.open({ users: user });
  if (dm.channel?.id) await client.chat.postMessage({ channel: dm.channel.id, text });
}
