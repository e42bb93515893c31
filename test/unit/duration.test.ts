import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/domain/duration.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('parseDuration', () => {
  it.each([
    ['30m', 30 * MIN],
    ['2h', 2 * HOUR],
    ['1h30m', 90 * MIN],
    ['1d', 24 * HOUR],
    ['PT2H', 2 * HOUR],
    ['pt1h30m', 90 * MIN],
    ['P1D', 24 * HOUR],
    ['2H', 2 * HOUR],
    ['PT120S', 2 * MIN],
    ['PT40S', 40_000],
    ['PT0.5M', 30_000],
  ])('reads %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '0m', 'soon', '2 hours', '-1h', 'h', 'PT', '1.5h', '2h30', 'PT0.5S', 'PT1M30.5S', 'PT0.0001H'])('refuses %j', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
});

describe('formatDuration', () => {
  it('round-trips what people type', () => {
    for (const text of ['30m', '2h', '1h30m', '1d', '1d2h5m']) expect(formatDuration(parseDuration(text)!)).toBe(text);
  });

  it('shows seconds as they are, never rounded to a minute', () => {
    expect(formatDuration(parseDuration('PT40S')!)).toBe('40s');
    expect(formatDuration(parseDuration('PT1M30S')!)).toBe('1m30s');
  });
});
