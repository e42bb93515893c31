/**
 * `npm run bench`: runs every benchmark script, each in its own process (so one's memory, JIT
 * and event loop do not colour the next), then prints the summary and the machine.
 *
 *   BENCH_QUICK=1      smaller runs (100k ledger events instead of 1M, fewer requests)
 *   BENCH_RUNS=n       runs per figure (default 3; tables show the median)
 *   BENCH_DBS=postgres only PostgreSQL (default: postgres,pglite where the script supports both)
 *   BENCH_ONLY=a,b     only these scripts (names without .ts)
 *   BENCH_JSON=path    also write every figure and the machine as JSON
 *
 * The scripts: the explicit list below, then bench/review-campaign.ts if it exists, then any
 * bench/*.bench.ts. A script prints its own table and, when BENCH_RESULT_FILE is set, writes its
 * figures there as JSON ({ script, figures: Figure[] }, see lib/common.ts) for this summary.
 * Every script exits 0 when a target is missed: this is a report; misses are marked MISS.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine, machine, QUICK, RUNS, table, type Figure } from './lib/common.ts';

const BENCH = fileURLToPath(new URL('.', import.meta.url));
const LISTED = ['ack-latency', 'click-to-grant', 'expiry-lag', 'provider-backpressure', 'ledger-append', 'verify-export', 'rss'];

function scripts(): string[] {
  const names = [...LISTED];
  if (existsSync(join(BENCH, 'review-campaign.ts'))) names.push('review-campaign');
  for (const file of readdirSync(BENCH).sort()) if (file.endsWith('.bench.ts')) names.push(file.slice(0, -'.ts'.length));
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
  return only ? names.filter((n) => only.includes(n)) : names;
}

function runScript(name: string, resultFile: string): Promise<{ code: number; seconds: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', join(BENCH, `${name}.ts`)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_RESULT_FILE: resultFile },
    });
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), seconds: (performance.now() - started) / 1000 }));
  });
}

const before = await machine();
process.stdout.write(`# breakglass benchmarks${QUICK ? ' (BENCH_QUICK)' : ''}, ${RUNS} run(s) per figure\n\nMachine: ${describeMachine(before)}\n`);

const folder = mkdtempSync(join(tmpdir(), 'breakglass-bench-results-'));
const results: Array<{ script: string; figures: Figure[]; code: number; seconds: number }> = [];
try {
  for (const name of scripts()) {
    process.stdout.write(`\n--- ${name} ---\n`);
    const file = join(folder, `${name}.json`);
    const { code, seconds } = await runScript(name, file);
    const figures = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { figures: Figure[] }).figures : [];
    results.push({ script: name, figures, code, seconds });
    if (code !== 0) process.stdout.write(`\n*** ${name} FAILED (exit ${code}) after ${seconds.toFixed(0)} s: its figures are missing from the summary\n`);
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}

const after = await machine();
const all = results.flatMap((r) => r.figures.map((f) => ({ ...f, name: `${r.script}: ${f.name}` })));
process.stdout.write(`\n# Summary${QUICK ? ' (BENCH_QUICK)' : ''}\n\n${table(all)}\n`);
const targeted = all.filter((f) => f.pass !== undefined);
const missed = targeted.filter((f) => f.pass === false);
process.stdout.write(`\n${targeted.length - missed.length} of ${targeted.length} targets met${missed.length ? `; MISSED: ${missed.map((m) => `${m.name} [${m.db}]`).join('; ')}` : ''}\n`);
for (const r of results) if (r.code !== 0) process.stdout.write(`FAILED to run: ${r.script} (exit ${r.code})\n`);
process.stdout.write(`\nMachine: ${describeMachine(before)}; load average at the end ${after.loadavg.join(' ')}\n`);
process.stdout.write(`Scripts took ${results.map((r) => `${r.script} ${r.seconds.toFixed(0)} s`).join(', ')}\n`);
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify({ machine: before, loadAtEnd: after.loadavg, quick: QUICK, runs: RUNS, results }, null, 2));
