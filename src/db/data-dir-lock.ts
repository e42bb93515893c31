import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The holder name the bot takes the folder under; a CLI that finds it can hand work to the bot (src/bot-mailbox.ts). */
export const BOT_HOLDER = 'the breakglass bot';

export class DataDirBusyError extends Error {
  constructor(
    folder: string,
    readonly holder: { pid: number; holder: string; since: string },
  ) {
    super(
      `The embedded database in ${folder} is in use by ${holder.holder} (pid ${holder.pid}, since ${holder.since}). ` +
        'The embedded database (PGlite) allows one process at a time: stop that process first, or run breakglass on ' +
        'PostgreSQL (set DATABASE_URL), where the bot and the CLI run side by side.',
    );
    this.name = 'DataDirBusyError';
  }
}

interface LockContent {
  pid: number;
  holder: string;
  since: string;
}

/**
 * Takes the embedded database's folder for this process. A lock left by a process that no longer
 * exists (kill -9, power loss) is taken over, so a crash never needs a manual clean-up.
 */
export function acquireDataDirLock(folder: string, holder: string): { release(): void } {
  const path = join(folder, 'breakglass.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      const content: LockContent = { pid: process.pid, holder, since: new Date().toISOString() };
      writeSync(fd, JSON.stringify(content));
      closeSync(fd);
      const release = () => {
        process.off('exit', release);
        try {
          if (readLock(path)?.pid === process.pid) unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      };
      process.on('exit', release);
      return { release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const current = readLock(path);
      if (current && current.pid !== process.pid && isAlive(current.pid)) throw new DataDirBusyError(folder, current);
      try {
        unlinkSync(path);
      } catch {
        // Another process took it over first; the next attempt will tell.
      }
    }
  }
  throw new Error(`Could not take the lock ${path}; remove it if no breakglass process is running`);
}

function readLock(path: string): LockContent | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
