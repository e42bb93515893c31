import { and, eq, inArray } from 'drizzle-orm';
import type { GrantTarget } from '../ports.ts';
import type { Db, Tx } from './client.ts';
import { grants } from './schema.ts';

/** How long a process owns a grant it is applying before the recovery worker may finish it. */
export const GRANT_LEASE_MS = 60_000;

/** A grant row in `granting`, leased to this process so the recovery worker leaves it alone for now. */
export async function insertGrant(
  tx: Tx,
  input: {
    requestId: number;
    ask: { requester: string; resource: string; durationMs: number; email: string; awsIamUser?: string | undefined };
    target: GrantTarget;
    emergency: boolean;
    now: Date;
  },
): Promise<number> {
  const [grant] = await tx
    .insert(grants)
    .values({
      requestId: input.requestId,
      person: input.ask.requester,
      email: input.ask.email,
      awsIamUser: input.ask.awsIamUser ?? null,
      resource: input.ask.resource,
      target: input.target,
      state: 'granting',
      emergency: input.emergency,
      endsAt: new Date(input.now.getTime() + input.ask.durationMs),
      nextAttemptAt: new Date(input.now.getTime() + GRANT_LEASE_MS),
      createdAt: input.now,
    })
    .returning({ id: grants.id });
  return grant!.id;
}

/** One person's other live grants on a resource: their access must outlast this grant's end. */
export async function overlappingGrants(db: Db | Tx, person: string, resource: string, exceptId: number) {
  const rows = await db
    .select({ id: grants.id, endsAt: grants.endsAt, state: grants.state })
    .from(grants)
    .where(and(eq(grants.person, person), eq(grants.resource, resource), inArray(grants.state, ['active', 'granting'])));
  return rows.filter((row) => row.id !== exceptId);
}
