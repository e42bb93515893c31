import type { SlashCommand } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { AppDeps } from '../app/deps.ts';
import { assertMayExportLog, exportLog } from '../app/export-log.ts';

/**
 * `/breakglass log [resource] [days]`: for the security audience, the evidence log's CSV as a file
 * in the requester's direct messages. Answers "Preparing…" through the command's response_url at
 * once and returns the final answer; anyone else gets a Refusal and nothing is exported.
 */
export async function uploadLog(
  deps: AppDeps,
  client: WebClient,
  command: { resource?: string | undefined; days: number },
  body: Pick<SlashCommand, 'user_id' | 'response_url'>,
): Promise<{ text: string }> {
  await assertMayExportLog(deps, body.user_id);
  const what = command.resource ? `\`${command.resource}\`` : 'all resources';
  await respond(body.response_url, `Preparing the evidence log of ${what} for the last ${command.days} day(s)…`).catch((error: unknown) =>
    deps.logger.warn({ err: error, user: body.user_id }, 'could not answer /breakglass log at once; carrying on'),
  );

  const log = await exportLog(deps, { ...command, user: body.user_id });
  if (log.count === 0) {
    const known = Object.keys(deps.access.config.resources);
    const hint = command.resource && !known.includes(command.resource) ? ` (\`${command.resource}\` is not in access.yml; resources: ${known.map((r) => `\`${r}\``).join(', ')})` : '';
    return { text: `No evidence events for ${what} in the last ${command.days} day(s)${hint}; nothing was uploaded.` };
  }
  const opened = await client.conversations.open({ users: body.user_id });
  const channel = opened.channel?.id;
  if (!channel) throw new Error(`could not open a direct message with ${body.user_id}`);
  await client.filesUploadV2({
    channel_id: channel,
    file: log.csv,
    filename: log.filename,
    title: `breakglass evidence log: ${command.resource ?? 'all resources'}, ${log.from.toISOString()} to ${log.to.toISOString()}`,
    initial_comment: `Evidence log of ${what}, ${log.from.toISOString()} to ${log.to.toISOString()}: ${log.count} event(s), CSV (the same columns as \`npx breakglass evidence export\`).`,
  });
  return { text: `Uploaded ${log.count} event(s) of ${what} from the last ${command.days} day(s) to your direct messages as \`${log.filename}\`.` };
}

/** An extra answer to a slash command; Slack accepts up to five per response_url. */
async function respond(responseUrl: string, text: string): Promise<void> {
  const answer = await fetch(responseUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ response_type: 'ephemeral', text }),
  });
  if (!answer.ok) throw new Error(`Slack refused the command's response_url (HTTP ${answer.status})`);
}
