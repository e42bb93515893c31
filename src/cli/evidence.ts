import { Command, Option } from 'commander';
import { exportEvents } from '../evidence/export.ts';
import { verifyLedger } from '../evidence/verify.ts';
import { parseEndInstant, parseInstant, progress, progressDone, withDatabase } from './context.ts';

export function evidenceCommand(): Command {
  const evidence = new Command('evidence').description('the tamper-evident evidence ledger');

  evidence
    .command('export')
    .description('write evidence events to stdout as CSV or JSON Lines')
    .requiredOption('--from <date>', 'first day (UTC) or instant, inclusive, e.g. 2026-01-01', parseInstant)
    .requiredOption('--to <date>', 'last day (UTC, inclusive) or instant (exclusive), e.g. 2026-03-31', parseEndInstant)
    .option('--resource <name>', 'only events about this resource')
    .option('--user <slack-id>', 'only events where this person is the actor or the subject')
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
    .action(async (options: { from: Date; to: Date; resource?: string; user?: string; format: 'csv' | 'jsonl' }) => {
      if (options.to <= options.from) throw new Error('--to must be after --from');
      await withDatabase(async ({ db }) => {
        const count = await exportEvents(db, options, options.format, process.stdout);
        if (process.stderr.isTTY) process.stderr.write(`${count} event(s) exported\n`);
      });
    });

  evidence
    .command('verify')
    .description('check that the ledger is complete and unmodified (exit 1 naming the first bad event)')
    .action(async () => {
      const result = await withDatabase(({ db }) => verifyLedger(db, (n) => progress(`verified ${n.toLocaleString('en-US')} events…`)));
      progressDone();
      if (result.ok) {
        process.stdout.write(`OK: ${result.count} event(s), chain intact; head ${result.headHash}\n`);
        return;
      }
      const p = result.problem!;
      process.stdout.write(`TAMPERED: event ${p.seq}${p.kind ? ` (${p.kind})` : ''}: ${p.reason}. The ${result.count} event(s) before it verify.\n`);
      process.exitCode = 1;
    });

  return evidence;
}
