import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { loadAccessConfig } from '../config/access.ts';
import { readCliEnv } from '../config/env.ts';
import { writeAuditPack } from '../reports/pack/audit-pack.ts';
import { chromiumPrinter, findChromium } from '../reports/pack/report-pdf.ts';
import { ownSigningKey, SIGNING_KEY_FILE } from '../ledger/signing-key.ts';
import { parseEndInstant, parseInstant, progress, progressDone, withDatabase } from './context.ts';

export function auditPackCommand(): Command {
  return new Command('audit-pack')
    .description('write the evidence package for a period: report.html (and report.pdf, printed by Chromium when it is installed), CSV, Markdown and JSON files, an index mapped to SOC 2 criteria, SHA256SUMS signed with the ledger signing key, and a standalone verifier')
    .requiredOption('--from <date>', 'first day (UTC) or instant, inclusive, e.g. 2026-01-01', parseInstant)
    .requiredOption('--to <date>', 'last day (UTC, inclusive) or instant (exclusive), e.g. 2026-03-31', parseEndInstant)
    .requiredOption('--out <dir>', 'the folder to write to (created if missing; files of the same names are replaced, others left alone)')
    .option('--no-bom', 'CSV files without the UTF-8 byte order mark (which tells Excel they are UTF-8)')
    .option('--no-pdf', 'do not print report.html to report.pdf (which needs Chromium on PATH)')
    .option('--progress', 'show progress on stderr even when it is not a terminal (e.g. in a CI log)')
    .addHelpText('after', '\nExit 0 when the pack is written and the ledger verifies; 1 when the ledger does not verify or does not match its checkpoints (the pack is still written, and says so); 2 on error.')
    .action(async (options: { from: Date; to: Date; out: string; progress?: boolean; bom: boolean; pdf: boolean }) => {
      if (options.to <= options.from) throw new Error('--to must be after --from');
      const env = readCliEnv(process.env);
      // The policy is part of the package: a missing or invalid access.yml stops here, before any work.
      const access = loadAccessConfig(env.ACCESS_CONFIG);
      const key = ownSigningKey({ configured: env.LEDGER_SIGNING_KEY, keyFile: join(resolve(env.DATA_DIR), SIGNING_KEY_FILE) });
      const started = Date.now();
      const result = await withDatabase(({ db }) =>
        writeAuditPack({ db, from: options.from, to: options.to, outDir: resolve(options.out), access, now: new Date(), signer: key?.signer, bom: options.bom, pdf: options.pdf ? chromiumPrinter(findChromium(process.env.PATH)) : undefined, onProgress: (step) => progress(step.padEnd(60), options.progress) }),
      );
      progressDone();
      const { verification, readiness } = result;
      const gaps = readiness.gaps.length;
      process.stdout.write(
        `Wrote ${result.files.length} files to ${result.dir}: ${result.events} event(s) in the period; ledger ${verification.ok ? 'intact' : 'BROKEN'} (${verification.count} event(s) verified); ${
          gaps === 0 ? 'no readiness gaps' : `${gaps} readiness gap(s), see readiness.md`
        }.\n`,
      );
      process.stdout.write(result.pdf.written ? `report.html and report.pdf (${result.pdf.how}) written.\n` : `report.html written; report.pdf skipped: ${result.pdf.why}.\n`);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      process.stderr.write(`audit-pack: ${verification.count.toLocaleString('en-US')} event(s) verified, ${result.read.toLocaleString('en-US')} read, ${result.events.toLocaleString('en-US')} exported, in ${seconds} s\n`);
      if (!key) {
        process.stderr.write('breakglass: SHA256SUMS is not signed: no ledger signing key here (set LEDGER_SIGNING_KEY, or run where DATA_DIR holds the bot\'s ledger-signing-key). The pack says so.\n');
      }
      const broken = !verification.ok
        ? `event ${verification.problem?.seq ?? '?'}: ${verification.problem?.reason ?? ''}`
        : verification.head_row_problem
          ? verification.head_row_problem
          : !verification.checkpoints_ok || !readiness.ledger.ok
          ? 'it does not match its signed checkpoints (see readiness.md)'
          : undefined;
      if (broken) {
        process.stderr.write(`breakglass: the evidence ledger does not verify: ${broken}. The pack was written and records this in verification.json; do not hand it over as evidence of an intact ledger.\n`);
        process.exitCode = 1;
      }
    });
}
