import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { basename, dirname, resolve } from 'node:path';

/** Where an access.yml version came from: the commit that holds it, else the file and the host. */
export type PolicySource =
  | { kind: 'git'; path: string; commit: string; author: string; committed_at: string; modified_since_commit: boolean }
  | { kind: 'file'; path: string; host: string };

/** A `git` that hangs (a network filesystem, a lock) must not hold up the bot's start. */
const GIT_TIMEOUT_MS = 3_000;

/**
 * Asks git for the last commit that touched the file, and whether the file differs from it. Not a
 * git checkout, no git installed, or git failing: the file's path and this host, which is all that
 * can be known then. Never throws.
 */
export async function describePolicySource(path: string): Promise<PolicySource> {
  const absolute = resolve(path);
  const fallback: PolicySource = { kind: 'file', path: absolute, host: hostname() };
  const cwd = dirname(absolute);
  const file = basename(absolute);
  const last = await git(cwd, ['log', '-1', '--format=%H%x00%an <%ae>%x00%cI', '--', file]);
  const [commit, author, committedAt] = (last ?? '').trim().split('\0');
  if (!commit || !author || !committedAt) return fallback;
  const status = await git(cwd, ['status', '--porcelain', '--', file]);
  if (status === undefined) return fallback;
  return { kind: 'git', path: absolute, commit, author, committed_at: committedAt, modified_since_commit: status.trim() !== '' };
}

function git(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolveOutput) => {
    execFile('git', args, { cwd, timeout: GIT_TIMEOUT_MS, windowsHide: true }, (error, stdout) => resolveOutput(error ? undefined : stdout));
  });
}

/** One line for people: "commit 1a2b3c4 by Ada <ada@…> (2026-03-01T…)" or "file /etc/… on host x". */
export function describeSource(source: PolicySource | undefined): string {
  if (!source) return 'source not recorded (recorded before breakglass kept policy sources)';
  if (source.kind === 'file') return `file ${source.path} on host ${source.host} (not in a git checkout)`;
  const edited = source.modified_since_commit ? ', with uncommitted changes' : '';
  return `commit ${source.commit.slice(0, 12)} by ${source.author} (${source.committed_at})${edited}, ${source.path}`;
}
