/**
 * The embedded database from the bot's thread: PGlite runs in a worker thread (pglite-worker.mjs)
 * and this object stands in for it with the part of PGlite's client that drizzle-orm/pglite and
 * breakglass use (query, exec, transaction, dumpDataDir, close). The worker's PGlite has one
 * connection and queues callers as it would in this thread: a transaction holds it, across
 * messages, until its callback ends (COMMIT) or throws (ROLLBACK).
 */
import { Worker } from 'node:worker_threads';
import type { QueryOptions, Results } from '@electric-sql/pglite';
import { uncrossError, type PgliteReply, type PgliteRequest, type PgliteStarted, type PgliteWorkerOptions } from './pglite-protocol.ts';

/** A request as sent, without the id each message gets. */
type Ask = PgliteRequest extends infer R ? (R extends PgliteRequest ? Omit<R, 'id'> : never) : never;

export interface PgliteTransaction {
  query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>>;
  exec(sql: string): Promise<Results[]>;
  readonly closed: boolean;
}

/**
 * The worker's young generation is kept small: PGlite's queries allocate little on the JavaScript
 * heap (PostgreSQL's memory is the WebAssembly memory), and each MB of semi-space is resident.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 3 };

export class PgliteThread {
  private readonly waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 1;
  private nextTransaction = 1;
  /** Why nothing more can be asked: the thread died, or close() ended it. */
  private gone: Error | undefined;
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    private readonly onLost: (error: Error) => void,
  ) {
    worker.on('message', (reply: PgliteReply) => this.settle(reply));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`its thread exited (code ${code})`)));
  }

  /**
   * Starts the worker and waits until PGlite is open. `onLost` hears of a worker that stopped
   * without close(): every query then fails, and the process should end rather than carry on.
   */
  static async start(options: PgliteWorkerOptions, onLost: (error: Error) => void = () => {}): Promise<PgliteThread> {
    const worker = spawn(options);
    let listeners: { message(started: PgliteStarted): void; error(error: Error): void; exit(code: number): void } | undefined;
    const started = await new Promise<PgliteStarted>((resolve, reject) => {
      listeners = { message: resolve, error: reject, exit: (code) => reject(new Error(`The embedded database's thread exited while opening (code ${code})`)) };
      worker.once('message', listeners.message).once('error', listeners.error).once('exit', listeners.exit);
    }).finally(() => worker.off('message', listeners!.message).off('error', listeners!.error).off('exit', listeners!.exit));
    if (!started.started) {
      await worker.terminate();
      throw uncrossError(started.error);
    }
    worker.unref();
    return new PgliteThread(worker, onLost);
  }

  query<T>(sql: string, params?: unknown[], options?: QueryOptions): Promise<Results<T>> {
    return this.runQuery<T>(undefined, sql, params, options);
  }

  exec(sql: string): Promise<Results[]> {
    return this.ask({ op: 'exec', sql }) as Promise<Results[]>;
  }

  /** As PGlite's: the callback's queries run in one transaction, committed when it returns and rolled back when it throws. */
  async transaction<T>(callback: (tx: PgliteTransaction) => Promise<T>): Promise<T> {
    const id = this.nextTransaction++;
    // Not waited for: the worker holds this transaction's queries until PGlite has begun it.
    const begun = this.ask({ op: 'begin', tx: id });
    begun.catch(() => {});
    let closed = false;
    const check = () => {
      if (closed) throw new Error('Transaction is closed');
    };
    const tx: PgliteTransaction = {
      query: <R>(sql: string, params?: unknown[], options?: QueryOptions) => (check(), this.runQuery<R>(id, sql, params, options)),
      exec: (sql: string) => (check(), this.ask({ op: 'exec', tx: id, sql }) as Promise<Results[]>),
      get closed() {
        return closed;
      },
    };
    let result: T;
    try {
      result = await callback(tx);
    } catch (error) {
      closed = true;
      // The callback's error is the one to hear, not a ROLLBACK's (after a failed BEGIN or a lost thread).
      await this.ask({ op: 'end', tx: id, commit: false }).catch(() => {});
      throw error;
    }
    closed = true;
    await begun;
    await this.ask({ op: 'end', tx: id, commit: true });
    return result;
  }

  async dumpDataDir(): Promise<Blob> {
    return new Blob([(await this.ask({ op: 'dump' })) as Uint8Array<ArrayBuffer>]);
  }

  async close(): Promise<void> {
    if (this.gone) return;
    try {
      await this.ask({ op: 'close' });
    } finally {
      this.closing = true;
      this.gone = new Error('The embedded database is closed');
      await this.worker.terminate();
    }
  }

  private async runQuery<T>(tx: number | undefined, sql: string, params: unknown[] | undefined, options: QueryOptions | undefined): Promise<Results<T>> {
    const parsers = options?.parsers;
    const textTypes = parsers ? Object.keys(parsers).map(Number) : undefined;
    const result = (await this.ask({
      op: 'query',
      sql,
      ...(tx === undefined ? {} : { tx }),
      ...(params && params.length > 0 ? { params } : {}),
      ...(options?.rowMode ? { rowMode: options.rowMode } : {}),
      ...(textTypes && textTypes.length > 0 ? { textTypes } : {}),
      ...(options?.blob ? { blob: options.blob } : {}),
      ...(options?.paramTypes ? { paramTypes: options.paramTypes } : {}),
    })) as Results<T>;
    if (parsers && textTypes && textTypes.length > 0) applyParsers(result, parsers);
    return result;
  }

  private ask(request: Ask): Promise<unknown> {
    if (this.gone) return Promise.reject(this.gone);
    const id = this.nextId++;
    // Referenced only while a request is out: an idle embedded database keeps no process alive, as in one thread.
    if (this.waiting.size === 0) this.worker.ref();
    const answer = new Promise<unknown>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.worker.postMessage({ ...request, id } as PgliteRequest);
    return answer;
  }

  private settle(reply: PgliteReply): void {
    const waiting = this.waiting.get(reply.id);
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    if (reply.ok) waiting?.resolve(reply.value);
    else waiting?.reject(uncrossError(reply.error));
  }

  private fail(cause: Error): void {
    if (this.closing || this.gone) return;
    const lost = new Error(`The embedded database (PGlite) stopped: ${cause.message}. Nothing more can be read or written; breakglass must be restarted.`, { cause });
    this.gone = lost;
    for (const waiting of this.waiting.values()) waiting.reject(lost);
    this.waiting.clear();
    this.onLost(lost);
  }
}

/** The caller's parsers, on the values the worker left as text for them (functions cannot cross threads). */
function applyParsers(result: Results<unknown>, parsers: NonNullable<QueryOptions['parsers']>): void {
  const columns = result.fields.flatMap((field, index) => {
    const parse = parsers[field.dataTypeID];
    return parse ? [{ index, name: field.name, type: field.dataTypeID, parse }] : [];
  });
  if (columns.length === 0) return;
  for (const row of result.rows as Array<Record<string | number, unknown>>) {
    const asArray = Array.isArray(row);
    for (const column of columns) {
      const key = asArray ? column.index : column.name;
      const value = row[key];
      if (typeof value === 'string') row[key] = (column.parse as (text: string, type: number) => unknown)(value, column.type);
    }
  }
}

/** The worker is plain JavaScript (pglite-worker.mjs says why): the same file from the sources and from dist/. */
function spawn(options: PgliteWorkerOptions): Worker {
  return new Worker(new URL('./pglite-worker.mjs', import.meta.url), { workerData: options, resourceLimits: WORKER_LIMITS });
}
