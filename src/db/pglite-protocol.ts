/**
 * The messages between the bot's thread and the worker thread that runs PGlite (pglite-worker.mjs,
 * pglite-thread.ts). Only what structured clone carries crosses: no functions, so a caller's
 * result parsers are applied on the caller's side to the values the worker leaves as text.
 */

/** How the worker opens PGlite: a folder (`dataDir`), or in memory, empty or from a dump (`dump`). */
export interface PgliteWorkerOptions {
  dataDir?: string;
  dump?: Blob;
  /** PostgreSQL settings after PGlite's own start parameters (`-c name=value` pairs). */
  settings: string[];
  /** V8 flags set in the worker before PGlite's WebAssembly is compiled (they are process-wide). */
  v8Flags: string[];
}

export type PgliteRequest =
  | { id: number; op: 'query'; tx?: number; sql: string; params?: unknown[]; rowMode?: 'array' | 'object'; textTypes?: number[]; blob?: Blob; paramTypes?: number[] }
  | { id: number; op: 'exec'; tx?: number; sql: string }
  | { id: number; op: 'begin'; tx: number }
  | { id: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; op: 'dump' }
  | { id: number; op: 'close' };

/** An Error as it crossed: its name, message and stack, and its own fields (PostgreSQL's code, detail, constraint, …). */
export interface CrossedError {
  name: string;
  message: string;
  stack?: string;
  fields: Record<string, unknown>;
}

export type PgliteReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: CrossedError };

/** The worker's first message: PGlite is open, or why it could not be. */
export type PgliteStarted = { started: true } | { started: false; error: CrossedError };

/** The worker's CrossedError (its crossError, in pglite-worker.mjs) as an Error again, on the bot's thread. */
export function uncrossError(crossed: CrossedError): Error {
  const error = Object.assign(new Error(crossed.message), crossed.fields);
  error.name = crossed.name;
  if (crossed.stack) error.stack = crossed.stack;
  return error;
}
