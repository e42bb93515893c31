import { Worker } from 'node:worker_threads';
import { createBenchDatabase } from '../lib/databases.ts';
import { fillLedger } from '../lib/fill-ledger.ts';
import { clientOf, copyAll } from '../../src/evidence/copy-out.ts';
import { verifyLedger } from '../../src/evidence/verify.ts';
import { cpuSnapshot } from '../lib/cpu.ts';
import { sql } from 'drizzle-orm';
const N = 300_000;
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const api = import.meta.resolve('tsx/esm/api');
const COLUMNS = `seq, round(extract(epoch from occurred_at) * 1000)::bigint, kind, actor, subject, resource, request_id, details::text, prev_hash, hash`;
for (const kind of (process.env.KINDS ?? 'postgres').split(',') as ('postgres' | 'pglite')[]) {
  const bench = await createBenchDatabase(kind);
  const database = await bench.open();
  await fillLedger(database, N);
  await database.db.execute(sql`vacuum analyze evidence_events`);
  const client = clientOf(database.db);
  for (const W of [1, 2, 3]) {
    const workers = Array.from({ length: W }, () => new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`, { eval: true }));
    for (let r = 0; r < 2; r++) {
      const cpu = await cpuSnapshot(database);
      const t = performance.now();
      let after = 0, job = 0, done = 0, total = 0;
      const inflight: Promise<void>[] = [];
      for (;;) {
        const buf = await copyAll(client, `select ${COLUMNS} from evidence_events where seq > ${after} order by seq limit 20000`);
        if (buf.length === 0) break;
        const end = buf.lastIndexOf(10, buf.length - 2);
        after = Number(buf.subarray(end + 1, buf.indexOf(9, end + 1)).toString());
        const w = workers[job % W]!; const id = job++;
        const copy = new Uint8Array(buf);
        inflight.push(new Promise((res) => { const h = (m: { id: number; n: number }) => { if (m.id === id) { w.off('message', h); total += m.n; done++; res(); } }; w.on('message', h); w.postMessage({ id, buf: copy }, [copy.buffer]); }));
        if (inflight.length - done > W + 1) await Promise.race(inflight.slice(done));
        if (buf.toString('latin1').split('\n').length - 1 < 20000) break;
      }
      await Promise.all(inflight);
      const s = (performance.now() - t) / 1000;
      console.log(kind, `workers=${W}`, total, `${(N / s).toFixed(0)} ev/s`, (await cpu.since()).describe());
    }
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const t = performance.now(); await verifyLedger(database.db); console.log(kind, 'serial', (N / ((performance.now() - t) / 1000)).toFixed(0));
  await database.close(); await bench.drop();
}
