import { Command, Option } from 'commander';
import { exportEvents } from '../reports/export/export.ts';
import { namesOfPerson } from '../reports/access/person-filter.ts';
import { ledgerVerdict, verifyLedger, type LedgerVerdict } from '../ledger/verify.ts';
import type { SignedCheckpoint } from '../ledger/checkpoint.ts';
import { CheckpointCoverage } from '../ledger/checkpoint-coverage.ts';
import { headRowProblem, readHeadRow } from '../ledger/head-row.ts';
import { checkpointCommand, checkpointOption, checkpointReport, publicKeyOption } from './checkpoint.ts';
import { parseEndInstant, parseInstant, progress, progressDone, withDatabase } from './context.ts';

export function evidenceCommand(): Command {
  const evidence = new Command('evidence').description('the tamper-evident evidence ledger');

  evidence
    .command('export')
    .description('write evidence events to stdout as CSV, JSON Lines, or OCSF JSON Lines for a SIEM')
    .requiredOption('--from <date>', 'first day (UTC) or instant, inclusive, e.g. 2026-01-01', parseInstant)
    .requiredOption('--to <date>', 'last day (UTC, inclusive) or instant (exclusive), e.g. 2026-03-31', parseEndInstant)
    .option('--resource <name>', 'only events about this resource')
    .option('--user <alias>', 'only events where this person is the actor or the subject: any of their names (Slack id, email, Okta login or id, IAM user, breakglass id), any case')
    .addOption(new Option('--format <format>', 'output format (ocsf: OCSF 1.1 JSON Lines, with the period\'s readiness findings)').choices(['csv', 'jsonl', 'ocsf']).default('csv'))
    .option('--no-bom', 'CSV without the UTF-8 byte order mark (which tells Excel the file is UTF-8)')
    .action(async (options: { from: Date; to: Date; resource?: string; user?: string; format: 'csv' | 'jsonl' | 'ocsf'; bom: boolean }) => {
      if (options.to <= options.from) throw new Error('--to must be after --from');
      await withDatabase(async ({ db }) => {
        const filter = { ...options, user: options.user === undefined ? undefined : await namesOfPerson(db, options.user) };
        const count = await exportEvents(db, filter, options.format, process.stdout, undefined, { bom: options.bom });
        if (process.stderr.isTTY) process.stderr.write(`${count} event(s) exported\n`);
      });
    });

  evidence
    .command('verify')
    .description('check that the ledger is complete and unmodified, also against a signed checkpoint (exit 1 naming the first bad event)')
    .option('--checkpoint <text>', 'a checkpoint copied from the security channel (default: the newest one in the ledger)', checkpointOption)
    .option(
      '--public-key <key>',
      'the Ed25519 public key checkpoints must be signed with (base64 SPKI, as in key=); the ledger must then hold checkpoints by it covering every event within a day',
      publicKeyOption,
    )
    .action(async (options: { checkpoint?: SignedCheckpoint; publicKey?: string }) => {
      const coverage = options.publicKey ? new CheckpointCoverage({ publicKey: options.publicKey }) : undefined;
      const [result, checkpoint, headRow] = await withDatabase(async ({ db }) => [
        await verifyLedger(db, (n) => progress(`verified ${n.toLocaleString('en-US')} events…`), coverage && ((event) => coverage.add(event))),
        await checkpointReport(db, { ...options, coverage }),
        await readHeadRow(db),
      ] as const);
      progressDone();
      const verdict = ledgerVerdict(result, checkpoint.ok, result.ok ? headRowProblem(headRow, result) : undefined);
      process.stdout.write(`${verdictLines(verdict, checkpoint.lines).join('\n')}\n`);
      if (verdict.kind !== 'ok') process.exitCode = 1;
    });

  evidence.addCommand(checkpointCommand());

  return evidence;
}

/** The verdict first, then the checkpoints' report; a wrong head row is said first when nothing else is wrong, otherwise after the checkpoints' verdict. */
function verdictLines(verdict: LedgerVerdict, checkpointLines: string[]): string[] {
  const { count, headHash } = verdict.chain;
  switch (verdict.kind) {
    case 'ok':
      return [`OK: ${count} event(s), chain intact; head ${headHash}`, ...checkpointLines];
    case 'chain_broken': {
      const p = verdict.problem;
      return [`TAMPERED: event ${p.seq}${p.kind ? ` (${p.kind})` : ''}: ${p.reason}. The ${count} event(s) before it verify.`, ...checkpointLines];
    }
    case 'head_row_wrong':
      return [`TAMPERED: ${verdict.headProblem}. The ${count} event(s) present chain correctly; head ${headHash}`, ...checkpointLines];
    case 'checkpoint_mismatch':
      return [
        `TAMPERED: the ${count} event(s) present chain correctly, but the ledger does not match the checkpoints (below); head ${headHash}`,
        ...checkpointLines,
        ...(verdict.headProblem ? [`HEAD ROW: ${verdict.headProblem}.`] : []),
      ];
  }
}
