import { userInfo } from 'node:os';
import { InvalidArgumentError } from 'commander';
import { readCliEnv, type CliEnv } from '../config/env.ts';
import { openDatabase, type Database } from '../db/client.ts';

/** Who a CLI command's evidence names as its actor: the operating-system user running it. */
export function cliUser(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown';
  }
}

/** Opens the same database the bot uses; on the embedded one, a running bot is named clearly. */
export async function withDatabase<T>(run: (database: Database, env: CliEnv) => Promise<T>): Promise<T> {
  const env = readCliEnv(process.env);
  const database = await openDatabase({ databaseUrl: env.DATABASE_URL, migrationUrl: env.DATABASE_MIGRATION_URL, dataDir: env.DATA_DIR, holder: 'the breakglass CLI', onNotice: () => {} });
  try {
    return await run(database, env);
  } finally {
    await database.close();
  }
}

/** An access review campaign's number, as `--campaign` takes it. */
export function campaignId(text: string): number {
  if (!/^\d{1,9}$/.test(text)) throw new InvalidArgumentError(`"${text}" is not a campaign number`);
  return Number(text);
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** `2026-01-01` is that day's start in UTC; a full ISO-8601 instant is taken as written. */
export function parseInstant(text: string): Date {
  const date = new Date(DATE_ONLY.test(text) ? `${text}T00:00:00.000Z` : text);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError(`"${text}" is not a date; use 2026-01-31 or 2026-01-31T12:00:00Z`);
  return date;
}

/** An end bound: a bare date includes the whole of that day. */
export function parseEndInstant(text: string): Date {
  const start = parseInstant(text);
  return DATE_ONLY.test(text) ? new Date(start.getTime() + 86_400_000) : start;
}

/**
 * Progress for long commands goes to stderr, so stdout stays clean data: on a terminal one line
 * rewritten in place; elsewhere nothing, unless `force` (a CI log, say): then a line each.
 */
export function progress(message: string, force = false): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${message}`);
  else if (force) process.stderr.write(`${message.trimEnd()}\n`);
}

export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\n');
}
