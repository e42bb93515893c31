import { expect, it } from 'vitest';
import { postAckLimit } from '../../src/slack/listeners/post-ack-limit.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('runs commands’ work a few at a time, in the order the commands came', async () => {
  const limit = postAckLimit(3, 10_000);
  let running = 0;
  let most = 0;
  const started: number[] = [];
  await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      limit(async () => {
        started.push(i);
        most = Math.max(most, ++running);
        await sleep(5);
        running--;
      }),
    ),
  );
  expect(most).toBe(3);
  expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

it('lets the next command start when one waits too long on a slow provider, and a failure frees its place', async () => {
  const limit = postAckLimit(1, 30);
  const slow = limit(() => sleep(1_000).then(() => 'slow'));
  const failing = limit(async () => {
    throw new Error('refused');
  });
  const started = performance.now();
  await expect(failing).rejects.toThrow('refused');
  expect(performance.now() - started).toBeLessThan(500);
  expect(await limit(async () => 'after the failure')).toBe('after the failure');
  expect(await slow).toBe('slow');
});
