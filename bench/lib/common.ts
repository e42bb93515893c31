/**
 * What every benchmark script shares: statistics, the pass/fail table, the machine description,
 * and the hand-off to bench/run.ts (each script writes its figures as JSON to BENCH_RESULT_FILE
 * when run.ts sets it, and always prints its own table).
 *
 * Contract for a script run by bench/run.ts: run it with `tsx`, print a table, call
 * `report(script, figures)` (or write the same JSON shape yourself), exit 0 even when a target is
 * missed: it is a report, not a test.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import postgres from 'postgres';

/** BENCH_QUICK=1: smaller runs (e.g. 100k ledger events instead of 1M) for fast iteration. */
export const QUICK = process.env.BENCH_QUICK === '1';
/** How many times each figure is measured; the table shows the median of the runs. */
export const RUNS = Number(process.env.BENCH_RUNS ?? 3);

export const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface Figure {
  /** e.g. "slash-command ack p99 (20 concurrent)" */
  name: string;
  /** The median over the runs. */
  value: number;
  unit: string;
  /** Human text, e.g. "< 100 ms". */
  target?: string;
  /** Undefined: informational, no target. */
  pass?: boolean;
  /** Every run's value, for the spread. */
  runs?: number[];
  /** Database the figure was measured on. */
  db?: 'postgres' | 'pglite' | 'n/a';
  note?: string;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** The middle value; for an even count, the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A figure whose value is the median of `runs`; `lowerIsBetter` decides the pass test against `limit`. */
export function figure(
  name: string,
  runs: number[],
  unit: string,
  target?: { limit: number; lowerIsBetter: boolean; text?: string },
  extra: Pick<Figure, 'db' | 'note'> = {},
): Figure {
  const value = median(runs);
  return {
    name,
    value,
    unit,
    runs,
    ...(target
      ? {
          target: target.text ?? `${target.lowerIsBetter ? '<' : '≥'} ${fmt(target.limit)} ${unit}`,
          pass: target.lowerIsBetter ? value < target.limit : value >= target.limit,
        }
      : {}),
    ...extra,
  };
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

const RED = process.stdout.isTTY ? '\x1b[31m' : '';
const GREEN = process.stdout.isTTY ? '\x1b[32m' : '';
const RESET = process.stdout.isTTY ? '\x1b[0m' : '';

export function verdict(f: Figure): string {
  if (f.pass === undefined) return '—';
  return f.pass ? `${GREEN}pass${RESET}` : `${RED}MISS${RESET}`;
}

export function table(figures: readonly Figure[]): string {
  const rows = [
    ['figure', 'db', 'median', 'runs', 'target', 'result'],
    ...figures.map((f) => [
      f.name,
      f.db ?? '',
      `${fmt(f.value)} ${f.unit}`,
      (f.runs ?? []).map(fmt).join(' / '),
      f.target ?? '',
      verdict(f),
    ]),
  ];
  const plain = (s: string) => s.replace(/\x1b\[\d+m/g, '');
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => plain(r[c]!).length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell + ' '.repeat(widths[c]! - plain(cell).length)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/** Prints the script's table (and notes), and hands the figures to bench/run.ts. */
export function report(script: string, figures: Figure[]): void {
  process.stdout.write(`\n## ${script}${QUICK ? ' (BENCH_QUICK)' : ''}\n\n${table(figures)}\n`);
  for (const f of figures) if (f.note) process.stdout.write(`  - ${f.name}: ${f.note}\n`);
  const misses = figures.filter((f) => f.pass === false);
  if (misses.length > 0) process.stdout.write(`\n${RED}*** ${misses.length} target(s) MISSED: ${misses.map((m) => m.name).join('; ')}${RESET}\n`);
  const file = process.env.BENCH_RESULT_FILE;
  if (file) writeFileSync(file, JSON.stringify({ script, figures }, null, 2));
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  postgres: string;
  os: string;
  loadavg: number[];
}

export async function machine(): Promise<Machine> {
  let pg = 'unreachable';
  const client = postgres(DATABASE_URL, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  try {
    const [row] = await client<{ server_version: string }[]>`show server_version`;
    pg = `PostgreSQL ${row!.server_version}`;
  } catch {
    /* reported as unreachable */
  } finally {
    await client.end({ timeout: 1 });
  }
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    postgres: pg,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function describeMachine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB RAM, Node ${m.node}, ${m.postgres}, ${m.os}; load average at start ${m.loadavg.join(' ')}`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `task` for each item with at most `concurrency` at a time. */
export async function pool<T, R>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await task(items[i]!, i);
      }
    }),
  );
  return results;
}

export function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Hides the AWS SDK's Node 20 notice, which would otherwise interleave with the tables. */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
