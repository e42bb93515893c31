import { Command, Option } from 'commander';
import { readTimeline, resolveUser } from '../reports/access/access-record.ts';
import { userAt, userAtToJson, whoAt, whoAtToJson } from '../reports/access/access-render.ts';
import { userAtToText, whoAtToText } from '../reports/access/access-text.ts';
import { parseInstant, withDatabase } from './context.ts';

export function whoCommand(): Command {
  return new Command('who')
    .description('who had access to a resource at an instant, or what one person could reach then, each with its basis (from the evidence ledger)')
    .argument('[resource]', 'the resource, as named in access.yml (e.g. prod-db)')
    .option('--user <alias>', 'a person by any alias (Slack id, email, Okta login, IAM user name; any case): everything they could reach')
    .requiredOption('--at <time>', 'the instant, e.g. 2026-02-10T14:30:00Z (a bare date means 00:00 UTC that day)', parseInstant)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nAccess counts whatever its basis: a breakglass grant (from its start, inclusive, until its revocation,\nexclusive), an emergency self-grant, a review\'s Keep, or access seen at the provider that nobody\ngranted (unmanaged). Where no listing at the provider covered the instant, the answer says it does\nnot know, instead of "nobody".',
    )
    .action(async (resource: string | undefined, options: { at: Date; user?: string; format: 'text' | 'json' }) => {
      if (!resource && !options.user) throw new Error('name a resource (who prod-db --at …) or a person (who --user alice@example.com --at …)');
      const output = await withDatabase(async ({ db }) => {
        const timeline = await readTimeline(db);
        if (options.user) {
          const user = await resolveUser(db, timeline, options.user);
          const answer = userAt(timeline, { alias: options.user, ...user }, options.at);
          if (resource) {
            answer.holders = answer.holders.filter((h) => h.resource === resource);
            answer.notKnown = answer.notKnown.filter((c) => c.resource === resource);
          }
          return options.format === 'json' ? `${JSON.stringify(userAtToJson(answer), null, 2)}\n` : userAtToText(answer);
        }
        const answer = whoAt(timeline, resource!, options.at);
        return options.format === 'json' ? `${JSON.stringify(whoAtToJson(answer), null, 2)}\n` : whoAtToText(answer);
      });
      process.stdout.write(output);
    });
}
