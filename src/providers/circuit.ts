import { AsyncLocalStorage } from 'node:async_hooks';
import { CircuitOpenError, ProviderError, type Providers } from '../ports.ts';
import { aroundOperations } from './around-operations.ts';

/** While an operation fails at a provider, one call of it (the probe) goes through at most this often. */
export const PROBE_EVERY_MS = 10_000;
/** At most this many of one operation run at once against one provider (grants, revokes, listings each). */
export const MAX_CONCURRENT_CALLS = 8;

/** One provider operation in progress (a whole grant, revoke or listing, with its in-call retries). */
interface Lane {
  readonly circuit: Circuit;
}

const currentLane = new AsyncLocalStorage<Lane>();

/**
 * Back-pressure on one operation of one provider (`okta revoke`, `aws-iam grant`, …). Closed, every
 * call goes through. The first transient failure (5xx, 429, a dropped connection) opens it, and the
 * operation that saw it carries on with its in-call retries as the probe; every other operation of
 * that kind then fails at once without calling, and so do their in-call retries. Afterwards one
 * operation at a time is let through, at most every PROBE_EVERY_MS or later when the provider asked
 * (Retry-After, X-Rate-Limit-Reset). Any answer that is not a transient failure closes it.
 */
class Circuit {
  private openSince: Date | undefined;
  private nextProbeAt = 0;
  private prober: Lane | undefined;
  private lastFailure = '';
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    readonly name: string,
    private readonly now: () => Date,
  ) {}

  async run<T>(operation: () => Promise<T>): Promise<T> {
    await this.slot();
    const lane: Lane = { circuit: this };
    try {
      this.admit(lane);
      const result = await currentLane.run(lane, operation);
      this.close();
      return result;
    } catch (error) {
      if (!(error instanceof CircuitOpenError) && !isTransient(error)) this.close();
      throw error;
    } finally {
      if (this.prober === lane) this.prober = undefined;
      this.release();
    }
  }

  /** Before each call the operation makes: refused while open, unless this operation is the probe. */
  admit(lane: Lane): void {
    if (!this.openSince || this.prober === lane) return;
    if (this.prober || this.now().getTime() < this.nextProbeAt) throw new CircuitOpenError(this.name, this.openSince, this.lastFailure);
    this.prober = lane;
  }

  failed(lane: Lane, message: string, retryAfterMs: number | undefined): void {
    this.lastFailure = message;
    if (!this.openSince) {
      this.openSince = this.now();
      this.prober = lane;
    }
    this.nextProbeAt = Math.max(this.nextProbeAt, this.now().getTime() + Math.max(PROBE_EVERY_MS, retryAfterMs ?? 0));
  }

  private close(): void {
    this.openSince = undefined;
    this.nextProbeAt = 0;
  }

  private async slot(): Promise<void> {
    if (this.running < MAX_CONCURRENT_CALLS) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.queue.push(resolve));
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }
}

function isTransient(error: unknown): boolean {
  return error instanceof ProviderError ? error.transient : true;
}

/**
 * Asked by the in-call retry before each try of the operation running now (if any runs under a
 * circuit): throws CircuitOpenError instead of calling a provider known to be failing.
 */
export function admitCall(): void {
  const lane = currentLane.getStore();
  lane?.circuit.admit(lane);
}

/** Told by the in-call retry when a try failed transiently. */
export function reportTransientFailure(message: string, retryAfterMs: number | undefined): void {
  const lane = currentLane.getStore();
  lane?.circuit.failed(lane, message, retryAfterMs);
}

/** The same providers, each operation of each going through its circuit. */
export function guardedProviders(providers: Providers, now: () => Date): Providers {
  const circuits = new Map<string, Circuit>();
  return aroundOperations(providers, (provider, operation, call) => {
    const name = `${provider.name} ${operation}`;
    let circuit = circuits.get(name);
    if (!circuit) circuits.set(name, (circuit = new Circuit(name, now)));
    return circuit.run(call);
  });
}
