import type { IamPolicyDocument } from '../../ports.ts';

/**
 * access.yml `grant: { aws_iam_group: … }` or `grant: { aws_iam_policy: … }`, optionally managed
 * through `account_role_arn` in another account.
 */
export type AwsIamTarget = (
  | { kind: 'aws_iam_group'; groupName: string; accountRoleArn?: string }
  | { kind: 'aws_iam_policy'; policy: IamPolicyDocument; accountRoleArn?: string }
) &
  SessionRole;

/**
 * `session_role_arn`: the role the access lets the person assume (its trust policy requiring
 * sts:RoleSessionName = ${aws:username}); at revoke, their sessions of it issued before are denied
 * unless `end_sessions: false`.
 */
interface SessionRole {
  sessionRoleArn?: string;
  endSessions?: boolean;
}

export const isAwsIamTarget = (target: { kind: string }): target is AwsIamTarget => target.kind === 'aws_iam_group' || target.kind === 'aws_iam_policy';
