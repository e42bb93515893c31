// @ts-check
/**
 * The worker thread that owns the embedded database (pglite-thread.ts starts it). PGlite runs
 * PostgreSQL compiled to WebAssembly synchronously: on the bot's own thread every query held up
 * the event loop, and with it every Slack ack. Here it runs beside it.
 *
 * Plain JavaScript, type-checked by tsc through its JSDoc, so that it runs as it is from the
 * sources and from dist/. A worker thread does not inherit tsx's loader (privatenumber/tsx#354):
 * from the TypeScript sources it had to register tsx itself, which started one more thread of
 * loader hooks for every database opened and cost about 0.4 s of CPU before PGlite began to open.
 */
/** @import { PGlite as PGliteClient, Transaction } from '@electric-sql/pglite' */
/** @import { CrossedError, PgliteReply, PgliteRequest, PgliteStarted, PgliteWorkerOptions } from './pglite-protocol.ts' */
import { setFlagsFromString } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';

/** @type {PgliteWorkerOptions} */
const options = workerData;
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/**
 * @typedef {object} OpenTransaction
 * @property {Promise<Transaction>} started settles when PGlite has begun it (its transaction lock taken), or could not
 * @property {(commit: boolean) => void} decide
 * @property {Promise<void>} settled
 */

/** @type {Map<number, OpenTransaction>} */
const transactions = new Map();
/** Thrown inside PGlite's transaction to end it with ROLLBACK; never leaves this file. */
const ROLLBACK = Symbol('rollback');

/** @returns {Promise<PGliteClient>} */
async function open() {
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
 * @param {PGliteClient} pg
 * @param {number} id
 * @returns {Promise<Transaction>}
 */
function begin(pg, id) {
  /** @type {(commit: boolean) => void} */
  let decide = () => {};
  /** @type {Promise<boolean>} */
  const decided = new Promise((resolve) => (decide = resolve));
  /** @type {(tx: Transaction) => void} */
  let started = () => {};
  /** @type {(error: unknown) => void} */
  let failed = () => {};
  /** @type {OpenTransaction} */
  const entry = { started: new Promise((resolve, reject) => ((started = resolve), (failed = reject))), decide, settled: Promise.resolve() };
  transactions.set(id, entry);
  entry.settled = pg
    .transaction(async (tx) => {
      started(tx);
      if (!(await decided)) throw ROLLBACK;
    })
    .then(
      () => undefined,
      (error) => {
        if (error !== ROLLBACK) throw error;
      },
    );
  // BEGIN itself failing reaches the transaction's queries and its end through `started`.
  entry.settled.catch(failed);
  entry.started.catch(() => transactions.delete(id));
  return entry.started;
}

/**
 * @param {number} id
 * @param {boolean} commit
 */
async function end(id, commit) {
  const entry = transactions.get(id);
  if (!entry) throw new Error(`no open transaction ${id}`);
  await entry.started;
  transactions.delete(id);
  entry.decide(commit);
  await entry.settled;
}

/**
 * PGlite parses what a caller asked to keep as text into text again: the identity, per type.
 * @type {Map<string, Record<number, (text: string) => string>>}
 */
const textParsers = new Map();
/** @param {number[] | undefined} types */
function parsersFor(types) {
  if (!types || types.length === 0) return undefined;
  const key = types.join(',');
  let parsers = textParsers.get(key);
  if (!parsers) textParsers.set(key, (parsers = Object.fromEntries(types.map((type) => [type, (/** @type {string} */ text) => text]))));
  return parsers;
}

/**
 * @param {PGliteClient} pg
 * @param {number | undefined} tx
 * @returns {Promise<PGliteClient | Transaction>}
 */
async function target(pg, tx) {
  if (tx === undefined) return pg;
  const entry = transactions.get(tx);
  if (!entry) throw new Error(`no open transaction ${tx}`);
  return entry.started;
}

/**
 * @param {PGliteClient} pg
 * @param {PgliteRequest} request
 * @returns {Promise<unknown>}
 */
async function answer(pg, request) {
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

/**
 * An Error as it can cross to the bot's thread (pglite-protocol.ts's uncrossError makes it an Error again).
 * @param {unknown} error
 * @returns {CrossedError}
 */
function crossError(error) {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  /** @type {Record<string, unknown>} */
  const fields = {};
  for (const [key, value] of Object.entries(error)) {
    if (value === null || ['string', 'number', 'boolean', 'bigint'].includes(typeof value)) fields[key] = value;
    else if (key === 'params' && Array.isArray(value)) fields[key] = value;
  }
  return { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}), fields };
}

/**
 * @param {PgliteReply | PgliteStarted} message
 * @param {ArrayBuffer[]} [transfer]
 */
const reply = (message, transfer = []) => port.postMessage(message, transfer);

try {
  const pg = await open();
  port.on('message', (/** @type {PgliteRequest} */ request) => {
    answer(pg, request).then(
      // A dump is moved, not copied: it is the whole database.
      (value) => reply({ id: request.id, ok: true, value }, value instanceof Uint8Array ? [/** @type {ArrayBuffer} */ (value.buffer)] : []),
      (error) => reply({ id: request.id, ok: false, error: crossError(error) }),
    );
  });
  reply({ started: true });
} catch (error) {
  reply({ started: false, error: crossError(error) });
}
