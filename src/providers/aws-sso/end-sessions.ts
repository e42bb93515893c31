import {
  DescribePermissionSetCommand,
  DescribePermissionSetProvisioningStatusCommand,
  GetInlinePolicyForPermissionSetCommand,
  ProvisionPermissionSetCommand,
  PutInlinePolicyToPermissionSetCommand,
  type PermissionSetProvisioningStatus,
  type SSOAdminClient,
} from '@aws-sdk/client-sso-admin';
import { ProviderError } from '../../ports.ts';
import type { SsoInstance } from './identity-center.ts';
import { holdsStatement, sessionDenyStatement, sessionSeconds, withSessionDeny } from './session-deny.ts';
import type { AwsSsoTarget } from './target.ts';

type Call = <T>(label: string, fn: () => Promise<T>) => Promise<T>;

export interface SessionDeny {
  /** Sessions issued before this are refused from the moment provisioning succeeded. */
  issuedBefore: Date;
  /** When the deny stops applying: no session issued before the revoke can be valid then. */
  until: Date;
}

export interface EndSessionsDeps {
  admin: SSOAdminClient;
  call: Call;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  statusWaitMs: number;
}

/** Writes against a concurrent writer of the same inline policy (another replica) are checked and tried again this often. */
const WRITE_ATTEMPTS = 3;

/**
 * Ends the user's open sessions of the permission set in the account: a Deny for their user id on
 * sessions issued before now, in the permission set's inline policy, provisioned to that account.
 */
export async function endSsoSessions(deps: EndSessionsDeps, instance: SsoInstance, target: AwsSsoTarget, userId: string): Promise<SessionDeny> {
  const ids = { InstanceArn: instance.instanceArn, PermissionSetArn: target.permissionSetArn };
  const described = await deps.call(`SSO DescribePermissionSet ${target.permissionSetArn}`, () => deps.admin.send(new DescribePermissionSetCommand(ids)));
  const { statement, issuedBefore, until } = sessionDenyStatement({ userId, accountId: target.accountId, issuedBefore: deps.now(), sessionSeconds: sessionSeconds(described.PermissionSet?.SessionDuration) });
  const sid = String(statement['Sid']);
  for (let attempt = 1; ; attempt++) {
    const current = await deps.call(`SSO GetInlinePolicyForPermissionSet ${target.permissionSetArn}`, () => deps.admin.send(new GetInlinePolicyForPermissionSetCommand(ids)));
    let text: string;
    try {
      text = withSessionDeny(current.InlinePolicy, statement, issuedBefore);
    } catch (err) {
      throw new ProviderError(`cannot end sessions through permission set ${target.permissionSetArn}: ${(err as Error).message}`, false, undefined, { cause: err });
    }
    await deps.call(`SSO PutInlinePolicyToPermissionSet ${target.permissionSetArn}`, () => deps.admin.send(new PutInlinePolicyToPermissionSetCommand({ ...ids, InlinePolicy: text })));
    const written = await deps.call(`SSO GetInlinePolicyForPermissionSet ${target.permissionSetArn}`, () => deps.admin.send(new GetInlinePolicyForPermissionSetCommand(ids)));
    if (holdsStatement(written.InlinePolicy, sid)) break;
    if (attempt >= WRITE_ATTEMPTS) throw new ProviderError(`the session deny for ${userId} was overwritten in permission set ${target.permissionSetArn} ${WRITE_ATTEMPTS} times`, true);
  }
  await provision(deps, instance, target);
  return { issuedBefore, until };
}

/** Pushes the permission set to the account and waits for AWS to report it done. */
async function provision(deps: EndSessionsDeps, instance: SsoInstance, target: AwsSsoTarget): Promise<void> {
  const label = `permission set ${target.permissionSetArn} to account ${target.accountId}`;
  const out = await deps.call(`SSO ProvisionPermissionSet ${label}`, () =>
    deps.admin.send(new ProvisionPermissionSetCommand({ InstanceArn: instance.instanceArn, PermissionSetArn: target.permissionSetArn, TargetType: 'AWS_ACCOUNT', TargetId: target.accountId })),
  );
  let status: PermissionSetProvisioningStatus = out.PermissionSetProvisioningStatus ?? {};
  const requestId = status.RequestId;
  if (!requestId) throw new ProviderError(`IAM Identity Center returned no request id provisioning ${label}`, true);
  for (let waited = 0, delay = 250; status.Status === 'IN_PROGRESS'; delay = Math.min(delay * 2, 5_000)) {
    if (waited >= deps.statusWaitMs) throw new ProviderError(`provisioning ${label} was still in progress after ${Math.round(deps.statusWaitMs / 1000)} s`, true);
    await deps.sleep(delay);
    waited += delay;
    const described = await deps.call(`SSO DescribePermissionSetProvisioningStatus ${requestId}`, () =>
      deps.admin.send(new DescribePermissionSetProvisioningStatusCommand({ InstanceArn: instance.instanceArn, ProvisionPermissionSetRequestId: requestId })),
    );
    status = described.PermissionSetProvisioningStatus ?? {};
  }
  if (status.Status === 'FAILED') throw new ProviderError(`IAM Identity Center could not provision ${label}: ${status.FailureReason ?? 'no reason given'}`, true);
}
