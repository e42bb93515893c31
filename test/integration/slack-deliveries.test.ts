import { eq, sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { slackDeliveries } from '../../src/db/schema.ts';
import { SlackDeliveries } from '../../src/db/slack-deliveries.ts';
import { describeEachDatabase } from '../support/databases.ts';

describeEachDatabase('the replay guard', (context) => {
  it('knows a delivery once, across instances (replicas, restarts)', async () => {
    const db = context.database.db;
    expect(await new SlackDeliveries(db).first('v0=abc')).toBe(true);
    expect(await new SlackDeliveries(db).first('v0=abc')).toBe(false);
    expect(await new SlackDeliveries(db).first('v0=other')).toBe(true);
  });

  it('forgets deliveries once Slack’s window (five minutes either side) is over', async () => {
    const db = context.database.db;
    await new SlackDeliveries(db).first('v0=old');
    await db.update(slackDeliveries).set({ seenAt: sql`now() - interval '9 minutes'` }).where(eq(slackDeliveries.key, 'v0=old'));
    expect(await new SlackDeliveries(db).first('v0=old')).toBe(false);
    await db.update(slackDeliveries).set({ seenAt: sql`now() - interval '11 minutes'` }).where(eq(slackDeliveries.key, 'v0=old'));
    expect(await new SlackDeliveries(db).first('v0=new')).toBe(true);
    expect((await db.select().from(slackDeliveries).where(eq(slackDeliveries.key, 'v0=old')))).toEqual([]);
  });
});
