/**
 * Slash-command ack latency at 20 concurrent: signed `/breakglass prod-db 2h INC-… reason`
 * requests (the real request path: Bolt verifies the signature, the command is parsed and
 * acknowledged, then the request is created, evidenced and its cards queued after the ack) sent
 * 20 at a time, each timed from the POST until the whole HTTP answer is read. The work each
 * command starts after its ack runs concurrently with the next commands, as it would in use.
 *
 * Target: p99 < 100 ms. Also reported: p50, and the time until the request's own answer
 * (response_url) arrives, for context.
 */
import { APPROVER, signedCommand, startBenchBot, until } from './lib/bot.ts';
import { figure, log, percentile, pool, QUICK, report, RUNS, type Figure } from './lib/common.ts';
import type { BenchDbKind } from './lib/databases.ts';
import { cpuSnapshot } from './lib/cpu.ts';

const CONCURRENCY = 20;
const PER_RUN = Number(process.env.BENCH_ACK_REQUESTS ?? (QUICK ? 200 : 600));
const KINDS = (process.env.BENCH_DBS ?? 'postgres,pglite').split(',') as BenchDbKind[];

async function measure(kind: BenchDbKind): Promise<Figure[]> {
  const bot = await startBenchBot(kind, { people: 100 });
  const { h } = bot;
  const p50s: number[] = [];
  const p99s: number[] = [];
  const replyP50s: number[] = [];
  try {
    // Warm-up: connections, JIT, the Slack directory cache.
    await pool(bot.requesters.slice(0, 40), CONCURRENCY, (r) => signedCommand(h, r.id, 'prod-db 2h INC-1 warm-up').send());
    await until(() => h.slack.messagesTo(APPROVER).length >= 40 || undefined, 60_000, 'warm-up cards');
    for (let run = 0; run < RUNS; run++) {
      const commands = Array.from({ length: PER_RUN }, (_, i) => {
        const who = bot.requesters[i % bot.requesters.length]!;
        return signedCommand(h, who.id, `prod-db 2h INC-${run * 10_000 + i} replication lag on primary, run ${run}`);
      });
      const cpu = await cpuSnapshot(h.bot.database);
      const started = performance.now();
      const sent = await pool(commands, CONCURRENCY, (c) => c.send());
      const bad = sent.filter((s) => s.status !== 200);
      if (bad.length > 0) throw new Error(`${bad.length} command(s) answered ${bad[0]!.status}`);
      const acks = sent.map((s) => s.ms);
      // Then wait for every request's own answer (created, cards queued) before the next run.
      const names = new Set(commands.map((c) => c.name));
      const replies = await until(
        () => {
          const got = new Map<string, number>();
          for (const name of names) {
            const [first] = h.slack.responses(name);
            if (first) got.set(name, first.at);
          }
          return got.size === names.size ? got : undefined;
        },
        180_000,
        `answers to ${names.size} commands`,
      );
      const seconds = (performance.now() - started) / 1000;
      const used = await cpu.since();
      const replyMs = commands.map((c, i) => replies.get(c.name)! - sent[i]!.sentAt);
      p50s.push(percentile(acks, 50));
      p99s.push(percentile(acks, 99));
      replyP50s.push(percentile(replyMs, 50));
      log(`${kind}: run ${run + 1}: ${PER_RUN} commands, ack p50 ${percentile(acks, 50).toFixed(1)} ms p99 ${percentile(acks, 99).toFixed(1)} ms max ${Math.max(...acks).toFixed(1)} ms; answers p50 ${percentile(replyMs, 50).toFixed(0)} ms; all done in ${seconds.toFixed(1)} s (${used.describe()})`);
    }
  } finally {
    await bot.stop();
  }
  const note = `${RUNS} runs of ${PER_RUN} commands, ${CONCURRENCY} in flight; load generator and fake Slack share the bot's process`;
  return [
    figure(`slash-command ack p50 (${CONCURRENCY} concurrent)`, p50s, 'ms', undefined, { db: kind }),
    figure(`slash-command ack p99 (${CONCURRENCY} concurrent)`, p99s, 'ms', { limit: 100, lowerIsBetter: true }, { db: kind, note }),
    figure(`command → its answer on response_url, p50`, replyP50s, 'ms', undefined, { db: kind, note: 'request created, evidenced and cards queued; informational' }),
  ];
}

const figures: Figure[] = [];
for (const kind of KINDS) figures.push(...(await measure(kind)));
report('ack-latency', figures);
