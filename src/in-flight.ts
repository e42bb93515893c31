/** Work started after an ack; shutdown waits for it so SIGTERM never cuts a decision in half. */
export class InFlight {
  private readonly running = new Set<Promise<unknown>>();

  track = (work: Promise<unknown>): void => {
    const settled = work.catch(() => {}).finally(() => this.running.delete(settled));
    this.running.add(settled);
  };

  async drain(timeoutMs: number): Promise<void> {
    const all = Promise.all([...this.running]);
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }
}
