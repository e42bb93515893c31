import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  code: number;
  seconds: number;
  stdout: string;
  stderr: string;
}

/**
 * `npx breakglass <args>` as a person runs it, from the repo root, in its own process, with only
 * the given database settings. `stdoutTo: '/dev/null'` sends stdout there (what export is timed with).
 */
export function runBreakglass(args: string[], env: Record<string, string>, options: { stdoutTo?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const fd = options.stdoutTo ? openSync(options.stdoutTo, 'w') : undefined;
    const started = performance.now();
    const child = spawn('npx', ['--no-install', 'breakglass', ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      stdio: ['ignore', fd ?? 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (fd !== undefined) closeSync(fd);
      resolve({ code: code ?? 1, seconds: (performance.now() - started) / 1000, stdout, stderr });
    });
  });
}
