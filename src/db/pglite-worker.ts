/**
 * The worker thread that owns the embedded database (pglite-thread.ts starts it). PGlite runs
 * PostgreSQL compiled to WebAssembly synchronously: on the bot's own thread every query held up
 * the event loop, and with it every Slack ack. Here it runs beside it.
 */
import { setFlagsFromString } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { crossError, type PgliteReply, type PgliteRequest, type PgliteStarted, type PgliteWorkerOptions } from './pglite-protocol.ts';

const options = workerData as PgliteWorkerOptions;
const port = parentPort!;

interface OpenTransaction {
  /** Settles when PGlite has begun it (its transaction lock taken), or could not. */
  started: Promise<Transaction>;
  decide(commit: boolean): void;
  settled: Promise<void>;
}

const transactions = new Map<number, OpenTransaction>();
/** Thrown inside PGlite's transaction to end it with ROLLBACK; never leaves this file. */
const ROLLBACK = Symbol('rollback');

async function open(): Promise<PGlite> {
  for (const flag of options.v8Flags) setFlagsFromString(flag);
  const startParams = [...PGlite.defaultStartParams, ...options.settings];
  const pg = options.dataDir
    ? new PGlite(options.dataDir, { startParams })
    : new PGlite({ startParams, ...(options.dump ? { loadDataDir: options.dump } : {}) });
  await pg.waitReady;
  return pg;
}

/**
 * PGlite's own transaction, held open across messages until the caller says commit or roll back.
 * Registered at once: the caller sends its first query without waiting for BEGIN, and the query
 * waits here for it instead, one round trip between the threads fewer per transaction.
 */
function begin(pg: PGlite, id: number): Promise<Transaction> {
  let decide!: (commit: boolean) => void;
  const decided = new Promise<boolean>((resolve) => (decide = resolve));
  let started!: (tx: Transaction) => void;
  let failed!: (error: unknown) => void;
  const entry: OpenTransaction = { started: new Promise((resolve, reject) => ((started = resolve), (failed = reject))), decide, settled: Promise.resolve() };
  transactions.set(id, entry);
  entry.settled = pg
    .transaction(async (tx) => {
      started(tx);
      if (!(await decided)) throw ROLLBACK;
    })
    .then(
      () => undefined,
      (error: unknown) => {
        if (error !== ROLLBACK) throw error;
      },
    );
  // BEGIN itself failing reaches the transaction's queries and its end through `started`.
  entry.settled.catch(failed);
  entry.started.catch(() => transactions.delete(id));
  return entry.started;
}

async function end(id: number, commit: boolean): Promise<void> {
  const entry = transactions.get(id);
  if (!entry) throw new Error(`no open transaction ${id}`);
  await entry.started;
  transactions.delete(id);
  entry.decide(commit);
  await entry.settled;
}

/** PGlite parses what a caller asked to keep as text into text again: the identity, per type. */
const textParsers = new Map<string, Record<number, (text: string) => string>>();
function parsersFor(types: number[] | undefined): Record<number, (text: string) => string> | undefined {
  if (!types || types.length === 0) return undefined;
  const key = types.join(',');
  let parsers = textParsers.get(key);
  if (!parsers) textParsers.set(key, (parsers = Object.fromEntries(types.map((type) => [type, (text: string) => text]))));
  return parsers;
}

async function target(pg: PGlite, tx: number | undefined): Promise<PGlite | Transaction> {
  if (tx === undefined) return pg;
  const entry = transactions.get(tx);
  if (!entry) throw new Error(`no open transaction ${tx}`);
  return entry.started;
}

async function answer(pg: PGlite, request: PgliteRequest): Promise<unknown> {
  switch (request.op) {
    case 'query': {
      const parsers = parsersFor(request.textTypes);
      return (await target(pg, request.tx)).query(request.sql, request.params ?? [], {
        ...(request.rowMode ? { rowMode: request.rowMode } : {}),
        ...(parsers ? { parsers } : {}),
        ...(request.blob ? { blob: request.blob } : {}),
        ...(request.paramTypes ? { paramTypes: request.paramTypes } : {}),
      });
    }
    case 'exec':
      return (await target(pg, request.tx)).exec(request.sql);
    case 'begin':
      await begin(pg, request.tx);
      return undefined;
    case 'end':
      return end(request.tx, request.commit);
    case 'dump':
      return new Uint8Array(await (await pg.dumpDataDir('none')).arrayBuffer());
    case 'close':
      await pg.close();
      return undefined;
  }
}

try {
  const pg = await open();
  port.on('message', (request: PgliteRequest) => {
    answer(pg, request).then(
      // A dump is moved, not copied: it is the whole database.
      (value) => port.postMessage({ id: request.id, ok: true, value } satisfies PgliteReply, value instanceof Uint8Array ? [value.buffer as ArrayBuffer] : []),
      (error: unknown) => port.postMessage({ id: request.id, ok: false, error: crossError(error) } satisfies PgliteReply),
    );
  });
  port.postMessage({ started: true } satisfies PgliteStarted);
} catch (error) {
  port.postMessage({ started: false, error: crossError(error) } satisfies PgliteStarted);
}
