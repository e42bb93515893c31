/**
 * Wording with its meaning marked, so each channel formats it its own way: Slack turns a mention
 * into `<@U…>` and a date into a date token, the CLI and evidence files print plain text. The
 * literal parts are breakglass's own words; interpolated strings are someone else's (a reason, an
 * error from a provider), which a channel escapes as it needs.
 */
export type Part =
  /** Someone else's text: a channel that has markup escapes it. */
  | string
  /** breakglass's own wording. */
  | { words: string }
  | { code: string }
  | { user: string }
  | { date: string }
  | { emoji: string }
  | { bold: string }
  /** A block of machine text the reader copies as it is (a checkpoint line). */
  | { pre: string };

export type Message = Part[];

/** `${…}` may hold someone's text, a number, a marked part, or a message to splice in. */
type Value = string | number | Exclude<Part, string> | Message;

/** Builds a message: the template's literal text is our wording; strings put into it are quoted text. */
export function msg(strings: TemplateStringsArray, ...values: Value[]): Message {
  const parts: Message = [];
  strings.forEach((literal, i) => {
    if (literal !== '') parts.push({ words: literal });
    if (i >= values.length) return;
    const value = values[i]!;
    if (Array.isArray(value)) parts.push(...value);
    else parts.push(typeof value === 'number' ? { words: String(value) } : value);
  });
  return parts;
}

export const code = (text: string): Part => ({ code: text });
export const mention = (user: string): Part => ({ user });
export const date = (at: Date | string): Part => ({ date: typeof at === 'string' ? at : at.toISOString() });
export const emoji = (name: string): Part => ({ emoji: name });
export const bold = (text: string): Part => ({ bold: text });
export const pre = (text: string): Part => ({ pre: text });

/** Joins messages with a separator of our own wording. */
export function joined(messages: readonly Message[], separator: string): Message {
  return messages.flatMap((m, i) => (i === 0 ? m : [{ words: separator }, ...m]));
}

/** UTC ISO-8601 to the second: what a reader of a file or terminal sees for a date. */
export function isoSecond(at: string): string {
  return `${at.slice(0, 19)}Z`;
}

/** Plain text, for the CLI, logs and anything that ends up in evidence or files. */
export function plainText(message: Message): string {
  let text = '';
  let afterEmoji = false;
  for (const part of message) {
    // An emoji decorates a sentence; in plain text it goes, and the space after it.
    if (typeof part !== 'string' && 'emoji' in part) {
      afterEmoji = true;
      continue;
    }
    const piece = plainPart(part);
    text += afterEmoji ? piece.replace(/^ /, '') : piece;
    afterEmoji = false;
  }
  return text;
}

function plainPart(part: Exclude<Part, { emoji: string }>): string {
  if (typeof part === 'string') return part;
  if ('words' in part) return part.words;
  if ('code' in part) return part.code;
  if ('user' in part) return `@${part.user}`;
  if ('date' in part) return isoSecond(part.date);
  if ('bold' in part) return part.bold;
  return part.pre;
}
