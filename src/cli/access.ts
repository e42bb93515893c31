import { Command, Option } from 'commander';
import { readTimeline } from '../reports/access/access-record.ts';
import { accessBetween, accessToCsv, accessToJson } from '../reports/access/access-render.ts';
import { accessToText } from '../reports/access/access-text.ts';
import { parseEndInstant, parseInstant, withDatabase } from './context.ts';

export function accessCommand(): Command {
  return new Command('access')
    .description('the population of access for a period: every access interval that overlapped it, whatever its basis (for sampling)')
    .requiredOption('--from <time>', 'start of the period (inclusive), e.g. 2026-01-01', parseInstant)
    .requiredOption('--to <time>', 'end of the period (exclusive; a bare date includes that day)', parseEndInstant)
    .option('--resource <resource>', 'only this resource')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'csv', 'json']).default('text'))
    .option('--no-bom', 'CSV without the UTF-8 byte order mark')
    .action(async (options: { from: Date; to: Date; resource?: string; format: 'text' | 'csv' | 'json'; bom: boolean }) => {
      if (options.to <= options.from) throw new Error(`--to (${options.to.toISOString()}) must be after --from (${options.from.toISOString()})`);
      const answer = await withDatabase(async ({ db }) => accessBetween(await readTimeline(db), options.from, options.to, options.resource));
      if (options.format === 'json') process.stdout.write(`${JSON.stringify(accessToJson(answer), null, 2)}\n`);
      else if (options.format === 'csv') process.stdout.write(accessToCsv(answer.intervals, { bom: options.bom }));
      else process.stdout.write(accessToText(answer));
    });
}
