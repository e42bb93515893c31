import { randomUUID } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { StartedReview } from './app/start-review.ts';
import type { Logger } from './logger.ts';

/**
 * `review start` on the embedded database while the bot runs. PGlite allows one process, so the
 * CLI leaves its request in DATA_DIR/requests and the bot's review worker answers it there. No
 * port is opened: the folder is 0700, every file 0600, and the bot reads only files its own user
 * owns, so only who could open the database anyway can ask.
 */

const FOLDER = 'requests';
const REQUEST = /^([0-9a-f-]{36})\.json$/;
/** Nobody waits longer than this for an answer: older requests and answers are left-overs. */
const STALE_MS = 60_000;

const requestSchema = z
  .object({
    requestedBy: z.string().regex(/^cli:[^\r\n]{1,100}$/),
    scope: z.array(z.string().min(1).max(200)).max(1_000).optional(),
    period: z.string().max(200).optional(),
  })
  .strict();

export type ReviewStartRequest = z.infer<typeof requestSchema>;

/** The bot's answer: the campaign, a refusal in plain text to show as it is (unknown resource), or a failure. */
export type ReviewStartAnswer = { started: StartedReview } | { refused: string } | { failed: string };

const folderOf = (dataDir: string) => join(dataDir, FOLDER);

/**
 * CLI side: leaves the request and waits for the bot's answer, calling `onWait` every few seconds.
 * Gives up after `timeoutMs`, taking the request back if the bot has not picked it up yet.
 */
export async function askRunningBot(
  dataDir: string,
  request: ReviewStartRequest,
  options: { timeoutMs?: number; onWait?: (waitedMs: number) => void } = {},
): Promise<ReviewStartAnswer> {
  const folder = folderOf(dataDir);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const id = randomUUID();
  const path = join(folder, `${id}.json`);
  // Written aside and renamed, so the bot never reads half a request.
  writeFileSync(`${path}.tmp`, JSON.stringify(request), { mode: 0o600, flag: 'wx' });
  renameSync(`${path}.tmp`, path);
  const answerPath = join(folder, `${id}.answer`);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const began = Date.now();
  let told = began;
  while (Date.now() - began < timeoutMs) {
    const answer = readAnswer(answerPath);
    if (answer) return answer;
    if (Date.now() - told >= 5_000) {
      told = Date.now();
      options.onWait?.(told - began);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const seconds = Math.round(timeoutMs / 1000);
  if (removeIfThere(path)) throw new Error(`the running bot did not pick up the request within ${seconds} s, so nothing was started (it answers requests from its own user while it runs with an access.yml; see its log).`);
  throw new Error(`the running bot took the request but did not answer within ${seconds} s; it may still start the review (the security channel gets a notice when it does).`);
}

/** Bot side: answers every waiting request with `handle`; returns how many it answered. */
export async function answerReviewStartRequests(dataDir: string, handle: (request: ReviewStartRequest) => Promise<ReviewStartAnswer>, logger: Logger): Promise<number> {
  const folder = folderOf(dataDir);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let answered = 0;
  for (const name of names) {
    const path = join(folder, name);
    const id = REQUEST.exec(name)?.[1];
    if (!id) {
      // An answer nobody came for, or what a crash left half-done.
      if (isStale(path)) removeIfThere(path);
      continue;
    }
    const refusal = untrusted(path);
    if (refusal) {
      logger.warn({ file: path, why: refusal }, 'review start request ignored');
      removeIfThere(path);
      continue;
    }
    // Taken first, so the CLI knows, if it gives up, that the request may still be carried out.
    const taken = join(folder, `${id}.taken`);
    try {
      renameSync(path, taken);
    } catch {
      continue;
    }
    let answer: ReviewStartAnswer;
    try {
      const parsed = requestSchema.safeParse(JSON.parse(readFileSync(taken, 'utf8')));
      answer = parsed.success ? await handle(parsed.data) : { refused: `the request is malformed: ${parsed.error.issues[0]?.message ?? 'unknown shape'}` };
    } catch (error) {
      logger.error({ err: error, file: taken }, 'review start request failed');
      answer = { failed: error instanceof Error ? error.message : String(error) };
    }
    const answerPath = join(folder, `${id}.answer`);
    writeFileSync(`${answerPath}.tmp`, JSON.stringify(answer), { mode: 0o600 });
    renameSync(`${answerPath}.tmp`, answerPath);
    removeIfThere(taken);
    answered++;
  }
  return answered;
}

/** Why a request file must not be acted on, or undefined when it may. */
function untrusted(path: string): string | undefined {
  const stat = lstatSync(path);
  if (!stat.isFile()) return 'not a regular file';
  if (typeof process.getuid === 'function' && stat.uid !== process.getuid()) return `owned by uid ${stat.uid}, not the bot's user`;
  if ((stat.mode & 0o077) !== 0) return `readable or writable by others (mode ${(stat.mode & 0o777).toString(8)})`;
  if (Date.now() - stat.mtimeMs > STALE_MS) return 'older than anyone waits for an answer';
  return undefined;
}

function isStale(path: string): boolean {
  try {
    return Date.now() - lstatSync(path).mtimeMs > STALE_MS;
  } catch {
    return false;
  }
}

function readAnswer(path: string): ReviewStartAnswer | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  removeIfThere(path);
  const answer = JSON.parse(text) as ReviewStartAnswer;
  if ('started' in answer) answer.started.requestedAt = new Date(answer.started.requestedAt);
  return answer;
}

/** True when this call removed the file. */
function removeIfThere(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}
