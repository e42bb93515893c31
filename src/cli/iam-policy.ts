import { Command } from 'commander';
import { z } from 'zod';
import { loadAccessConfig } from '../config/access.ts';
import { readCliEnv } from '../config/env.ts';
import { accountRoles, minimalIamPolicy } from '../providers/aws-iam/iam-policy.ts';
import { awsSso } from '../providers/aws-sso/index.ts';
import { identityCenterStatements, type IdentityCenterSettings } from '../providers/aws-sso/iam-policy.ts';

export function iamPolicyCommand(): Command {
  return new Command('iam-policy')
    .description('print the minimal IAM policy the bot needs for the AWS resources (IAM and IAM Identity Center) in access.yml')
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
      // Identity Center is called with the bot's own credentials, never through an account role.
      if (!options.forRole) policy.Statement.push(...identityCenterStatements(resources, identityCenterSettings(process.env)));
      process.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
      if (!options.forRole && roles.size > 0 && process.stderr.isTTY) {
        process.stderr.write(`Each account role needs its own policy: ${[...roles].map((r) => `npx breakglass iam-policy --for-role ${r}`).join('; ')}\n`);
      }
    });
}

/** AWS_SSO_INSTANCE_ARN and AWS_IDENTITY_STORE_ID as the bot reads them: set, they narrow the policy. */
function identityCenterSettings(source: NodeJS.ProcessEnv): IdentityCenterSettings {
  const schema = z.object({ AWS_SSO_INSTANCE_ARN: awsSso.env.AWS_SSO_INSTANCE_ARN, AWS_IDENTITY_STORE_ID: awsSso.env.AWS_IDENTITY_STORE_ID });
  const given = { AWS_SSO_INSTANCE_ARN: source['AWS_SSO_INSTANCE_ARN'] || undefined, AWS_IDENTITY_STORE_ID: source['AWS_IDENTITY_STORE_ID'] || undefined };
  const parsed = schema.safeParse(given);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return { instanceArn: parsed.data.AWS_SSO_INSTANCE_ARN, identityStoreId: parsed.data.AWS_IDENTITY_STORE_ID };
}
