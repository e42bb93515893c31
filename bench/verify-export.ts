/**
 * `evidence verify` and `evidence export` over 1,000,000 events (100,000 with BENCH_QUICK=1).
 *
 * The ledger is filled with a valid chain (hashes computed with the product's own code, rows
 * bulk-inserted by COPY), then measured through the real code paths: verifyLedger and
 * exportEvents (CSV to a null stream) in this process, and the real `npx breakglass evidence
 * verify` / `evidence export … > /dev/null` processes. PostgreSQL, and PGlite (the embedded
 * default) unless BENCH_DBS=postgres.
 *
 * Targets: verify ≥ 200,000 events/s; export of 1M events < 10 s.
 */
import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import type { Database } from '../src/db/client.ts';
import { exportEvents } from '../src/reports/export/export.ts';
import { verifyLedger } from '../src/ledger/verify.ts';
import { runBreakglass } from './lib/cli.ts';
import { figure, fmt, log, QUICK, report, RUNS, type Figure } from './lib/common.ts';
import { createBenchDatabase, type BenchDbKind } from './lib/databases.ts';
import { fillLedger } from './lib/fill-ledger.ts';
import { cpuSnapshot, type CpuUsed } from './lib/cpu.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? (QUICK ? 100_000 : 1_000_000));
const KINDS = (process.env.BENCH_DBS ?? 'postgres,pglite').split(',') as BenchDbKind[];
/** Export's target is for 1M events; a smaller run is held to the same rate. */
const EXPORT_LIMIT_S = (10 * EVENTS) / 1_000_000;
const RANGE = ['--from', '2000-01-01', '--to', '2100-12-31'];

function nullStream(): Writable & { bytes: number } {
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      stream.bytes += chunk.length;
      callback();
    },
  }) as Writable & { bytes: number };
  stream.bytes = 0;
  return stream;
}

function perEvent(used: CpuUsed): string {
  const us = (ms: number) => `${((ms * 1000) / EVENTS).toFixed(1)} µs`;
  return used.serverMs > 0 ? `this process ${us(used.selfMs)} + PostgreSQL ${us(used.serverMs)}` : `this process ${us(used.selfMs)}`;
}

async function measure(kind: BenchDbKind): Promise<Figure[]> {
  const bench = await createBenchDatabase(kind);
  const figures: Figure[] = [];
  try {
    const database = await bench.open();
    log(`${kind}: filling ${EVENTS.toLocaleString('en-US')} events…`);
    const fill = await fillLedger(database, EVENTS, { onProgress: (n) => n % 200_000 === 0 && log(`${kind}: ${n.toLocaleString('en-US')} inserted`) });
    log(`${kind}: filled in ${fill.seconds.toFixed(1)} s (${fmt(EVENTS / fill.seconds)} events/s incl. hashing)`);
    await vacuum(database, kind);

    const verifyRates: number[] = [];
    const verifyCpu: string[] = [];
    for (let run = 0; run < RUNS; run++) {
      const cpu = await cpuSnapshot(database);
      const started = performance.now();
      const result = await verifyLedger(database.db);
      const seconds = (performance.now() - started) / 1000;
      const used = await cpu.since();
      if (!result.ok || result.count !== EVENTS || result.headHash !== fill.headHash) throw new Error(`verify disagreed with the fill: ${JSON.stringify(result)}`);
      verifyRates.push(EVENTS / seconds);
      verifyCpu.push(perEvent(used));
      log(`${kind}: verifyLedger ${seconds.toFixed(2)} s (${used.describe()})`);
    }
    figures.push(figure(`verifyLedger over ${fmt(EVENTS)} events`, verifyRates, 'events/s', { limit: 200_000, lowerIsBetter: false }, { db: kind, note: `CPU per event: ${verifyCpu.join(' / ')}` }));

    const exportSeconds: number[] = [];
    const exportCpu: string[] = [];
    for (let run = 0; run < RUNS; run++) {
      const out = nullStream();
      const cpu = await cpuSnapshot(database);
      const started = performance.now();
      const count = await exportEvents(database.db, { from: new Date('2000-01-01'), to: new Date('2101-01-01') }, 'csv', out);
      const seconds = (performance.now() - started) / 1000;
      const used = await cpu.since();
      if (count !== EVENTS) throw new Error(`export wrote ${count} events, expected ${EVENTS}`);
      exportSeconds.push(seconds);
      exportCpu.push(perEvent(used));
      log(`${kind}: exportEvents csv ${seconds.toFixed(2)} s, ${(out.bytes / 1e6).toFixed(0)} MB (${used.describe()})`);
    }
    figures.push(figure(`exportEvents CSV, ${fmt(EVENTS)} events → null stream`, exportSeconds, 's', { limit: EXPORT_LIMIT_S, lowerIsBetter: true }, { db: kind, note: `CPU per event: ${exportCpu.join(' / ')}` }));
    {
      const out = nullStream();
      const started = performance.now();
      await exportEvents(database.db, { from: new Date('2000-01-01'), to: new Date('2101-01-01') }, 'jsonl', out);
      const seconds = (performance.now() - started) / 1000;
      figures.push(figure(`exportEvents JSON Lines, ${fmt(EVENTS)} events → null stream`, [seconds], 's', undefined, { db: kind, note: 'one run; informational' }));
    }
    // The CLI opens the database itself; the embedded one allows one process at a time.
    await database.close();

    const cliVerify: number[] = [];
    const cliExport: number[] = [];
    const cliRuns = Math.max(1, Math.min(RUNS, Number(process.env.BENCH_CLI_RUNS ?? RUNS)));
    for (let run = 0; run < cliRuns; run++) {
      const verify = await runBreakglass(['evidence', 'verify'], bench.env);
      if (verify.code !== 0 || !verify.stdout.startsWith(`OK: ${EVENTS} event(s)`)) throw new Error(`npx breakglass evidence verify: exit ${verify.code}\n${verify.stdout}\n${verify.stderr}`);
      cliVerify.push(EVENTS / verify.seconds);
      log(`${kind}: npx breakglass evidence verify ${verify.seconds.toFixed(2)} s`);
      const exported = await runBreakglass(['evidence', 'export', ...RANGE], bench.env, { stdoutTo: '/dev/null' });
      if (exported.code !== 0) throw new Error(`npx breakglass evidence export: exit ${exported.code}\n${exported.stderr}`);
      cliExport.push(exported.seconds);
      log(`${kind}: npx breakglass evidence export > /dev/null ${exported.seconds.toFixed(2)} s`);
    }
    const processNote = 'whole process: npx + tsx start-up, migrations check, then the work';
    figures.push(figure(`npx breakglass evidence verify, ${fmt(EVENTS)} events`, cliVerify, 'events/s', { limit: 200_000, lowerIsBetter: false }, { db: kind, note: processNote }));
    figures.push(figure(`npx breakglass evidence export > /dev/null, ${fmt(EVENTS)} events`, cliExport, 's', { limit: EXPORT_LIMIT_S, lowerIsBetter: true }, { db: kind, note: processNote }));
  } finally {
    await bench.drop();
  }
  return figures;
}

/** After a bulk load, as autovacuum would soon do: visibility map and statistics, so reads are index-only where they can be. */
async function vacuum(database: Database, kind: BenchDbKind) {
  await database.db.execute(sql`vacuum analyze evidence_events`);
  log(`${kind}: vacuum analyze done`);
}

const figures: Figure[] = [];
for (const kind of KINDS) figures.push(...(await measure(kind)));
report('verify-export', figures);
