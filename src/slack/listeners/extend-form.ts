import type { App } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { Refusal, type AppDeps } from '../../app/deps.ts';
import { requestExtension } from '../../app/request-access.ts';
import { extensionFormView } from '../../app/request-form.ts';
import { formatDuration } from '../../domain/duration.ts';
import { extendModal } from '../blocks/access-ending.ts';
import { ACTIONS, EXTEND_FORM, VIEWS } from '../blocks/view-models.ts';
import { refusalMrkdwn } from '../render.ts';
import { requestReply } from './command-handlers.ts';
import { failureReply } from './failure-reply.ts';

/** Extend on the reminder: only the holder gets the form (who clicked comes from the signed payload). */
export function extendActionHandlers(deps: AppDeps) {
  return {
    [ACTIONS.extendAccess]: async (requestId: number, user: string, body: { trigger_id: string }, client: WebClient): Promise<string | undefined> => {
      await client.views.open({ trigger_id: body.trigger_id, view: extendModal(await extensionFormView(deps, user, requestId)) });
      return undefined;
    },
  };
}

const requestIdValue = z.string().regex(/^\d{1,9}$/).transform(Number);
const durationValue = z.object({ selected_option: z.object({ value: z.string().regex(/^\d{1,12}$/).transform(Number) }) });

/** The extension form's submission: the same use case as `/breakglass extend <id> <duration>`, answered as a DM. */
export function registerExtendFormListener(app: App, deps: AppDeps, options: { track: (work: Promise<unknown>) => void }): void {
  app.view(VIEWS.extendForm, async ({ ack, body, view, client }) => {
    const requestId = requestIdValue.safeParse(view.private_metadata);
    const duration = durationValue.safeParse(view.state?.values?.[EXTEND_FORM.block]?.[EXTEND_FORM.action]);
    if (!requestId.success) {
      await ack();
      return;
    }
    if (!duration.success || duration.data.selected_option.value <= 0) {
      await ack({ response_action: 'errors', errors: { [EXTEND_FORM.block]: 'Choose how much more time.' } });
      return;
    }
    await ack();
    const user = body.user.id;
    const durationMs = duration.data.selected_option.value;
    const tell = async (text: string) => {
      const dm = await client.conversations.open({ users: user });
      if (dm.channel?.id) await client.chat.postMessage({ channel: dm.channel.id, text });
    };
    options.track(
      requestExtension(deps, { requester: user, requestId: requestId.data, durationMs })
        .then((outcome) => tell(requestReply(outcome, `request #${requestId.data}`, `${formatDuration(durationMs)} more`).text))
        .catch(async (error: unknown) => {
          if (error instanceof Refusal) return tell(refusalMrkdwn(error.reason));
          deps.logger.error({ err: error, user }, 'extension form failed');
          return tell(failureReply(error));
        })
        .catch((error: unknown) => deps.logger.warn({ user, err: String(error) }, 'could not answer an extension form')),
    );
  });
}
