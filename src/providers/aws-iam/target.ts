import type { IamPolicyDocument } from '../../ports.ts';

/**
 * access.yml `grant: { aws_iam_group: … }` or `grant: { aws_iam_policy: … }`, optionally managed
 * through `account_role_arn` in another account.
 */
export type AwsIamTarget =
  | { kind: 'aws_iam_group'; groupName: string; accountRoleArn?: string }
  | { kind: 'aws_iam_policy'; policy: IamPolicyDocument; accountRoleArn?: string };

export const isAwsIamTarget = (target: { kind: string }): target is AwsIamTarget => target.kind === 'aws_iam_group' || target.kind === 'aws_iam_policy';
