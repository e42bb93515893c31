import { parseDuration } from './duration.ts';

/** What `/breakglass …` asked for, before any policy or database is consulted. */
export type Command =
  | { kind: 'help' }
  /** Nothing typed: the request form opens. */
  | { kind: 'form' }
  | { kind: 'list' }
  | { kind: 'end'; requestId: number }
  | { kind: 'extend'; requestId: number; durationMs: number; durationText: string }
  | { kind: 'log'; resource?: string; days: number }
  | { kind: 'request'; resource: string; durationMs: number; durationText: string; reason: string; ticket?: string }
  | { kind: 'invalid'; message: string };

/** Slack's own limit on a slash command's text is 4,000 characters; a reason has no use for more than this. */
export const MAX_REASON = 1_000;

export const TICKET = /\b([A-Z][A-Z0-9]{1,15}-\d{1,9})\b/;

/**
 * Control characters (NUL, escape, …) have no place in a command or a reason: PostgreSQL cannot
 * store NUL at all, and the others would reach the evidence and audit files unseen. Refused, not
 * stripped, so what is recorded is exactly what the person typed.
 */
export function controlCharacterProblem(text: string): string | undefined {
  const found = /\p{Cc}/u.exec(text.replace(/\s/g, ' '))?.[0];
  if (found === undefined) return undefined;
  const code = `U+${found.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return `The text contains an invisible control character (${code}), which breakglass does not record. Retype it without and try again; nothing was changed.`;
}

export function parseCommand(raw: string): Command {
  const control = controlCharacterProblem(raw);
  if (control) return invalid(control);
  const text = raw.replace(/\s+/g, ' ').trim();
  const [first = '', ...rest] = text.split(' ');
  const word = first.toLowerCase();
  if (word === '') return { kind: 'form' };
  if (word === 'help') return { kind: 'help' };
  if (word === 'list') return rest.length === 0 ? { kind: 'list' } : invalid('`list` takes nothing after it.');
  if (word === 'end') {
    const id = requestId(rest[0]);
    return id !== undefined && rest.length === 1 ? { kind: 'end', requestId: id } : invalid('Say which grant to end: `/breakglass end <id>` (the id is in `/breakglass list`).');
  }
  if (word === 'extend') {
    const id = requestId(rest[0]);
    const durationMs = parseDuration(rest[1] ?? '');
    if (id === undefined || durationMs === undefined || rest.length !== 2) {
      return invalid('Say which grant and by how long: `/breakglass extend <id> <duration>`, e.g. `/breakglass extend 42 1h`.');
    }
    return { kind: 'extend', requestId: id, durationMs, durationText: rest[1]! };
  }
  if (word === 'log') {
    const days = rest.find((part) => /^\d{1,4}$/.test(part));
    const resource = rest.find((part) => part !== days);
    if (rest.length > 2) return invalid('`/breakglass log [resource] [days]`, e.g. `/breakglass log prod-db 30`.');
    return { kind: 'log', ...(resource ? { resource } : {}), days: days ? Math.max(1, Number(days)) : 30 };
  }
  const [durationText = '', ...reasonWords] = rest;
  const durationMs = parseDuration(durationText);
  if (durationMs === undefined) {
    return invalid(
      durationText === ''
        ? `Say for how long: \`/breakglass ${first} 2h <reason>\`. Durations look like 30m, 2h, 1h30m, 1d or PT2H.`
        : `"${durationText}" is not a duration. Write it like 30m, 2h, 1h30m, 1d or PT2H (no fractions): \`/breakglass ${first} 2h <reason>\`.`,
    );
  }
  const reason = reasonWords.join(' ');
  if (reason === '') return invalid(`A reason is required, ideally with a ticket: \`/breakglass ${first} ${durationText} INC-1234 replication lag\`.`);
  if (reason.length > MAX_REASON) return invalid(`The reason is ${reason.length} characters; keep it under ${MAX_REASON}.`);
  const ticket = TICKET.exec(reason)?.[1];
  return { kind: 'request', resource: first, durationMs, durationText, reason, ...(ticket ? { ticket } : {}) };
}

function requestId(text: string | undefined): number | undefined {
  const match = /^#?(\d{1,9})$/.exec(text ?? '');
  return match ? Number(match[1]) : undefined;
}

function invalid(message: string): Command {
  return { kind: 'invalid', message };
}
