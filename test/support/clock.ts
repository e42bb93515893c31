import type { Clock } from '../../src/ports.ts';

/** A clock tests move by hand; it starts at a fixed instant and only moves when told to. */
export class FakeClock implements Clock {
  private current: number;

  constructor(start: Date | string = '2026-03-02T09:00:00.000Z') {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(ms: number): void {
    this.current += ms;
  }

  set(to: Date | string): void {
    this.current = new Date(to).getTime();
  }

  /** A provider's in-call retry backoff takes no time here: only the test moves this clock. */
  async sleep(_ms: number): Promise<void> {}
}

/**
 * Real time that a test can move ahead: a wait measured on the bot's clock (a circuit's probe, a
 * backoff) passes at once when skipped, and everything else runs as it would.
 */
export class SkippingClock implements Clock {
  private ahead = 0;

  now(): Date {
    return new Date(Date.now() + this.ahead);
  }

  skip(ms: number): void {
    this.ahead += ms;
  }
}
