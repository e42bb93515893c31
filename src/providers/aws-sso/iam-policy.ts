/**
 * The IAM statements the bot's own AWS identity needs for the `aws_sso` resources in access.yml:
 * exactly the calls aws-sso-provider.ts, identity-center.ts and end-sessions.ts make, on the
 * instance, permission sets and accounts named. Pure.
 */
import type { GrantTarget } from '../../ports.ts';
import { instanceOfPermissionSet, isAwsSsoTarget, type AwsSsoTarget } from './target.ts';

type Statement = Record<string, unknown>;

export interface IdentityCenterSettings {
  /** AWS_SSO_INSTANCE_ARN and AWS_IDENTITY_STORE_ID: with both, ListInstances is never called. */
  instanceArn?: string | undefined;
  identityStoreId?: string | undefined;
}

const sortedUnique = (xs: string[]) => [...new Set(xs)].sort();
/** `arn:aws-us-gov:sso:::…` → `aws-us-gov`. */
const partitionOf = (arn: string) => /^arn:(aws[a-z-]*):/.exec(arn)?.[1] ?? 'aws';

/**
 * One resource list per group of calls. IAM cannot tie a permission set to one account in a
 * statement, so the assignment calls are allowed on every named permission set in every named
 * account of the instance: the narrowest IAM can write.
 */
function scope(targets: AwsSsoTarget[]) {
  const partition = partitionOf(targets[0]!.permissionSetArn);
  const instances = sortedUnique(targets.map((t) => instanceOfPermissionSet(t.permissionSetArn) ?? `arn:${partition}:sso:::instance/*`));
  const permissionSets = sortedUnique(targets.map((t) => t.permissionSetArn));
  const accounts = sortedUnique(targets.map((t) => `arn:${partition}:sso:::account/${t.accountId}`));
  return { partition, instances, permissionSets, accounts };
}

/** The statements for these resources; none when access.yml has no `aws_sso` resource. */
export function identityCenterStatements(resources: ReadonlyArray<{ target: GrantTarget }>, settings: IdentityCenterSettings = {}): Statement[] {
  const targets = resources.flatMap((r) => (isAwsSsoTarget(r.target) ? [r.target] : []));
  if (targets.length === 0) return [];
  const all = scope(targets);
  const statements: Statement[] = [];
  if (!settings.instanceArn || !settings.identityStoreId) {
    // Finds the instance and identity store; the action has no resource type, so "*".
    statements.push({ Sid: 'BreakglassFindInstance', Effect: 'Allow', Action: 'sso:ListInstances', Resource: '*' });
  }
  statements.push(
    {
      Sid: 'BreakglassAccountAssignments',
      Effect: 'Allow',
      Action: ['sso:CreateAccountAssignment', 'sso:DeleteAccountAssignment', 'sso:DescribePermissionSet', 'sso:ListAccountAssignments'],
      Resource: [...all.instances, ...all.permissionSets, ...all.accounts],
    },
    {
      Sid: 'BreakglassAssignmentStatus',
      Effect: 'Allow',
      Action: ['sso:DescribeAccountAssignmentCreationStatus', 'sso:DescribeAccountAssignmentDeletionStatus'],
      Resource: all.instances,
    },
  );
  const ending = targets.filter((t) => t.endSessions);
  if (ending.length > 0) {
    const some = scope(ending);
    statements.push(
      {
        Sid: 'BreakglassEndSessions',
        Effect: 'Allow',
        Action: ['sso:GetInlinePolicyForPermissionSet', 'sso:ProvisionPermissionSet', 'sso:PutInlinePolicyToPermissionSet'],
        Resource: [...some.instances, ...some.permissionSets, ...some.accounts],
      },
      { Sid: 'BreakglassProvisioningStatus', Effect: 'Allow', Action: 'sso:DescribePermissionSetProvisioningStatus', Resource: some.instances },
    );
  }
  // The identity store lives in the instance's account, which access.yml does not name.
  const store = `arn:${all.partition}:identitystore::*:identitystore/${settings.identityStoreId ?? '*'}`;
  statements.push({
    Sid: 'BreakglassIdentityStore',
    Effect: 'Allow',
    Action: ['identitystore:DescribeUser', 'identitystore:GetUserId'],
    Resource: [store, `arn:${all.partition}:identitystore:::user/*`],
  });
  return statements;
}
