/**
 * Property-based fuzzing of the slash-command parser: whatever Slack posts as `text` (any code
 * point, control characters, lone surrogates, more than Slack's 4,000 characters), parseCommand
 * answers with a well-formed Command and never throws.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand, type Command } from '../../src/domain/command.ts';

const KINDS = new Set(['help', 'form', 'list', 'end', 'extend', 'log', 'request', 'invalid']);

/** The shape every consumer of a Command relies on. */
function assertValidCommand(command: Command, raw: string): void {
  expect(KINDS.has(command.kind)).toBe(true);
  const positiveFinite = (n: number) => Number.isFinite(n) && n > 0;
  switch (command.kind) {
    case 'help':
    case 'form':
    case 'list':
      expect(Object.keys(command)).toEqual(['kind']);
      break;
    case 'end':
      expect(Number.isSafeInteger(command.requestId) && command.requestId >= 0).toBe(true);
      break;
    case 'extend':
      expect(Number.isSafeInteger(command.requestId) && command.requestId >= 0).toBe(true);
      expect(positiveFinite(command.durationMs)).toBe(true);
      expect(command.durationText).not.toBe('');
      expect(command.durationText).not.toMatch(/\s/);
      break;
    case 'log':
      expect(Number.isSafeInteger(command.days) && command.days >= 1).toBe(true);
      if (command.resource !== undefined) expect(command.resource).toMatch(/^\S+$/);
      break;
    case 'request':
      expect(command.resource).toMatch(/^\S+$/);
      expect(positiveFinite(command.durationMs)).toBe(true);
      expect(command.durationText).toMatch(/^\S+$/);
      expect(command.reason.trim()).not.toBe('');
      expect(command.reason.length).toBeLessThanOrEqual(1_000);
      // Whitespace is folded: no runs, no ends, no tabs or newlines inside.
      expect(command.reason).not.toMatch(/\s\s|^\s|\s$|[\t\n\r\v\f]/);
      if (command.ticket !== undefined) {
        expect(command.ticket).toMatch(/^[A-Z][A-Z0-9]{1,15}-\d{1,9}$/);
        expect(command.reason).toContain(command.ticket);
      }
      break;
    case 'invalid':
      expect(typeof command.message).toBe('string');
      expect(command.message.trim()).not.toBe('');
      // An echo of the input is fine; an answer far longer than the input plus the explanation is not.
      expect(command.message.length).toBeLessThanOrEqual(raw.length * 2 + 500);
      break;
  }
  // A Command is plain data: it survives a JSON round trip unchanged (no NaN, Infinity or undefined values).
  expect(JSON.parse(JSON.stringify(command))).toEqual(command);
}

function check(raw: string): void {
  let command: Command;
  try {
    command = parseCommand(raw);
  } catch (error) {
    throw new Error(`parseCommand threw on ${JSON.stringify(raw.slice(0, 200))}: ${String(error)}`);
  }
  assertValidCommand(command, raw);
}

/** Words the parser gives meaning to, so random input reaches every branch, not only `invalid`. */
const word = fc.oneof(
  fc.constantFrom('help', 'HELP', 'list', 'List', 'end', 'extend', 'log', 'prod-db', 'prod-admin', '#42', '42', '0', '007', '999999999', '1234567890'),
  fc.constantFrom('2h', '30m', '1h30m', '1d', 'PT2H', 'P1D', 'pt30m', '0m', '0h0m', 'P0D', 'PT0S', 'P', 'PT', 'P1Y2M', 'P-1D', 'PT1.5H', 'd', 'h', '1x'),
  fc.constantFrom('INC-1234', 'SEC-1', 'A-1', 'AB-0000000001', 'inc-12', 'ÄB-1', 'X'.repeat(17) + '-1'),
  fc.stringMatching(/^\d{1,40}[dhm]$/),
  fc.stringMatching(/^P(\d{1,25}[YMWD]){0,3}(T(\d{1,25}[HMS]){1,3})?$/),
  fc.stringMatching(/^[A-Z]{1,3}-\d{1,12}$/),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);
const space = fc.constantFrom(' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u2028', '\u3000', '\ufeff', '\u200b', '\u0000', '\u000b', '\u001f', '\u0085');
/** What JavaScript's \s (and so the parser) treats as whitespace. */
const trueSpace = fc.constantFrom(' ', '\t', '\n', '\r\n', '\u00a0', '\u2028', '\u3000', '\ufeff', '\u000b', '\u1680');
const commandLike = fc
  .tuple(fc.option(space, { nil: '' }), fc.array(fc.tuple(word, space), { maxLength: 8 }), fc.option(space, { nil: '' }))
  .map(([lead, parts, tail]) => lead + parts.map(([w, s]) => w + s).join('') + tail);

describe('parseCommand under fuzzing', () => {
  it('never throws and always returns a valid Command for arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (raw) => check(raw)),
      { numRuns: 2_000 },
    );
  });

  it('handles command-shaped input built from meaningful words and odd whitespace', () => {
    fc.assert(fc.property(commandLike, (raw) => check(raw)), { numRuns: 3_000 });
  });

  it('handles texts of 4,000 characters and more (Slack\'s limit, and beyond it)', () => {
    const big = fc
      .tuple(word, fc.string({ unit: 'binary', minLength: 3_990, maxLength: 9_000 }))
      .chain(([first, tail]) => fc.constantFrom(`${first} ${tail}`, `prod-db 2h ${tail}`, `${tail}`, `extend 1 ${tail}`, `log ${tail}`));
    fc.assert(fc.property(big, (raw) => check(raw)), { numRuns: 150 });
  });

  it('never yields an infinite or non-finite duration, however many digits', () => {
    for (const digits of [15, 16, 20, 30, 300, 309, 310, 400, 4_000]) {
      for (const unit of ['d', 'h', 'm']) {
        const text = `prod-db ${'9'.repeat(digits)}${unit} INC-1 lag`;
        check(text);
        check(`extend 7 ${'9'.repeat(digits)}${unit}`);
      }
    }
    check(`prod-db P${'9'.repeat(400)}Y reason`);
    check(`prod-db PT${'9'.repeat(400)}S reason`);
  });

  it('is deterministic and insensitive to surrounding whitespace', () => {
    fc.assert(
      fc.property(commandLike, trueSpace, (raw, pad) => {
        expect(parseCommand(raw)).toEqual(parseCommand(raw));
        expect(parseCommand(pad + raw + pad)).toEqual(parseCommand(raw));
      }),
      { numRuns: 500 },
    );
  });

  it('reads a well-formed request back exactly', () => {
    const resource = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/).filter((r) => !['help', 'list', 'end', 'extend', 'log'].includes(r));
    const reasonWord = fc.stringMatching(/^[A-Za-z0-9,.:;!?'"()-]{1,12}$/);
    fc.assert(
      fc.property(resource, fc.integer({ min: 1, max: 48 }), fc.array(reasonWord, { minLength: 1, maxLength: 10 }), (name, hours, words) => {
        const reason = words.join(' ');
        const command = parseCommand(`${name} ${hours}h ${reason}`);
        expect(command).toMatchObject({ kind: 'request', resource: name, durationMs: hours * 3_600_000, durationText: `${hours}h`, reason });
      }),
      { numRuns: 300 },
    );
  });
});
