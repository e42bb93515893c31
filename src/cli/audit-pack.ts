import { resolve } from 'node:path';
import { Command } from 'commander';
import { loadAccessConfig } from '../config/access.ts';
import { readCliEnv } from '../config/env.ts';
import { writeAuditPack } from '../evidence/audit-pack.ts';
import { parseEndInstant, parseInstant, progress, progressDone, withDatabase } from './context.ts';

export function auditPackCommand(): Command {
  return new Command('audit-pack')
    .description('write the evidence package for a period: CSV, Markdown and JSON files, an index mapped to SOC 2 criteria, and SHA256SUMS')
    .requiredOption('--from <date>', 'first day (UTC) or instant, inclusive, e.g. 2026-01-01', parseInstant)
    .requiredOption('--to <date>', 'last day (UTC, inclusive) or instant (exclusive), e.g. 2026-03-31', parseEndInstant)
    .requiredOption('--out <dir>', 'the folder to write to (created if missing; files of the same names are replaced, others left alone)')
    .action(async (options: { from: Date; to: Date; out: string }) => {
      if (options.to <= options.from) throw new Error('--to must be after --from');
      const env = readCliEnv(process.env);
      // The policy is part of the package: a missing or invalid access.yml stops here, before any work.
      const access = loadAccessConfig(env.ACCESS_CONFIG);
      const result = await withDatabase(({ db }) =>
        writeAuditPack({ db, from: options.from, to: options.to, outDir: resolve(options.out), access, now: new Date(), onProgress: (step) => progress(step.padEnd(60)) }),
      );
      progressDone();
      const gaps = result.readiness.gaps.length;
      process.stdout.write(
        `Wrote ${result.files.length} files to ${result.dir}: ${result.events} event(s) in the period; ledger ${result.verification.ok ? 'intact' : 'BROKEN'} (${result.verification.count} event(s) verified); ${
          gaps === 0 ? 'no readiness gaps' : `${gaps} readiness gap(s), see readiness.md`
        }.\n`,
      );
      if (!result.verification.ok) {
        process.stderr.write(`breakglass: the evidence ledger does not verify: event ${result.verification.problem?.seq ?? '?'}: ${result.verification.problem?.reason ?? ''}\n`);
      }
    });
}
