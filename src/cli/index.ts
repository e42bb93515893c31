import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { AccessConfigError } from '../config/access.ts';
import { EnvError } from '../config/env.ts';
import { DatabaseSetupError } from '../db/client.ts';
import { DataDirBusyError } from '../db/data-dir-lock.ts';

/**
 * Each command's module, loaded only when it runs: a CLI call loads what its command needs, not
 * every other command's reports and clients (about 0.1 s of CPU a call). In help's order.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  evidence: async () => (await import('./evidence.ts')).evidenceCommand(),
  'iam-policy': async () => (await import('./iam-policy.ts')).iamPolicyCommand(),
  who: async () => (await import('./who.ts')).whoCommand(),
  policy: async () => (await import('./policy.ts')).policyCommand(),
  readiness: async () => (await import('./readiness.ts')).readinessCommand(),
  'audit-pack': async () => (await import('./audit-pack.ts')).auditPackCommand(),
  review: async () => (await import('./review.ts')).reviewCommand(),
  respond: async () => (await import('./respond.ts')).respondCommand(),
  access: async () => (await import('./access.ts')).accessCommand(),
  export: async () => (await import('./export.ts')).exportCommand(),
};

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
  .exitOverride();

try {
  // The command named first; anything else (help, --help, a typo commander suggests a name for) gets them all.
  const named = process.argv.slice(2).find((arg) => !arg.startsWith('-'));
  const wanted = named !== undefined && Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS);
  for (const command of await Promise.all(wanted.map((name) => COMMANDS[name]!()))) program.addCommand(command);
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
