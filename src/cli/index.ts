import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { AccessConfigError } from '../config/access.ts';
import { EnvError } from '../config/env.ts';
import { DatabaseSetupError } from '../db/client.ts';
import { DataDirBusyError } from '../db/data-dir-lock.ts';
import { evidenceCommand } from './evidence.ts';
import { iamPolicyCommand } from './iam-policy.ts';
import { auditPackCommand } from './audit-pack.ts';
import { policyCommand } from './policy.ts';
import { readinessCommand } from './readiness.ts';
import { whoCommand } from './who.ts';
import { reviewCommand } from './review.ts';
import { respondCommand } from './respond.ts';
import { accessCommand } from './access.ts';
import { exportCommand } from './export.ts';

// A reader that stops early (`| head -1`) closes the pipe: that ends the output, it is no failure.
// Whatever exit code the command already set (verify's 1 for a broken chain) is kept.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit();
});

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('breakglass')
  .version(version, '-V, --version', 'print the breakglass version')
  .description('breakglass: time-limited production access with SOC 2 evidence')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .addCommand(evidenceCommand())
  .addCommand(iamPolicyCommand())
  .addCommand(whoCommand())
  .addCommand(policyCommand())
  .addCommand(readinessCommand())
  .addCommand(auditPackCommand())
  .addCommand(reviewCommand())
  .addCommand(respondCommand())
  .addCommand(accessCommand())
  .addCommand(exportCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
    process.exit();
  } else if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else {
    const known = error instanceof EnvError || error instanceof AccessConfigError || error instanceof DataDirBusyError || error instanceof DatabaseSetupError;
    process.stderr.write(`breakglass: ${known || error instanceof Error ? (error as Error).message : String(error)}\n`);
    if (!known && process.env.LOG_LEVEL === 'debug') console.error(error);
    process.exitCode = 2;
  }
}
