import { Writable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { exportEvents } from '../../src/reports/export/export.ts';
import { describeEachDatabase } from '../support/databases.ts';

describeEachDatabase('evidence export into a slow stream', (ctx) => {
  it('waits for drain page after page without piling up listeners, and writes every event', async () => {
    // Enough rows for several pages; export does not check the chain, so any distinct hashes do.
    await ctx.database.db.execute(sql`
      insert into evidence_events (seq, occurred_at, kind, actor, details, prev_hash, hash)
      select i, timestamptz '2026-01-01' + i * interval '1 second', 'request.created', 'U0ALICE', jsonb_build_object('n', i), md5('p' || i) || md5('q' || i), md5('h' || i) || md5('k' || i)
      from generate_series(1, 4500) as i`);
    let lines = 0;
    let maxErrorListeners = 0;
    const slow = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        lines += chunk.toString().split('\n').length - 1;
        maxErrorListeners = Math.max(maxErrorListeners, slow.listenerCount('error'));
        setImmediate(callback);
      },
    });
    const count = await exportEvents(ctx.database.db, {}, 'csv', slow);
    expect(count).toBe(4500);
    expect(lines).toBe(4501);
    expect(maxErrorListeners).toBeLessThanOrEqual(1);
    expect(slow.listenerCount('error')).toBe(0);
    expect(slow.listenerCount('drain')).toBe(0);
  });
});
