/**
 * Property-based fuzzing of access.yml validation: whatever text the file holds, parseAccessConfig
 * either returns a config or throws AccessConfigError naming at least one problem with a real
 * line and column. Never another error type (that would reach the operator as a stack trace
 * instead of "line 12: …").
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessConfigError, parseAccessConfig } from '../../src/config/access.ts';

const EXAMPLE = readFileSync(new URL('../../access.example.yml', import.meta.url), 'utf8');

type Outcome = { ok: true } | { ok: false; error: AccessConfigError };

function outcome(text: string): Outcome {
  let thrown: unknown;
  try {
    const config = parseAccessConfig(text, 'access.yml');
    expect(config).toBeTypeOf('object');
    expect(Object.keys(config.resources).length).toBeGreaterThan(0);
    return { ok: true };
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof AccessConfigError)) {
    throw new Error(`parseAccessConfig threw ${(thrown as Error)?.name ?? typeof thrown} (${String(thrown)}) instead of AccessConfigError on:\n${text.slice(0, 500)}`);
  }
  const lines = text.split(/\r\n|\r|\n/).length;
  expect(thrown.problems.length).toBeGreaterThanOrEqual(1);
  for (const problem of thrown.problems) {
    expect(Number.isInteger(problem.line) && problem.line >= 1, `line of ${JSON.stringify(problem)}`).toBe(true);
    expect(problem.line, `line of ${JSON.stringify(problem)} in a ${lines}-line file`).toBeLessThanOrEqual(lines + 1);
    expect(Number.isInteger(problem.column) && problem.column >= 1, `column of ${JSON.stringify(problem)}`).toBe(true);
    expect(typeof problem.path).toBe('string');
    expect(problem.message.trim()).not.toBe('');
  }
  expect(thrown.message).toContain('access.yml:');
  return { ok: false, error: thrown };
}

// -------------------------------------------------------------------------------------------
// YAML-ish text: the pieces YAML gives meaning to, the schema's own keys, and noise.

const schemaKeys = [
  'security_channel', 'security', 'resources', 'people', 'reviews', 'offboarding', 'checkpoint_every', 'drift',
  'description', 'grant', 'okta_group', 'aws_iam_group', 'aws_iam_policy', 'account_role_arn', 'max_duration',
  'approvers', 'approvals_required', 'emergency_self_grant', 'requesters', 'request_ttl', 'slack_users',
  'slack_usergroup', 'aws_iam_user', 'email', 'manager_attribute', 'schedule', 'due_in', 'remind_every', 'scope',
  'sla', 'poll_every', 'every', 'action', 'Version', 'Statement', 'Effect', 'prod-db', '__proto__', 'constructor',
];
const scalars = [
  'C0SEC', 'U0ALICE', 'S0DBA', '00g1', '2h', '0m', '-1h', 'P1D', '99999999999999999999999d', 'true', 'false', 'null', '~', 'yes',
  '0', '-1', '1e309', '.nan', '.inf', '0x1F', '"quoted: value"', "'single'", '|', '>-', 'Allow', 'quarterly', '0 0 * * *',
  'arn:aws:iam::123456789012:role/x', 'bob@example.com', 'report', 'remove',
];
const syntax = [
  ': ', ':', '- ', '-', '? ', '{', '}', '[', ']', ', ', '&a ', '*a', '&b ', '*b', '*missing', '<<: ', '!!str ', '!!int ',
  '!!map ', '!!seq ', '!!binary ', '!!set ', '!!omap ', '!custom ', '%YAML 1.2\n', '---\n', '...\n', '# comment', '"', "'",
  '\\', '\t', '\n', '\n  ', '\n    ', '\n      ', '\r\n', '\ufeff', '\u0000', '\u2028',
];
const token = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...schemaKeys) },
  { weight: 3, arbitrary: fc.constantFrom(...scalars) },
  { weight: 5, arbitrary: fc.constantFrom(...syntax) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);
const yamlish = fc.array(token, { maxLength: 60 }).map((parts) => parts.join(''));

// -------------------------------------------------------------------------------------------
// Mutations of the shipped example: each a small edit a person (or a bad merge) could make.

const exampleLines = EXAMPLE.split('\n');
type Mutation = (lines: string[]) => string[];
const lineIndex = fc.nat({ max: exampleLines.length - 1 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  lineIndex.map((i): Mutation => (lines) => lines.filter((_, j) => j !== i % lines.length)),
  lineIndex.map((i): Mutation => (lines) => [...lines.slice(0, i), lines[i % lines.length] ?? '', ...lines.slice(i)]),
  fc.tuple(lineIndex, lineIndex).map(([a, b]): Mutation => (lines) => {
    const copy = [...lines];
    const x = a % copy.length;
    const y = b % copy.length;
    [copy[x], copy[y]] = [copy[y] ?? '', copy[x] ?? ''];
    return copy;
  }),
  fc.tuple(lineIndex, fc.integer({ min: -4, max: 4 })).map(([i, shift]): Mutation => (lines) =>
    lines.map((line, j) => (j === i % lines.length ? (shift >= 0 ? ' '.repeat(shift) + line : line.slice(-shift)) : line)),
  ),
  fc.tuple(lineIndex, fc.nat(), token).map(([i, at, text]): Mutation => (lines) =>
    lines.map((line, j) => (j === i % lines.length ? line.slice(0, at % (line.length + 1)) + text + line.slice(at % (line.length + 1)) : line)),
  ),
  fc.tuple(lineIndex, fc.nat(), fc.nat({ max: 12 })).map(([i, at, n]): Mutation => (lines) =>
    lines.map((line, j) => (j === i % lines.length ? line.slice(0, at % (line.length + 1)) + line.slice((at % (line.length + 1)) + n) : line)),
  ),
  // Replace a value after a colon with something else.
  fc.tuple(lineIndex, fc.constantFrom(...scalars, '', '[]', '{}', '[[]]', '{a: b}', '*a', '&a x')).map(([i, value]): Mutation => (lines) =>
    lines.map((line, j) => (j === i % lines.length ? line.replace(/:\s.*$/, `: ${value}`) : line)),
  ),
  // Rename a key.
  fc.tuple(lineIndex, fc.constantFrom(...schemaKeys, 'max_duraton', 'aprovers', 'Resources', '')).map(([i, key]): Mutation => (lines) =>
    lines.map((line, j) => (j === i % lines.length ? line.replace(/^(\s*)[\w.-]+:/, `$1${key}:`) : line)),
  ),
  fc.nat({ max: EXAMPLE.length }).map((n): Mutation => () => EXAMPLE.slice(0, n).split('\n')),
);
const mutatedExample = fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => ms.reduce((lines, m) => m(lines), exampleLines).join('\n'));

describe('parseAccessConfig under fuzzing', () => {
  it('the shipped example is valid (the base the mutations start from)', () => {
    expect(outcome(EXAMPLE)).toEqual({ ok: true });
  });

  it('answers arbitrary text with a config or an AccessConfigError with located problems', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => void outcome(text)), { numRuns: 500 });
  });

  it('answers YAML-ish text (anchors, aliases, tags, flow collections, directives) the same way', () => {
    fc.assert(fc.property(yamlish, (text) => void outcome(text)), { numRuns: 1_000 });
  });

  it('answers mutations of access.example.yml the same way', () => {
    fc.assert(fc.property(mutatedExample, (text) => void outcome(text)), { numRuns: 400 });
  });

  it('refuses YAML that would expand without bound or names an unknown anchor, as an AccessConfigError', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [i, name] of ['b', 'c', 'd', 'e', 'f', 'g'].entries()) {
      const prev = String.fromCharCode('a'.charCodeAt(0) + i);
      bomb.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    for (const text of [bomb.join('\n'), 'security_channel: *nope\n']) {
      const result = outcome(text);
      expect(result.ok).toBe(false);
    }
    // The problem points at the alias that cannot be resolved.
    const text = `${EXAMPLE.trimEnd()}\nextra: *undefined_anchor\n`;
    const result = outcome(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.problems[0]).toMatchObject({ line: text.split('\n').length - 1, message: expect.stringMatching(/undefined_anchor/) });
    }
  });

  it('keeps a valid file valid when only comments and blank lines are added', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(lineIndex, fc.constantFrom('', '# note', '   # indented note', '#: not a key')), { maxLength: 6 }), (inserts) => {
        const lines = [...exampleLines];
        for (const [i, text] of inserts) lines.splice(i, 0, text);
        expect(outcome(lines.join('\n'))).toEqual({ ok: true });
      }),
      { numRuns: 50 },
    );
  });
});
