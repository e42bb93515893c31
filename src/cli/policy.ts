import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { loadAccessConfig } from '../config/access.ts';
import { readCliEnv } from '../config/env.ts';
import { renderPolicy } from '../evidence/policy-doc.ts';

export function policyCommand(): Command {
  return new Command('policy')
    .description('the access-control policy in Markdown, rendered from access.yml and headed with its SHA-256')
    .option('--out <file>', 'write it to this file instead of stdout')
    .action((options: { out?: string }) => {
      const env = readCliEnv(process.env);
      const loaded = loadAccessConfig(env.ACCESS_CONFIG);
      const markdown = renderPolicy(loaded);
      if (!options.out) {
        process.stdout.write(markdown);
        return;
      }
      writeFileSync(options.out, markdown);
      process.stdout.write(`Wrote ${options.out} from ${loaded.path} (SHA-256 ${loaded.hash})\n`);
    });
}
