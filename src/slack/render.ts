import type { KnownBlock } from '@slack/types';
import { accessEndingBlocks } from './blocks/access-ending.ts';
import type { Message } from '../domain/message.ts';
import { notificationWords, type Notification } from '../domain/notifications.ts';
import { refusalWords, type RefusalReason } from '../domain/refusals.ts';
import { escapeMrkdwn, slackDate, user } from './blocks/format.ts';

/**
 * The one place a notification or refusal becomes Slack mrkdwn: someone's text is escaped (so it
 * cannot ping `<!channel>` or disguise a link), people become mentions, dates become date tokens
 * every reader sees in their own time zone.
 */
export function mrkdwn(message: Message): string {
  return message
    .map((part) => {
      if (typeof part === 'string') return escapeMrkdwn(part);
      if ('words' in part) return part.words;
      // Backticks cannot be escaped inside code, so they are removed.
      if ('code' in part) return `\`${escapeMrkdwn(part.code.replace(/`/g, ''))}\``;
      if ('user' in part) return user(part.user);
      if ('date' in part) return slackDate(new Date(part.date));
      if ('emoji' in part) return `:${part.emoji}:`;
      if ('bold' in part) return `*${escapeMrkdwn(part.bold)}*`;
      return `\`\`\`\n${escapeMrkdwn(part.pre)}\n\`\`\``;
    })
    .join('');
}

export const notificationMrkdwn = (notification: Notification): string => mrkdwn(notificationWords(notification));

/** A notification as a Slack message: its words, and the buttons that act on it where there are any. */
export function notificationMessage(notification: Notification): { text: string; blocks?: KnownBlock[] } {
  const text = notificationMrkdwn(notification);
  if (notification.kind === 'access_ending') return { text, blocks: accessEndingBlocks(text, notification) };
  return { text };
}

/** A refusal as the person reads it in Slack. */
export const refusalMrkdwn = (reason: RefusalReason): string => mrkdwn(refusalWords(reason));
