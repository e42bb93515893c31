import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../src/domain/backoff.ts';

describe('backoffMs', () => {
  const opts = { baseMs: 1_000, maxMs: 20_000 } as const;

  it('doubles from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 40].map((n) => backoffMs(n, { ...opts, jitter: 'none' }))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 20_000, 20_000]);
  });

  it('upper-half jitter waits between half the ceiling and the ceiling', () => {
    expect(backoffMs(3, { ...opts, jitter: 'upper-half' }, () => 0)).toBe(4_000);
    expect(backoffMs(3, { ...opts, jitter: 'upper-half' }, () => 0.999_999)).toBeCloseTo(8_000, 0);
  });

  it('full jitter may retry at once but never past the ceiling', () => {
    expect(backoffMs(3, { ...opts, jitter: 'full' }, () => 0)).toBe(0);
    expect(backoffMs(9, { ...opts, jitter: 'full' }, () => 0.5)).toBe(10_000);
  });
});
