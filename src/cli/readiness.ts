import { Command, Option } from 'commander';
import { readinessFromLedger, readinessToText } from '../reports/readiness/readiness.ts';
import { parseEndInstant, parseInstant, progress, progressDone, withDatabase } from './context.ts';

export function readinessCommand(): Command {
  return new Command('readiness')
    .description('the gaps an auditor would find in a period, each with the evidence events behind it (exit 1 when any)')
    .requiredOption('--from <date>', 'first day (UTC) or instant, inclusive, e.g. 2026-01-01', parseInstant)
    .requiredOption('--to <date>', 'last day (UTC, inclusive) or instant (exclusive), e.g. 2026-03-31', parseEndInstant)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nGaps: grants without a recorded final approval, revocations more than 60 s after the end, access past\nits end never revoked, emergency grants not reviewed within 24 h, alerts never acknowledged, reviews\noverdue or unsigned, offboarding past its SLA, days with no events, and a ledger that does not verify\nor does not match its newest signed checkpoint. Exit 0 when there are none, 1 when there are, 2 on error.',
    )
    .action(async (options: { from: Date; to: Date; format: 'text' | 'json' }) => {
      if (options.to <= options.from) throw new Error('--to must be after --from');
      const report = await withDatabase(({ db }) => readinessFromLedger(db, options, new Date(), (step) => progress(step.padEnd(60))));
      progressDone();
      process.stdout.write(options.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : readinessToText(report));
      process.exitCode = report.ok ? 0 : 1;
    });
}
