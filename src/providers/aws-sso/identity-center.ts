import { DescribeUserCommand, GetUserIdCommand, IdentitystoreClient } from '@aws-sdk/client-identitystore';
import { paginateListInstances, SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { ProviderError, type Person } from '../../ports.ts';

/** The Identity Center instance breakglass assigns in, and the identity store its users live in. */
export interface SsoInstance {
  instanceArn: string;
  identityStoreId: string;
}

/** An Identity Center user as a listing reports them. */
export interface SsoUser {
  userId: string;
  userName?: string;
  email?: string;
}

type Call = <T>(label: string, fn: () => Promise<T>) => Promise<T>;

/** The AWS error name (ResourceNotFoundException, …) of an SDK error, or of the one a ProviderError wraps. */
export function awsCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && typeof e === 'object' && i < 3; i++) {
    const rec = e as { name?: unknown; cause?: unknown };
    if (typeof rec.name === 'string' && rec.name !== 'Error' && rec.name !== 'ProviderError') return rec.name;
    e = rec.cause;
  }
  return undefined;
}

export const isNotFound = (err: unknown) => awsCode(err) === 'ResourceNotFoundException';

/** An Identity Center user id (what GetUserId answers, and what an assignment names). */
export const USER_ID = /^(?:[0-9a-f]{10}-)?[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$/;

/**
 * The instance: the one AWS_SSO_INSTANCE_ARN / AWS_IDENTITY_STORE_ID name, completed from
 * ListInstances when only one is given, or the only instance ListInstances shows.
 */
export async function findInstance(
  admin: SSOAdminClient,
  call: Call,
  given: { instanceArn?: string | undefined; identityStoreId?: string | undefined; region: string },
): Promise<SsoInstance> {
  if (given.instanceArn && given.identityStoreId) return { instanceArn: given.instanceArn, identityStoreId: given.identityStoreId };
  const setBoth = 'or set AWS_SSO_INSTANCE_ARN and AWS_IDENTITY_STORE_ID';
  const instances = await call('SSO ListInstances', async () => {
    const all: Array<{ InstanceArn?: string | undefined; IdentityStoreId?: string | undefined; Status?: string | undefined }> = [];
    for await (const page of paginateListInstances({ client: admin }, {})) all.push(...(page.Instances ?? []));
    return all;
  }).catch((err: unknown) => {
    if (awsCode(err) !== 'AccessDeniedException') throw err;
    throw new ProviderError(`${(err as Error).message}: allow sso:ListInstances, ${setBoth}`, false, undefined, { cause: err });
  });
  const usable = instances.filter(
    (i) => i.InstanceArn && i.IdentityStoreId && (!i.Status || i.Status === 'ACTIVE') && (!given.instanceArn || i.InstanceArn === given.instanceArn) && (!given.identityStoreId || i.IdentityStoreId === given.identityStoreId),
  );
  if (usable.length === 0) {
    const named = given.instanceArn ? `AWS_SSO_INSTANCE_ARN ${given.instanceArn}` : given.identityStoreId ? `AWS_IDENTITY_STORE_ID ${given.identityStoreId}` : undefined;
    throw new ProviderError(
      named
        ? `${named} is not an active IAM Identity Center instance that these AWS credentials see in ${given.region} (ListInstances shows ${instances.map((i) => i.InstanceArn).join(', ') || 'none'})`
        : `no active IAM Identity Center instance in ${given.region} for these AWS credentials: set AWS_SSO_REGION to the instance's region, ${setBoth}`,
      false,
    );
  }
  if (usable.length > 1) {
    throw new ProviderError(`several IAM Identity Center instances in ${given.region} (${usable.map((i) => i.InstanceArn).join(', ')}): set AWS_SSO_INSTANCE_ARN to the one breakglass grants in`, false);
  }
  return { instanceArn: usable[0]!.InstanceArn!, identityStoreId: usable[0]!.IdentityStoreId! };
}

/**
 * The person's Identity Center user id: by user name when access.yml `people:` gives one (or a
 * listing reported it), else by email. Undefined when the identity store has no such user.
 */
export async function findUserId(store: IdentitystoreClient, call: Call, identityStoreId: string, person: Person): Promise<string | undefined> {
  const lookup = async (path: 'userName' | 'emails.value', value: string) => {
    try {
      const out = await call(`IdentityStore GetUserId ${path}=${value}`, () =>
        store.send(new GetUserIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: path, AttributeValue: value } } })),
      );
      return out.UserId;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  if (person.principal !== undefined) {
    // A principal a listing reported for a user it could not describe is the user id itself.
    return (await lookup('userName', person.principal)) ?? (USER_ID.test(person.principal) ? person.principal : undefined);
  }
  const found = await lookup('emails.value', person.email);
  // Slack and the identity provider may spell the email in different case.
  return found ?? (person.email !== person.email.toLowerCase() ? lookup('emails.value', person.email.toLowerCase()) : undefined);
}

/** Who a user id is, for listings; a user deleted since the assignment was made is only its id. */
export async function describeUser(store: IdentitystoreClient, call: Call, identityStoreId: string, userId: string): Promise<SsoUser> {
  try {
    const user = await call(`IdentityStore DescribeUser ${userId}`, () => store.send(new DescribeUserCommand({ IdentityStoreId: identityStoreId, UserId: userId })));
    const emails = user.Emails ?? [];
    const email = (emails.find((e) => e.Primary) ?? emails[0])?.Value;
    return { userId, ...(user.UserName ? { userName: user.UserName } : {}), ...(email ? { email } : {}) };
  } catch (err) {
    if (isNotFound(err)) return { userId };
    throw err;
  }
}
