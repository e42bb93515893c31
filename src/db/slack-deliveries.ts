import { lt, sql } from 'drizzle-orm';
import type { Db } from './client.ts';
import { slackDeliveries } from './schema.ts';

/** How often one process clears out deliveries too old to be replayed. */
const SWEEP_EVERY_MS = 60_000;

/**
 * The replay guard, in the database so every replica and every restart shares it. Slack accepts
 * a request for five minutes either side of its timestamp, so the same bytes can arrive for ten
 * minutes after the first; entries older than that are deleted. Times are the database's own,
 * so replicas with drifting clocks agree.
 */
export class SlackDeliveries {
  private sweptAt = 0;

  constructor(private readonly db: Db) {}

  /** True the first time this delivery is seen, by any replica. */
  async first(key: string): Promise<boolean> {
    if (Date.now() - this.sweptAt > SWEEP_EVERY_MS) {
      this.sweptAt = Date.now();
      await this.db.delete(slackDeliveries).where(lt(slackDeliveries.seenAt, sql`now() - interval '10 minutes'`));
    }
    const inserted = await this.db.insert(slackDeliveries).values({ key }).onConflictDoNothing().returning({ key: slackDeliveries.key });
    return inserted.length > 0;
  }
}
