/**
 * The lease a process holds on a grant while it calls the provider (`whileLeased`): renewed while
 * the call runs, so a slow provider never lets another worker start the same grant; never renewed
 * once lapsed or taken over; and not renewed at all once the process is gone, so a grant left by a
 * crash is free for recovery within one lease (the crash-safety e2e test kills real processes).
 */
import { eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { whileLeased } from '../../src/db/grants-repo.ts';
import { grants } from '../../src/db/schema.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { leasedGrant } from '../support/leased-grant.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const realClock = { now: () => new Date() };

describeEachDatabase('grant lease renewal', (ctx) => {
  const granting = (leaseUntil: Date) => leasedGrant(ctx.database.db, { until: leaseUntil });
  const leaseOf = async (id: number) => (await ctx.database.db.select({ at: grants.nextAttemptAt }).from(grants).where(eq(grants.id, id)))[0]!.at!;

  it('keeps the lease ahead while a slow provider call runs, and stops when it returns', async () => {
    const first = new Date(Date.now() + 900);
    const id = await granting(first);
    const result = await whileLeased(ctx.database.db, realClock, { grantId: id, state: 'granting', until: first, leaseMs: 900 }, async () => {
      await sleep(2_000);
      // Without renewal the lease would have lapsed a second ago.
      expect((await leaseOf(id)).getTime()).toBeGreaterThan(Date.now());
      return 'done';
    });
    expect(result).toBe('done');
    const after = await leaseOf(id);
    await sleep(1_200);
    expect(await leaseOf(id)).toEqual(after);
  });

  it('does not renew a lease another worker took over, nor one that already lapsed', async () => {
    const first = new Date(Date.now() + 900);
    const taken = await granting(first);
    const theirs = new Date(Date.now() + 60_000);
    await whileLeased(ctx.database.db, realClock, { grantId: taken, state: 'granting', until: first, leaseMs: 900 }, async () => {
      await ctx.database.db.update(grants).set({ nextAttemptAt: theirs }).where(eq(grants.id, taken));
      await sleep(1_000);
    });
    expect(await leaseOf(taken)).toEqual(theirs);

    const lapsed = new Date(Date.now() - 1_000);
    const stale = await granting(lapsed);
    await whileLeased(ctx.database.db, realClock, { grantId: stale, state: 'granting', until: lapsed, leaseMs: 900 }, () => sleep(1_000));
    expect(await leaseOf(stale)).toEqual(lapsed);
  });

  it('passes the provider error through', async () => {
    const first = new Date(Date.now() + 5_000);
    const id = await granting(first);
    await expect(whileLeased(ctx.database.db, realClock, { grantId: id, state: 'granting', until: first, leaseMs: 5_000 }, async () => Promise.reject(new Error('okta said 500')))).rejects.toThrow('okta said 500');
  });
});
