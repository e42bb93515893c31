import { z } from 'zod';
import { ProviderError } from '../../ports.ts';
import { ProviderSetupError, defineProvider, type ProviderSetup } from '../module.ts';
import { isAwsSsoTarget, type AwsSsoTarget } from './target.ts';

// botocore's patterns for these ARNs and ids (sso-admin 2020-07-20, identitystore 2020-06-15).
const permissionSetArn = z
  .string()
  .regex(/^arn:aws(-[a-z]{1,5}){0,3}:sso:::permissionSet\/(sso)?ins-[a-zA-Z0-9-.]{16}\/ps-[a-zA-Z0-9-./]{16}$/, 'a permission set ARN looks like arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef');
// A custom check, not z.string(): an unquoted id reaches here as a number, and deserves this message.
const accountId = z.custom<string>((v) => typeof v === 'string' && /^\d{12}$/.test(v), {
  error: 'an AWS account id is 12 digits, quoted: account_id: "123456789012" (unquoted, YAML reads it as a number)',
});
const instanceArn = z.string().regex(/^arn:aws(-[a-z]{1,5}){0,3}:sso:::instance\/(sso)?ins-[a-zA-Z0-9-.]{16}$/, 'an Identity Center instance ARN looks like arn:aws:sso:::instance/ssoins-0123456789abcdef');
const identityStoreId = z.string().regex(/^(d-[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/, 'an identity store id looks like d-0123456789');

/** IAM Identity Center: a permission set assigned to the person's Identity Center user in one AWS account. */
export const awsSso = defineProvider({
  grantKeys: ['aws_sso'],
  grantFields: { aws_sso: z.strictObject({ permission_set_arn: permissionSetArn, account_id: accountId, end_sessions: z.boolean().default(true) }).optional() },
  toTarget: ({ aws_sso }): AwsSsoTarget => ({ kind: 'aws_sso_assignment', permissionSetArn: aws_sso!.permission_set_arn, accountId: aws_sso!.account_id, endSessions: aws_sso!.end_sessions }),
  owns: isAwsSsoTarget,

  personFields: { aws_sso_user: z.string().min(1).max(128).optional() },
  principalOf: (_email, entry) => entry?.aws_sso_user,
  identity: { system: 'AWS IAM Identity Center', matchedBy: 'Identity Center user email (`emails.value`), unless `people:` gives `aws_sso_user` (the user name)', onlyWhenUsed: true },

  env: {
    AWS_REGION: z.string().min(1).default('us-east-1'),
    AWS_SSO_REGION: z.string().min(1).optional(),
    AWS_SSO_INSTANCE_ARN: instanceArn.optional(),
    AWS_IDENTITY_STORE_ID: identityStoreId.optional(),
    AWS_ENDPOINT_URL_SSO_ADMIN: z.url().optional(),
    AWS_ENDPOINT_URL_IDENTITYSTORE: z.url().optional(),
  },
  envHints: {
    AWS_SSO_REGION: "the IAM Identity Center instance's region, when it is not AWS_REGION",
    AWS_SSO_INSTANCE_ARN: 'IAM Identity Center → Settings → Instance ARN (found with sso:ListInstances when unset)',
    AWS_IDENTITY_STORE_ID: 'IAM Identity Center → Settings → Identity store ID, d-… (found with sso:ListInstances when unset)',
  },
  setupHint: 'make AWS credentials available (the standard AWS credential chain) and AWS_SSO_REGION (or AWS_REGION) to the Identity Center region',

  // No instance, a permission set that does not exist or credentials AWS rejects stop the start;
  // a passing outage (timeouts, 5xx) is only logged.
  async setup({ env, resources, logger, retry }): Promise<ProviderSetup | undefined> {
    if (resources.length === 0) return undefined;
    const { AwsSsoProvider } = await import('./aws-sso-provider.ts');
    const provider = new AwsSsoProvider({
      region: env.AWS_SSO_REGION ?? env.AWS_REGION,
      retry,
      ...(env.AWS_SSO_INSTANCE_ARN ? { instanceArn: env.AWS_SSO_INSTANCE_ARN } : {}),
      ...(env.AWS_IDENTITY_STORE_ID ? { identityStoreId: env.AWS_IDENTITY_STORE_ID } : {}),
      ...(env.AWS_ENDPOINT_URL_SSO_ADMIN ? { ssoAdminEndpoint: env.AWS_ENDPOINT_URL_SSO_ADMIN } : {}),
      ...(env.AWS_ENDPOINT_URL_IDENTITYSTORE ? { identityStoreEndpoint: env.AWS_ENDPOINT_URL_IDENTITYSTORE } : {}),
    });
    let problems: string[];
    try {
      problems = await provider.setupProblems(resources);
    } catch (error) {
      if (!(error instanceof ProviderError && error.transient)) {
        provider.destroy();
        throw error;
      }
      logger.error({ err: error.message }, 'IAM Identity Center is unreachable; its grants will fail until it answers');
      return { provider, close: () => provider.destroy() };
    }
    if (problems.length > 0) {
      provider.destroy();
      throw new ProviderSetupError(`${problems.join('; ')}. The bot's AWS credentials need the policy in the README's IAM Identity Center section.`);
    }
    logger.info(await provider.instance(), 'IAM Identity Center instance found');
    return { provider, close: () => provider.destroy() };
  },

  describe: (target) =>
    `assignment of IAM Identity Center permission set \`${target.permissionSetArn}\` in AWS account \`${target.accountId}\` to the person's Identity Center user ` +
    '(granted with CreateAccountAssignment, revoked with DeleteAccountAssignment, each waited for until AWS reports it done); ' +
    (target.endSessions
      ? "at revoke the person's sessions already open are ended too: the permission set's inline policy gets a Deny for their Identity Center user id in that account on sessions issued before the revoke, provisioned to the account, which stops applying once the permission set's session duration has passed"
      : "a session started from the AWS access portal before the revoke keeps working until it expires, up to the permission set's session duration (1 to 12 hours), since end_sessions is off"),
});
