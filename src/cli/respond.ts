import { asc, eq } from 'drizzle-orm';
import { Command } from 'commander';
import { recordResponse, responseProblem } from '../app/respond-to-exception.ts';
import { controlCharacterProblem } from '../domain/command.ts';
import type { Db } from '../db/client.ts';
import { alerts, evidenceEvents } from '../db/schema.ts';
import { isException } from '../reports/readiness/exceptions.ts';
import { Ledger } from '../ledger/ledger.ts';
import { readinessFromLedger, type Gap } from '../reports/readiness/readiness.ts';
import { systemClock } from '../ports.ts';
import { cliUser, progress, progressDone, withDatabase } from './context.ts';

const EXCEPTION_ID = /^(alert:\d{1,9}|[a-z_]{1,40}:[0-9A-Za-z:.-]{1,40})$/;

/** The exception an id names, found where readiness finds it: over the whole ledger, up to now. */
async function findGap(db: Db, exceptionId: string): Promise<Gap | undefined> {
  const [first] = await db.select({ at: evidenceEvents.occurredAt }).from(evidenceEvents).orderBy(asc(evidenceEvents.seq)).limit(1);
  if (!first) return undefined;
  const now = systemClock.now();
  const report = await readinessFromLedger(db, { from: first.at, to: new Date(now.getTime() + 1) }, now, (step) => progress(step.padEnd(60)));
  progressDone();
  return report.gaps.find((gap) => isException(gap, exceptionId));
}

export function respondCommand(): Command {
  return new Command('respond')
    .description("record management's response to an exception (an id that `readiness` prints, or alert:<id>) as evidence")
    .argument('<exception-id>', 'e.g. late_revoke:1234 (from `npx breakglass readiness`) or alert:17')
    .argument('<text>', 'what was done about it, or why it is acceptable')
    .option('--as <name>', 'who is responding, as the evidence names them (default: cli:<your user name>)')
    .action(async (exceptionId: string, text: string, options: { as?: string }) => {
      if (!EXCEPTION_ID.test(exceptionId)) throw new Error(`"${exceptionId}" is not an exception id; \`npx breakglass readiness\` prints each exception's id (like late_revoke:1234), and alerts are alert:<number>`);
      const problem = responseProblem(text);
      if (problem) throw new Error(problem.replace(/ Retype it without and try again; nothing was changed\.$/, ' Nothing was recorded.'));
      const as = options.as?.trim();
      if (as !== undefined && (as === '' || as.length > 100 || controlCharacterProblem(as))) throw new Error('--as takes a name of up to 100 characters, with no control characters; nothing was recorded');
      const by = as ? `cli:${as}` : cliUser();
      await withDatabase(async ({ db }) => {
        const alertId = /^alert:(\d+)$/.exec(exceptionId)?.[1];
        if (alertId !== undefined) {
          const [alert] = await db.select({ id: alerts.id }).from(alerts).where(eq(alerts.id, Number(alertId)));
          if (!alert) throw new Error(`there is no alert ${alertId}; nothing was recorded`);
        } else if (!(await findGap(db, exceptionId))) {
          throw new Error(`no exception ${exceptionId} is open in the evidence; \`npx breakglass readiness --from … --to …\` lists them with their ids. Nothing was recorded.`);
        }
        const ledger = new Ledger(systemClock);
        await db.transaction((tx) => recordResponse(tx, { ledger }, { exceptionId, by, response: text, ...(alertId !== undefined ? { alertId: Number(alertId) } : {}) }));
        process.stdout.write(`Recorded ${by}'s response to ${exceptionId}.\n`);
      });
    });
}
