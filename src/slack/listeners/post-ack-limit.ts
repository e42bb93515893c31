/**
 * How many slash commands' work (after their ack) runs at once. Twenty commands arriving together
 * each started creating a request, its evidence and its cards, and the burst of that work held
 * the event loop long enough to delay the acks of the commands behind them by hundreds of ms
 * (`npm run bench`, ack-latency and rss). A few at a time finish as soon in total, and an ack
 * never waits behind more than those few.
 */
export const POST_ACK_CONCURRENCY = 4;

/**
 * A place is held at most this long: work waiting on a slow provider (an emergency grant calling
 * Okta, say) lets the next command start instead of holding everyone behind it.
 */
export const POST_ACK_HOLD_MS = 1_000;

/** Runs tasks `size` at a time, in the order they came; a task holds its place until it ends or `holdMs` passes. */
export function postAckLimit(size = POST_ACK_CONCURRENCY, holdMs = POST_ACK_HOLD_MS): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  const take = (): Promise<void> => {
    if (running < size) {
      running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  // A freed place goes straight to the next waiter, so nobody arriving meanwhile can take it too.
  const free = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return async (task) => {
    await take();
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      clearTimeout(timer);
      free();
    };
    const timer = setTimeout(release, holdMs);
    timer.unref?.();
    try {
      return await task();
    } finally {
      release();
    }
  };
}
