import { Command } from 'commander';
import { loadAccessConfig } from '../config/access.ts';
import { readCliEnv } from '../config/env.ts';
import { accountRoles, minimalIamPolicy } from '../providers/aws-iam/iam-policy.ts';

export function iamPolicyCommand(): Command {
  return new Command('iam-policy')
    .description('print the minimal IAM policy the bot needs for the AWS resources in access.yml')
    .option('--for-role <arn>', 'print the policy for an account_role_arn (to attach to that role in its account) instead of the bot’s own')
    .action((options: { forRole?: string }) => {
      const env = readCliEnv(process.env);
      const { config } = loadAccessConfig(env.ACCESS_CONFIG);
      const resources = Object.entries(config.resources).map(([name, r]) => ({ name, target: r.grant }));
      const roles = new Set(accountRoles(resources));
      if (options.forRole && !roles.has(options.forRole)) {
        throw new Error(`no resource in ${env.ACCESS_CONFIG} uses account_role_arn ${options.forRole}; known: ${[...roles].join(', ') || 'none'}`);
      }
      const policy = minimalIamPolicy(resources, options.forRole ? { forRoleArn: options.forRole } : {});
      process.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
      if (!options.forRole && roles.size > 0 && process.stderr.isTTY) {
        process.stderr.write(`Each account role needs its own policy: ${[...roles].map((r) => `npx breakglass iam-policy --for-role ${r}`).join('; ')}\n`);
      }
    });
}
