/**
 * Approve click → provider call: a signed block_actions "Approve" click on the approver's card,
 * timed from the POST until the Okta server receives the group-membership call
 * (PUT /api/v1/groups/{group}/users/{user}) that grants the access. Measured one click at a time
 * and as a burst of 20 clicks at once.
 *
 * Target: p95 < 1 s.
 */
import { ACTIONS } from '../src/slack/blocks/view-models.ts';
import { approvalCard } from '../test/support/flows.ts';
import type { Harness } from '../test/support/harness.ts';
import { blockAction, post } from '../test/support/slack-requests.ts';
import { APPROVER, OKTA_GROUP, signedCommand, startBenchBot, until } from './lib/bot.ts';
import { figure, log, percentile, pool, QUICK, report, RUNS, type Figure } from './lib/common.ts';
import type { BenchDbKind } from './lib/databases.ts';

const SEQUENTIAL = Number(process.env.BENCH_CLICKS ?? (QUICK ? 20 : 40));
const BURST = 20;
const KINDS = (process.env.BENCH_DBS ?? 'postgres,pglite').split(',') as BenchDbKind[];

/** Requests access for each person and waits for the approver's cards. */
async function pendingRequests(h: Harness, people: Array<{ id: string; email: string }>, tag: string) {
  const made = await pool(people, 10, async (p) => {
    const cmd = signedCommand(h, p.id, `prod-db 1h INC-${tag} click benchmark`);
    const sent = await cmd.send();
    if (sent.status !== 200) throw new Error(`command answered ${sent.status}`);
    const answer = await until(() => h.slack.responses(cmd.name)[0], 60_000, 'the request answer');
    const id = /request #(\d+)/i.exec(String(answer.body.text ?? ''))?.[1];
    if (!id) throw new Error(`no request id in ${String(answer.body.text)}`);
    return { person: p, requestId: Number(id) };
  });
  return pool(made, 10, async (m) => ({ ...m, card: structuredClone(await until(() => approvalCard(h, APPROVER, m.requestId), 60_000, `the card for #${m.requestId}`)) }));
}

/** Clicks Approve; resolves with ms from the POST to the Okta call that adds the person to the group. */
async function clickToProviderCall(h: Harness, target: { person: { email: string }; card: Parameters<typeof blockAction>[0]['message'] }): Promise<number> {
  const oktaUser = h.okta.user(target.person.email);
  if (!oktaUser) throw new Error(`no Okta user ${target.person.email}`);
  const path = `/api/v1/groups/${OKTA_GROUP}/users/${oktaUser.id}`;
  const req = blockAction({ userId: APPROVER, actionId: ACTIONS.approve, message: target.card! });
  const clickedAt = Date.now();
  const res = await post(h.baseUrl, req);
  if (res.status !== 200) throw new Error(`click answered ${res.status}`);
  const call = await until(() => h.okta.requests.find((r) => r.method === 'PUT' && r.path === path && r.at.getTime() >= clickedAt), 30_000, `the Okta call for ${target.person.email}`);
  return call.at.getTime() - clickedAt;
}

async function measure(kind: BenchDbKind): Promise<Figure[]> {
  const perRun = SEQUENTIAL + BURST;
  const bot = await startBenchBot(kind, { people: perRun * RUNS + 5 });
  const { h } = bot;
  const seqP50: number[] = [];
  const seqP95: number[] = [];
  const burstP50: number[] = [];
  const burstP95: number[] = [];
  try {
    // Warm-up: one full approval.
    const [warm] = await pendingRequests(h, bot.requesters.slice(-5, -4), 'warm');
    await clickToProviderCall(h, warm!);
    for (let run = 0; run < RUNS; run++) {
      const people = bot.requesters.slice(run * perRun, (run + 1) * perRun);
      const pending = await pendingRequests(h, people, `r${run}`);
      // Let the request work settle, so the clicks are timed on their own.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const sequential: number[] = [];
      for (const target of pending.slice(0, SEQUENTIAL)) sequential.push(await clickToProviderCall(h, target));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const burst = await Promise.all(pending.slice(SEQUENTIAL).map((target) => clickToProviderCall(h, target)));
      seqP50.push(percentile(sequential, 50));
      seqP95.push(percentile(sequential, 95));
      burstP50.push(percentile(burst, 50));
      burstP95.push(percentile(burst, 95));
      log(`${kind}: run ${run + 1}: one at a time p50 ${percentile(sequential, 50)} ms p95 ${percentile(sequential, 95)} ms; burst of ${BURST} p50 ${percentile(burst, 50)} ms p95 ${percentile(burst, 95)} ms max ${Math.max(...burst)} ms`);
    }
  } finally {
    await bot.stop();
  }
  const target = { limit: 1_000, lowerIsBetter: true };
  return [
    figure('approve click → Okta call, p50 (one at a time)', seqP50, 'ms', undefined, { db: kind }),
    figure('approve click → Okta call, p95 (one at a time)', seqP95, 'ms', target, { db: kind, note: `${SEQUENTIAL} clicks per run` }),
    figure(`approve click → Okta call, p50 (${BURST} clicks at once)`, burstP50, 'ms', undefined, { db: kind }),
    figure(`approve click → Okta call, p95 (${BURST} clicks at once)`, burstP95, 'ms', target, { db: kind }),
  ];
}

const figures: Figure[] = [];
for (const kind of KINDS) figures.push(...(await measure(kind)));
report('click-to-grant', figures);
