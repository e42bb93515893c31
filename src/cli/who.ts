import { Command, Option } from 'commander';
import { whoFromLedger, whoToJson, whoToText } from '../evidence/who.ts';
import { parseInstant, withDatabase } from './context.ts';

export function whoCommand(): Command {
  return new Command('who')
    .description('who had access to a resource at an instant: under which request, approved by whom, why (from the evidence ledger)')
    .argument('<resource>', 'the resource, as named in access.yml (e.g. prod-db)')
    .requiredOption('--at <time>', 'the instant, e.g. 2026-02-10T14:30:00Z (a bare date means 00:00 UTC that day)', parseInstant)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nA grant holds access from its start (inclusive) until its revocation (exclusive). A grant past its\nscheduled end with no revocation recorded is still listed, marked past_end: nothing in the evidence\nsays the access was removed.',
    )
    .action(async (resource: string, options: { at: Date; format: 'text' | 'json' }) => {
      const answer = await withDatabase(({ db }) => whoFromLedger(db, resource, options.at));
      process.stdout.write(options.format === 'json' ? `${JSON.stringify(whoToJson(answer), null, 2)}\n` : whoToText(answer));
    });
}
