import type { Logger } from '../logger.ts';

/**
 * Runs `tick` every `intervalMs`, or at once when woken, never two at a time. The database is
 * what makes work certain (every tick re-reads it); the timer and wake only make it prompt.
 */
export class WorkerLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  /** Epoch ms the pending timer fires at; and the latest the next tick must start (see wakeIn). */
  private timerAt = Number.POSITIVE_INFINITY;
  private dueBy: number | undefined;

  constructor(
    private readonly name: string,
    /** A function when it follows a setting that can change while running (access.yml's). */
    private readonly interval: number | (() => number),
    private readonly tick: () => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  /** A periodic check that need not run at boot (drift, polling) passes its interval as the delay. */
  start(delayMs = 0): void {
    this.stopped = false;
    this.schedule(delayMs);
  }

  wake = (): void => {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  };

  /**
   * Runs the tick again within `delayMs` rather than a whole interval later, e.g. because work
   * falls due then (never sooner than asked; a later interval timer is brought forward).
   */
  wakeIn = (delayMs: number): void => {
    if (this.stopped) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (this.running) this.dueBy = Math.min(this.dueBy ?? at, at);
    else if (at < this.timerAt) this.schedule(at - Date.now());
  };

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    this.timerAt = Date.now() + delay;
    this.timer = setTimeout(() => void this.run(), delay);
  }

  private async run(): Promise<void> {
    if (this.running || this.stopped) return;
    this.again = false;
    this.running = this.tick()
      .then(() => undefined)
      .catch((error: unknown) => this.logger.error({ err: error, worker: this.name }, 'worker tick failed; retrying at the next tick'));
    await this.running;
    this.running = undefined;
    const intervalMs = typeof this.interval === 'function' ? this.interval() : this.interval;
    const dueIn = this.dueBy === undefined ? intervalMs : Math.max(0, Math.min(intervalMs, this.dueBy - Date.now()));
    this.dueBy = undefined;
    if (!this.stopped) this.schedule(this.again ? 0 : dueIn);
  }
}
