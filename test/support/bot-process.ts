/**
 * The bot as a real child process (`node main.js`, compiled from src/ once per test run: see
 * bot-build.ts), so a test can kill -9 it and start it again on the same database, exactly as an
 * operator's crash and restart would. The wire
 * servers (Slack, Okta, IAM) stay in the test process; the child reaches them through the
 * environment, the only way main.ts takes settings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { builtBotMain } from './bot-build.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** A port nothing listens on now; the bot keeps it across restarts. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface BotProcessOptions {
  /** The bot's environment (main.ts reads nothing else). PATH is added; HOME defaults to a folder without okta.yaml. */
  env: Record<string, string>;
  /** Kept across restarts. */
  port: number;
  /** How long a start may take before it counts as failed (default 60 s). */
  startTimeoutMs?: number;
  /** Receives each line the child prints (stdout and stderr), for logs and diagnosis. */
  onLine?: (line: string, pid: number) => void;
}

export interface StartInfo {
  pid: number;
  /** From spawn to the first 200 on /healthz. */
  startMs: number;
}

/** One bot that can be started, killed with SIGKILL, stopped with SIGTERM and started again. */
export class BotProcess {
  readonly baseUrl: string;
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  private tail: string[] = [];

  constructor(private readonly options: BotProcessOptions) {
    this.baseUrl = `http://127.0.0.1:${options.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the child printed (for a failure message). */
  recentOutput(lines = 40): string {
    return this.tail.slice(-lines).join('\n');
  }

  /** Spawns the bot and waits until GET /healthz answers 200. */
  async start(): Promise<StartInfo> {
    if (this.running) throw new Error('the bot is already running');
    // (The first call of a test run compiles src/, about a second, before the start is timed.)
    const main = await builtBotMain();
    const began = Date.now();
    // Source maps: the stack traces in the bot's log name src/*.ts lines, as they did under tsx.
    const child = spawn(process.execPath, ['--enable-source-maps', main], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...this.options.env, PORT: String(this.options.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    const pid = child.pid ?? -1;
    const collect = (stream: NodeJS.ReadableStream) => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        partial += chunk;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          this.tail.push(line);
          if (this.tail.length > 400) this.tail.splice(0, this.tail.length - 400);
          this.options.onLine?.(line, pid);
        }
      });
    };
    collect(child.stdout!);
    collect(child.stderr!);

    const deadline = began + (this.options.startTimeoutMs ?? 60_000);
    let exitedEarly = false;
    void this.exited.then(() => (exitedEarly = true));
    for (;;) {
      if (exitedEarly) throw new Error(`the bot exited during start (code ${child.exitCode}, signal ${child.signalCode}):\n${this.recentOutput()}`);
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`the bot did not answer /healthz within ${this.options.startTimeoutMs ?? 60_000} ms:\n${this.recentOutput()}`);
      }
      try {
        const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        if (res.status === 200) return { pid, startMs: Date.now() - began };
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** kill -9: no handler runs, nothing is flushed or closed. Resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM: the bot finishes its work in progress and closes the database. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    child.kill('SIGTERM');
    const code = await Promise.race([this.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs))]);
    if (code === 'timeout') {
      await this.kill();
      throw new Error(`the bot did not stop within ${timeoutMs} ms of SIGTERM:\n${this.recentOutput()}`);
    }
    return code;
  }
}
