import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/logger.ts';
import { WorkerLoop } from '../../src/workers/loop.ts';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

it('a loop whose interval follows a setting uses the new value from its next wait (drift.every after a reload)', async () => {
  let every = 1_000;
  let ticks = 0;
  const loop = new WorkerLoop('drift', () => every, async () => void ticks++, createLogger('info'));
  loop.start(0);
  await vi.advanceTimersByTimeAsync(3_500);
  expect(ticks).toBe(4);
  every = 100;
  // The wait already under way (until 4 000) runs out first; then every 100 ms.
  await vi.advanceTimersByTimeAsync(1_000);
  expect(ticks).toBe(4 + 1 + 5);
  await loop.stop();
});
