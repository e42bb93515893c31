import type { App, SlashCommand } from '@slack/bolt';
import { Refusal } from '../../app/deps.ts';
import { parseCommand, type Command } from '../../domain/command.ts';
import type { Logger } from '../../logger.ts';
import { firstDeliveryOf } from '../app.ts';
import { refusalMrkdwn } from '../render.ts';
import { failureReply } from './failure-reply.ts';
import { postAckLimit } from './post-ack-limit.ts';

/** What a command handler answers: shown only to the person who typed it. */
export type CommandReply = { text: string } | undefined;

export type CommandHandlers = {
  [K in Exclude<Command['kind'], 'help' | 'invalid'>]?: (command: Extract<Command, { kind: K }>, body: SlashCommand) => Promise<CommandReply>;
};

/**
 * `/breakglass …`: acknowledged at once (Slack's 3-second rule); anything slow answers later
 * through the command's response_url. Unknown failures reach the log and the person gets an
 * apology (naming a database outage when that is the cause), never a stack trace.
 */
export function registerCommandListener(
  app: App,
  deps: {
    help: (body: SlashCommand) => Promise<string>;
    handlers: CommandHandlers;
    /** The answer to any command but help when there is no access policy to act on. */
    unconfigured?: string;
    logger: Logger;
    track: (work: Promise<unknown>) => void;
  },
): void {
  const { handlers, logger, track } = deps;
  const limit = postAckLimit();
  app.command('/breakglass', async ({ command: body, ack, respond, context }) => {
    const command = parseCommand(body.text ?? '');
    const first = firstDeliveryOf(context);
    const handler = command.kind === 'invalid' || command.kind === 'help' ? undefined : (handlers[command.kind] as ((c: Command, b: SlashCommand) => Promise<CommandReply>) | undefined);
    if (!handler) {
      // A replay is answered empty, as every replayed request is: its answer is not shown twice.
      if (!(await first)) return ack();
      // Answers that need no I/O go back in the ack itself: they work even when Slack's response_url does not.
      if (command.kind === 'invalid' || command.kind === 'help') return ack({ response_type: 'ephemeral', text: command.kind === 'help' ? await deps.help(body) : command.message });
      return ack({ response_type: 'ephemeral', text: deps.unconfigured ?? `\`${command.kind}\` is not available in this installation.` });
    }
    // The ack carries nothing, so it waits for nothing: not even the replay guard's database write,
    // which queues behind other requests' transactions under load. The work waits for it instead.
    await ack();
    track(
      first
        // The form is not queued: Slack's trigger_id for opening it expires 3 s after the command.
        .then((isFirst) => (!isFirst ? undefined : command.kind === 'form' ? handler(command, body) : limit(() => handler(command, body))))
        .then((reply) => (reply ? respond({ response_type: 'ephemeral', text: reply.text }) : undefined))
        .catch(async (error: unknown) => {
          if (error instanceof Refusal) return respond({ response_type: 'ephemeral', text: refusalMrkdwn(error.reason) });
          logger.error({ err: error, command: command.kind, user: body.user_id }, 'slash command failed');
          await respond({ response_type: 'ephemeral', text: failureReply(error) }).catch(() => {});
        }),
    );
  });
}
