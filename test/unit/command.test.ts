import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/domain/command.ts';

describe('parseCommand', () => {
  it('reads a request with its ticket', () => {
    expect(parseCommand('prod-db 2h INC-1234 replication lag on primary')).toEqual({
      kind: 'request', resource: 'prod-db', durationMs: 7_200_000, durationText: '2h', reason: 'INC-1234 replication lag on primary', ticket: 'INC-1234',
    });
  });

  it('reads a request without a ticket, folding whitespace', () => {
    expect(parseCommand('  prod-db\t1h30m   checking  the  replica ')).toMatchObject({ kind: 'request', durationMs: 5_400_000, reason: 'checking the replica' });
    expect(parseCommand('prod-db 1h checking')).not.toHaveProperty('ticket');
  });

  it.each([
    ['', { kind: 'form' }],
    ['   ', { kind: 'form' }],
    ['help', { kind: 'help' }],
    ['HELP', { kind: 'help' }],
    ['list', { kind: 'list' }],
    ['end 42', { kind: 'end', requestId: 42 }],
    ['end #42', { kind: 'end', requestId: 42 }],
    ['extend 42 1h', { kind: 'extend', requestId: 42, durationMs: 3_600_000, durationText: '1h' }],
    ['log prod-db 7', { kind: 'log', resource: 'prod-db', days: 7 }],
    ['log', { kind: 'log', days: 30 }],
  ])('reads %j', (text, command) => expect(parseCommand(text)).toEqual(command));

  it.each([
    ['prod-db', /Say for how long/],
    ['prod-db soon fixing', /"soon" is not a duration/],
    ['prod-db 2h', /A reason is required/],
    ['prod-db PT0.5S fixing', /"PT0\.5S" is not a duration\. Write it like .* \(no fractions\)/],
    ['prod-db PT1M30.5S fixing', /"PT1M30\.5S" is not a duration\. Write it like .* \(no fractions\)/],
    ['extend 42 PT0.5S', /Say which grant and by how long/],
    ['prod-db 1h INC-1 lag\u0000 on primary', /invisible control character \(U\+0000\).*nothing was changed/],
    ['prod-db 1h INC-1 \u001b[31mred', /control character \(U\+001B\)/],
    ['prod\u0000-db 1h INC-1 lag', /control character \(U\+0000\)/],
    ['end', /Say which grant to end/],
    ['end abc', /Say which grant to end/],
    ['extend 42', /Say which grant and by how long/],
    ['list everything', /`list` takes nothing/],
  ])('explains what is wrong with %j', (text, message) => {
    const command = parseCommand(text);
    expect(command.kind).toBe('invalid');
    expect((command as { message: string }).message).toMatch(message);
  });

  it('refuses an essay as a reason', () => {
    expect(parseCommand(`prod-db 1h ${'x'.repeat(1_001)}`)).toMatchObject({ kind: 'invalid', message: expect.stringMatching(/keep it under 1000/) });
  });
});
