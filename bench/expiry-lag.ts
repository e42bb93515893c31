/**
 * Expiry → revoke lag over 200 grants (50 with BENCH_QUICK): 200 people get one hour of access
 * through the real flow (slash command, Approve click, Okta grant), all with the same end time,
 * the worst case: every one of them falls due in the same instant. Then the clock is moved to
 * 3 s before that end and runs on in real time; the bot's own worker (the product's default
 * 1 s tick, batches of 25, FOR UPDATE SKIP LOCKED claims) revokes them.
 *
 * Lag per grant = when the Okta server received the revoke (DELETE …/groups/{g}/users/{u}) −
 * the grant's end. Also reported: the `late_by_ms` the bot recorded in each grant.revoked event
 * (which also covers committing the evidence).
 *
 * Target: p99 < 2 s.
 */
import { and, eq } from 'drizzle-orm';
import { evidenceEvents, grants } from '../src/db/schema.ts';
import type { Clock } from '../src/ports.ts';
import { ACTIONS } from '../src/slack/blocks/view-models.ts';
import { approvalCard } from '../test/support/flows.ts';
import { blockAction, post } from '../test/support/slack-requests.ts';
import { APPROVER, OKTA_GROUP, signedCommand, startBenchBot, until } from './lib/bot.ts';
import { figure, log, percentile, pool, QUICK, report, RUNS, type Figure } from './lib/common.ts';
import type { BenchDbKind } from './lib/databases.ts';

const GRANTS = Number(process.env.BENCH_GRANTS ?? (QUICK ? 50 : 200));
const KINDS = (process.env.BENCH_DBS ?? 'postgres,pglite').split(',') as BenchDbKind[];

/** Real time, shifted by an offset; can be held still (while grants are made, so they share one end). */
class ShiftClock implements Clock {
  private offset = 0;
  private frozenAt: number | undefined;
  now(): Date {
    return new Date(this.frozenAt ?? Date.now() + this.offset);
  }
  freeze(): void {
    this.frozenAt = Date.now() + this.offset;
  }
  /** Resume real time from `at` (clock time) on. */
  runFrom(at: number): void {
    this.frozenAt = undefined;
    this.offset = at - Date.now();
  }
  toClock(realEpochMs: number): number {
    return realEpochMs + this.offset;
  }
}

async function measure(kind: BenchDbKind): Promise<Figure[]> {
  const clock = new ShiftClock();
  const bot = await startBenchBot(kind, { people: GRANTS * RUNS, clock });
  const { h } = bot;
  const db = h.bot.database.db;
  const p50s: number[] = [];
  const p99s: number[] = [];
  const maxes: number[] = [];
  const recordedP99s: number[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      const people = bot.requesters.slice(run * GRANTS, (run + 1) * GRANTS);
      clock.freeze();
      const setupStarted = Date.now();
      const granted = await pool(people, 10, async (p) => {
        const cmd = signedCommand(h, p.id, `prod-db 1h INC-${run} expiry benchmark`);
        if ((await cmd.send()).status !== 200) throw new Error('command refused');
        const answer = await until(() => h.slack.responses(cmd.name)[0], 120_000, 'the request answer');
        const requestId = Number(/request #(\d+)/i.exec(String(answer.body.text ?? ''))?.[1]);
        const card = structuredClone(await until(() => approvalCard(h, APPROVER, requestId), 120_000, `the card for #${requestId}`));
        const res = await post(h.baseUrl, blockAction({ userId: APPROVER, actionId: ACTIONS.approve, message: card }));
        if (res.status !== 200) throw new Error(`click answered ${res.status}`);
        const grant = await until(async () => (await db.select().from(grants).where(and(eq(grants.requestId, requestId), eq(grants.state, 'active'))))[0], 120_000, `the grant for #${requestId}`);
        return { person: p, grant, oktaId: h.okta.user(p.email)!.id };
      });
      const endsAt = granted[0]!.grant.endsAt.getTime();
      if (granted.some((g) => g.grant.endsAt.getTime() !== endsAt)) throw new Error('grants do not share one end time');
      log(`${kind}: run ${run + 1}: ${GRANTS} grants active (set up in ${((Date.now() - setupStarted) / 1000).toFixed(0)} s); moving the clock to 3 s before their end`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      clock.runFrom(endsAt - 3_000);

      const revokes = await until(
        () => {
          const deletes = new Map<string, number>();
          for (const r of h.okta.requests) if (r.method === 'DELETE' && r.path.startsWith(`/api/v1/groups/${OKTA_GROUP}/users/`)) deletes.set(r.path.split('/').pop()!, r.at.getTime());
          const times = granted.map((g) => deletes.get(g.oktaId));
          return times.every((t) => t !== undefined) ? (times as number[]) : undefined;
        },
        120_000,
        `${GRANTS} revokes at Okta`,
      );
      const lags = revokes.map((t) => clock.toClock(t) - endsAt);
      await until(async () => (await db.select().from(grants).where(eq(grants.state, 'revoked'))).length >= (run + 1) * GRANTS || undefined, 60_000, 'all revokes recorded');
      const revokedEvents = await db.select().from(evidenceEvents).where(eq(evidenceEvents.kind, 'grant.revoked'));
      const ids = new Set(granted.map((g) => g.grant.id));
      const recorded = revokedEvents.filter((e) => ids.has(Number(e.details.grant_id))).map((e) => Number(e.details.late_by_ms));
      p50s.push(percentile(lags, 50));
      p99s.push(percentile(lags, 99));
      maxes.push(Math.max(...lags));
      recordedP99s.push(percentile(recorded, 99));
      log(`${kind}: run ${run + 1}: revoke lag p50 ${percentile(lags, 50)} ms p99 ${percentile(lags, 99)} ms max ${Math.max(...lags)} ms min ${Math.min(...lags)} ms; recorded late_by_ms p99 ${percentile(recorded, 99)}`);
    }
  } finally {
    await bot.stop();
  }
  const note = `${GRANTS} grants ending in the same instant, worker tick 1 s (the default); lag measured at the Okta server`;
  return [
    figure(`expiry → revoke lag p50, ${GRANTS} grants`, p50s, 'ms', undefined, { db: kind }),
    figure(`expiry → revoke lag p99, ${GRANTS} grants`, p99s, 'ms', { limit: 2_000, lowerIsBetter: true }, { db: kind, note }),
    figure(`expiry → revoke lag max, ${GRANTS} grants`, maxes, 'ms', undefined, { db: kind }),
    figure(`expiry → grant.revoked recorded (late_by_ms) p99`, recordedP99s, 'ms', undefined, { db: kind, note: 'as recorded in the evidence, after the provider answered and the event committed' }),
  ];
}

const figures: Figure[] = [];
for (const kind of KINDS) figures.push(...(await measure(kind)));
report('expiry-lag', figures);
