/**
 * Ledger appends per second with 20 concurrent writers: each writer appends one event per
 * transaction (the product's only form: Ledger.append inside db.transaction), through the
 * product's own Database (postgres.js pool of 10 connections; PGlite's single session).
 * After each run the chain is verified: one linear chain, no fork.
 *
 * Target: ≥ 2,000 appends/s.
 */
import { sql } from 'drizzle-orm';
import { rowsOf } from '../src/db/client.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { verifyLedger } from '../src/ledger/verify.ts';
import postgres from 'postgres';
import type { Database } from '../src/db/client.ts';
import { DATABASE_URL, figure, fmt, log, median, QUICK, report, RUNS, type Figure } from './lib/common.ts';
import { createBenchDatabase, type BenchDbKind } from './lib/databases.ts';
import { cpuSnapshot } from './lib/cpu.ts';
import { uncatalogued } from '../test/support/uncatalogued.ts';

const WRITERS = 20;
const PER_WRITER = Number(process.env.BENCH_APPENDS_PER_WRITER ?? (QUICK ? 50 : 200));
const KINDS = (process.env.BENCH_DBS ?? 'postgres,pglite').split(',') as BenchDbKind[];

/** `runs` rounds of WRITERS×PER_WRITER appends on a fresh database; each round ends with a chain check. */
async function appendRounds(kind: BenchDbKind, runs: number, options: { diagnosticNoSyncCommit?: boolean } = {}): Promise<{ rates: number[]; cpuPerAppend: number[]; commitMs?: number[] }> {
  const bench = await createBenchDatabase(kind);
  if (options.diagnosticNoSyncCommit) await noSyncCommit(bench.env.DATABASE_URL!);
  const database = await bench.open();
  const ledger = new Ledger();
  const rates: number[] = [];
  const cpuPerAppend: number[] = [];
  const commitMs: number[] = [];
  try {
    let total = 0;
    for (let run = 0; run < runs; run++) {
      const cpu = await cpuSnapshot(database);
      const started = performance.now();
      await Promise.all(
        Array.from({ length: WRITERS }, async (_, w) => {
          for (let i = 0; i < PER_WRITER; i++) {
            await database.db.transaction((tx) =>
              ledger.append(tx, uncatalogued({ kind: 'request.created', actor: `U0W${w}`, subject: `U0W${w}`, resource: 'prod-db', requestId: run * 100_000 + w * 1_000 + i, details: { reason: 'INC-1234 replication lag on primary', duration: '2h', approvers: ['U0BOB'], n: i } })),
            );
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      const used = await cpu.since();
      total += WRITERS * PER_WRITER;
      rates.push((WRITERS * PER_WRITER) / seconds);
      cpuPerAppend.push((used.totalMs * 1000) / (WRITERS * PER_WRITER));
      log(`${kind}: ${WRITERS * PER_WRITER} appends in ${seconds.toFixed(2)} s (${used.describe()})`);
      const check = await verifyLedger(database.db);
      const [row] = rowsOf<{ n: number }>(await database.db.execute(sql`select count(distinct prev_hash)::int as n from evidence_events`));
      if (!check.ok || check.count !== total) throw new Error(`the chain is not intact after ${total} appends: ${JSON.stringify(check)}`);
      if (Number(row?.n) !== total) throw new Error(`the chain forked: ${row?.n} distinct prev_hash for ${total} events`);
      if (kind === 'postgres') commitMs.push(await durableCommitMs(database));
    }
  } finally {
    await database.close();
    await bench.drop();
  }
  return { rates, cpuPerAppend, ...(kind === 'postgres' ? { commitMs } : {}) };
}

/**
 * The floor under one append: a one-row durable commit (a WAL flush) on this machine, p50 of 200,
 * one at a time. The chain lock is held until commit, so appends cannot go faster than one such
 * flush (plus the round trips inside the lock) each.
 */
async function durableCommitMs(database: Database): Promise<number> {
  await database.db.execute(sql`create table if not exists bench_commit_probe (x int)`);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    await database.db.execute(sql`insert into bench_commit_probe values (1)`);
    times.push(performance.now() - started);
  }
  await database.db.execute(sql`drop table bench_commit_probe`);
  return median(times);
}

/** Diagnostic only (never the product's setting): commits that do not wait for the WAL flush, on this throwaway database. */
async function noSyncCommit(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`alter database ${name} set synchronous_commit = off`);
  await admin.end();
}

async function measure(kind: BenchDbKind): Promise<Figure[]> {
  const { rates, cpuPerAppend, commitMs } = await appendRounds(kind, RUNS);
  const figures = [
    figure(`ledger appends/s, ${WRITERS} concurrent writers`, rates, 'appends/s', { limit: 2_000, lowerIsBetter: false }, {
      db: kind,
      note: `${WRITERS}×${PER_WRITER} one-event transactions per run; CPU per append (this process${kind === 'postgres' ? ' + PostgreSQL backends' : ''}): ${cpuPerAppend.map((c) => `${c.toFixed(0)} µs`).join(' / ')}`,
    }),
  ];
  if (commitMs) {
    figures.push(figure('durable one-row commit (WAL flush), p50', commitMs, 'ms', undefined, { db: kind, note: `the floor under each append while the chain lock is held: at most ~${fmt(1000 / median(commitMs))} appends/s one after another` }));
    const diagnostic = await appendRounds(kind, Math.min(RUNS, 2), { diagnosticNoSyncCommit: true });
    figures.push(
      figure(`DIAGNOSTIC ledger appends/s with synchronous_commit=off`, diagnostic.rates, 'appends/s', undefined, {
        db: kind,
        note: 'not the product: commits that skip waiting for the WAL flush, on the throwaway database only, to show what bounds the figure above',
      }),
    );
  }
  return figures;
}

const figures: Figure[] = [];
for (const kind of KINDS) figures.push(...(await measure(kind)));
report('ledger-append', figures);
