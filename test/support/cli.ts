import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { builtCli } from './bot-build.ts';

/** What a user in a checkout runs (`npx breakglass`: the sources through tsx). */
export const BIN = fileURLToPath(new URL('../../bin/breakglass.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `npx breakglass …` as a user would: a separate process, its own environment. It runs the
 * CLI compiled once per test run (bot-build.ts: the same sources, as the Docker image runs them);
 * `entry: BIN` runs bin/breakglass.js through tsx, as in a checkout.
 */
export async function runCli(args: string[], env: Record<string, string>, entry?: string): Promise<CliResult> {
  const cli = entry ?? (await builtCli());
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Runs the CLI with its stdout closed by the reader at once, as `npx breakglass … | head -0` does. */
export async function runCliWithClosedStdout(args: string[], env: Record<string, string>): Promise<Omit<CliResult, 'stdout'>> {
  const cli = await builtCli();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stderr }));
  });
}
