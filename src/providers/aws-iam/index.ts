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
    session_role_arn: roleArn.optional(),
    end_sessions: z.boolean().optional(),
  },
  grantProblem(grant) {
    if (grant.end_sessions === true && grant.session_role_arn === undefined) {
      return { path: ['end_sessions'], message: 'end_sessions needs session_role_arn: the IAM role this access lets the person assume, whose sessions breakglass ends at revoke' };
    }
    const account = (arn: string | undefined) => arn?.split(':')[4];
    if (grant.session_role_arn && grant.account_role_arn && account(grant.session_role_arn) !== account(grant.account_role_arn)) {
      return { path: ['session_role_arn'], message: `session_role_arn must be a role of account ${account(grant.account_role_arn)}, where account_role_arn manages this access` };
    }
    return undefined;
  },
  toTarget(grant): AwsIamTarget {
    const role = {
      ...(grant.account_role_arn === undefined ? {} : { accountRoleArn: grant.account_role_arn }),
      // Naming the role is asking for its sessions to end: on unless end_sessions says otherwise.
      ...(grant.session_role_arn === undefined ? {} : { sessionRoleArn: grant.session_role_arn, endSessions: grant.end_sessions ?? true }),
    };
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
    if (target.kind === 'aws_iam_group') return `membership of AWS IAM group \`${target.groupName}\`${inAccount}${sessionsLine(target)}`;
    const actions = [...new Set(target.policy.Statement.flatMap((s) => list(s.Action)))];
    const effects = target.policy.Statement.map((s) => String(s.Effect));
    const allows = actions.length > 0 ? ` for ${actions.map((a) => `\`${a}\``).join(', ')}` : '';
    const denies = effects.includes('Deny') ? ' (with Deny statements)' : '';
    return `an inline AWS IAM user policy${allows}${denies}${inAccount}, carrying a \`DateLessThan aws:CurrentTime\` condition at the expiry, so AWS itself ends the access${sessionsLine(target)}`;
  },
});

/** What happens at revoke to the role sessions the access made possible. */
function sessionsLine(target: AwsIamTarget): string {
  if (target.sessionRoleArn && target.endSessions) {
    return `; at revoke, the person’s sessions of role \`${target.sessionRoleArn}\` issued before it are denied (an \`aws:TokenIssueTime\` deny on the role, AWS’s “revoke older sessions”)`;
  }
  const role = target.sessionRoleArn ? ` of \`${target.sessionRoleArn}\`` : '';
  return `; requests with the IAM user’s own keys stop at revoke, but role sessions${role} assumed with this access are not ended and can outlive the grant by up to the role’s maximum session duration (1 h by default, at most 12 h)`;
}

function list(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.map(String) : [];
}
