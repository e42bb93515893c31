/**
 * access.yml `grant: { aws_sso: { permission_set_arn, account_id } }`: an IAM Identity Center
 * account assignment of a permission set to the person's Identity Center user in one account.
 */
export interface AwsSsoTarget {
  kind: 'aws_sso_assignment';
  permissionSetArn: string;
  accountId: string;
  /** End the person's open sessions at revoke (default on): see session-deny.ts. */
  endSessions: boolean;
}

export const isAwsSsoTarget = (target: { kind: string }): target is AwsSsoTarget => target.kind === 'aws_sso_assignment';

/** The instance a permission set belongs to: `arn:aws:sso:::permissionSet/ssoins-…/ps-…` → `arn:aws:sso:::instance/ssoins-…`. */
export function instanceOfPermissionSet(permissionSetArn: string): string | undefined {
  const m = permissionSetArn.match(/^(arn:aws[a-z-]*:sso:::)permissionSet\/((?:sso)?ins-[a-zA-Z0-9-.]{16})\//);
  return m ? `${m[1]}instance/${m[2]}` : undefined;
}
