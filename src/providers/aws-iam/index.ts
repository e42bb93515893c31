import { z } from 'zod';
import { ProviderError, type IamPolicyDocument } from '../../ports.ts';
import { ProviderSetupError, defineProvider, type ProviderSetup } from '../module.ts';
import { isAwsIamTarget, type AwsIamTarget } from './target.ts';
import { policyProblems } from './iam-policy.ts';

const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'an IAM role ARN looks like arn:aws:iam::123456789012:role/Name');

// What IAM would refuse is refused here, on its access.yml line, not at the first approval.
const policyDocument = z
  .looseObject({
    Version: z.string().optional(),
    Statement: z.array(z.looseObject({})).min(1, 'a policy needs at least one statement'),
  })
  .superRefine((policy, ctx) => {
    for (const problem of policyProblems(policy)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message, input: policy });
  });

/** IAM group membership, or an inline user policy that carries its own expiry. */
export const awsIam = defineProvider({
  grantKeys: ['aws_iam_group', 'aws_iam_policy'],
  grantFields: {
    aws_iam_group: z.string().min(1).optional(),
    aws_iam_policy: policyDocument.optional(),
    account_role_arn: roleArn.optional(),
  },
  toTarget(grant): AwsIamTarget {
    const role = grant.account_role_arn === undefined ? {} : { accountRoleArn: grant.account_role_arn };
    if (grant.aws_iam_group !== undefined) return { kind: 'aws_iam_group', groupName: grant.aws_iam_group, ...role };
    return { kind: 'aws_iam_policy', policy: grant.aws_iam_policy as IamPolicyDocument, ...role };
  },
  owns: isAwsIamTarget,

  personFields: { aws_iam_user: z.string().min(1).optional() },
  principalOf: (_email, entry) => entry?.aws_iam_user,
  identity: { system: 'AWS', matchedBy: 'IAM user name' },

  env: {
    AWS_REGION: z.string().min(1).default('us-east-1'),
    AWS_ENDPOINT_URL_IAM: z.url().optional(),
    AWS_ENDPOINT_URL_STS: z.url().optional(),
  },
  envHints: {},
  setupHint: 'make AWS credentials available (the standard AWS credential chain) and AWS_REGION',

  // AWS credentials AWS rejects stop the start; a passing outage (timeouts, 5xx) is only logged.
  async setup({ env, resources, logger, retry }): Promise<ProviderSetup | undefined> {
    if (resources.length === 0) return undefined;
    const { AwsIamProvider } = await import('./aws-iam-provider.ts');
    const provider = new AwsIamProvider({
      region: env.AWS_REGION,
      retry,
      ...(env.AWS_ENDPOINT_URL_IAM ? { iamEndpoint: env.AWS_ENDPOINT_URL_IAM } : {}),
      ...(env.AWS_ENDPOINT_URL_STS ? { stsEndpoint: env.AWS_ENDPOINT_URL_STS } : {}),
    });
    try {
      const identity = await provider.checkIdentity();
      logger.info({ account: identity.account, arn: identity.arn }, 'AWS credentials work');
    } catch (error) {
      if (error instanceof ProviderError && error.transient) logger.error({ err: error.message }, 'AWS STS is unreachable; AWS grants will fail until it answers');
      else {
        provider.destroy();
        throw new ProviderSetupError(`${(error as Error).message}. Give the bot AWS credentials (the standard credential chain) with the policy \`npx breakglass iam-policy\` prints.`);
      }
    }
    return { provider, close: () => provider.destroy() };
  },

  describe(target) {
    const inAccount = target.accountRoleArn ? ` (in the account of role \`${target.accountRoleArn}\`)` : '';
    if (target.kind === 'aws_iam_group') return `membership of AWS IAM group \`${target.groupName}\`${inAccount}`;
    const actions = [...new Set(target.policy.Statement.flatMap((s) => list(s.Action)))];
    const effects = target.policy.Statement.map((s) => String(s.Effect));
    const allows = actions.length > 0 ? ` for ${actions.map((a) => `\`${a}\``).join(', ')}` : '';
    const denies = effects.includes('Deny') ? ' (with Deny statements)' : '';
    return `an inline AWS IAM user policy${allows}${denies}${inAccount}, carrying a \`DateLessThan aws:CurrentTime\` condition at the expiry, so AWS itself ends the access`;
  },
});

function list(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.map(String) : [];
}
