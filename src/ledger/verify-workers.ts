import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ChainPosition, ChainProblem } from './chain-check.ts';

export interface WindowVerdict {
  position: ChainPosition;
  problem?: ChainProblem;
}

/**
 * Worker threads that check windows of the ledger's COPY text (verify-worker.ts), one per core up
 * to four: hashing, not reading, is most of verify's work. Undefined on a single core, where the
 * caller checks in its own thread.
 */
export function startVerifyWorkers(): VerifyWorkers | undefined {
  const size = Math.min(4, availableParallelism());
  return size > 1 ? new VerifyWorkers(size) : undefined;
}

export class VerifyWorkers {
  private readonly workers: Worker[];
  private readonly waiting = new Map<number, { resolve: (verdict: WindowVerdict) => void; reject: (error: Error) => void }>();
  private nextId = 0;

  constructor(readonly size: number) {
    this.workers = Array.from({ length: size }, () => {
      const worker = spawn();
      worker.on('message', (answer: WindowVerdict & { id: number; error?: string }) => {
        const waiting = this.waiting.get(answer.id);
        this.waiting.delete(answer.id);
        if (answer.error !== undefined) waiting?.reject(new Error(answer.error));
        else waiting?.resolve({ position: answer.position, ...(answer.problem ? { problem: answer.problem } : {}) });
      });
      worker.on('error', (error) => this.failAll(error));
      worker.on('exit', (code) => this.failAll(new Error(`a verify worker thread stopped (exit code ${code})`)));
      return worker;
    });
  }

  /** Checks `text` from `from` on the next worker in turn. The buffer is handed over: do not use it afterwards. */
  check(text: Buffer, from: ChainPosition): Promise<WindowVerdict> {
    const id = this.nextId++;
    const verdict = new Promise<WindowVerdict>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    // Only a buffer that owns its whole memory can be moved; a slice of Node's shared pool is copied.
    const movable = text.byteOffset === 0 && text.byteLength === text.buffer.byteLength;
    this.workers[id % this.size]!.postMessage({ id, text, from }, movable ? [text.buffer as ArrayBuffer] : []);
    return verdict;
  }

  async stop(): Promise<void> {
    this.failAll(new Error('verify stopped'));
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private failAll(error: Error): void {
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }
}

/**
 * From the compiled dist/, the worker is plain JavaScript. From the TypeScript sources (npm start,
 * npx breakglass, the tests) a worker thread does not inherit tsx's loader (privatenumber/tsx#354),
 * so it registers tsx itself before importing the worker's source.
 */
function spawn(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./verify-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  if (!fromSource) return new Worker(entry);
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true });
}
