import type { StoredEvent } from '../../ledger/event.ts';
import type { Gap } from '../readiness/readiness.ts';

/**
 * The ledger for a SIEM, as OCSF 1.1 events (JSON Lines). Group memberships breakglass added or
 * removed are Group Management (3006); every other grant and revoke (an inline policy, a
 * permission set, a database role, a system granted by hand) is User Access Management (3005);
 * drift and readiness findings are Compliance Findings (2003); every other event is a Base Event
 * (0) so the copy stays whole. Each carries its ledger `seq` and `hash` (in `metadata` and
 * `unmapped.ledger`) to trace it back to the chain.
 */

export const OCSF_VERSION = '1.1.0';

/** What a grant gave, as its provider module's target (from the grant, or a review campaign). */
export type GrantTargetShape = { kind: string; [field: string]: unknown };

const SEVERITY = { informational: 1, low: 2, medium: 3, high: 4 } as const;

type Ocsf = Record<string, unknown>;

function base(event: StoredEvent, classUid: number, categoryUid: number, activityId: number, severity: number, productVersion: string): Ocsf {
  return {
    class_uid: classUid,
    category_uid: categoryUid,
    activity_id: activityId,
    type_uid: classUid * 100 + activityId,
    severity_id: severity,
    time: event.occurredAt.getTime(),
    status_id: 1,
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'breakglass', vendor_name: 'breakglass', version: productVersion },
      uid: `breakglass:${event.seq}`,
      sequence: event.seq,
      log_name: 'evidence_events',
    },
    actor: { user: { uid: event.actor, type_id: event.actor === 'breakglass' ? 3 : 1 } },
    message: `${event.kind}${event.resource ? ` ${event.resource}` : ''}${event.subject ? ` for ${event.subject}` : ''}`,
    unmapped: { ledger: { seq: event.seq, hash: event.hash, prev_hash: event.prevHash, kind: event.kind, request_id: event.requestId }, details: event.details },
  };
}

/** The group a target adds a person to, when it is a group membership. */
function groupOf(target: GrantTargetShape | undefined): { name: string; uid?: string; type: string } | undefined {
  if (target?.kind === 'okta_group') return { name: String(target.groupId), uid: String(target.groupId), type: 'Okta group' };
  if (target?.kind === 'aws_iam_group') return { name: String(target.groupName), type: 'AWS IAM group' };
  return undefined;
}

function privilegesOf(target: GrantTargetShape | undefined): string[] {
  switch (target?.kind) {
    case 'aws_sso_assignment':
      return [`${String(target.permissionSetArn)} in account ${String(target.accountId)}`];
    case 'postgres_role':
      return [`PostgreSQL role ${String(target.role)}`];
    case 'aws_iam_policy':
      return ['AWS IAM inline policy'];
    case 'manual':
      return [`${String(target.system)} (granted by hand)`];
    default:
      return target ? [target.kind] : [];
  }
}

/** A grant or a revoke: a membership change (3006) or a change to a user's privileges (3005). */
function accessChange(event: StoredEvent, granted: boolean, target: GrantTargetShape | undefined, productVersion: string): Ocsf {
  const user = { uid: event.subject ?? String((event.details as { principal?: unknown }).principal ?? ''), type_id: 1 };
  const resource = event.resource ? { name: event.resource, type: 'breakglass resource' } : undefined;
  const group = groupOf(target);
  if (group) return { ...base(event, 3006, 3, granted ? 3 : 4, SEVERITY.informational, productVersion), group, user, ...(resource ? { resource } : {}) };
  return { ...base(event, 3005, 3, granted ? 1 : 2, SEVERITY.informational, productVersion), user, privileges: privilegesOf(target), ...(resource ? { resources: [resource] } : {}) };
}

function driftFinding(event: StoredEvent, productVersion: string): Ocsf {
  const drift = String((event.details as { drift?: unknown }).drift ?? 'unmanaged');
  return {
    ...base(event, 2003, 2, 1, SEVERITY.medium, productVersion),
    finding_info: { uid: `drift:${event.seq}`, title: drift === 'unmanaged' ? 'Access nobody granted or kept (unmanaged)' : 'Access still held after breakglass revoked it', created_time: event.occurredAt.getTime(), types: ['drift'] },
    compliance: { standards: ['SOC 2'], control: 'CC6.2', status: 'Fail', status_id: 3 },
    resources: event.resource ? [{ name: event.resource, type: 'breakglass resource' }] : [],
  };
}

/** One ledger event as OCSF; `target` is what its grant gave, for grants and revokes. */
export function eventToOcsf(event: StoredEvent, target: GrantTargetShape | undefined, productVersion: string): Ocsf {
  if (event.kind === 'grant.applied') return accessChange(event, true, (event.details as { target?: GrantTargetShape }).target ?? target, productVersion);
  if (event.kind === 'grant.revoked') return accessChange(event, false, target, productVersion);
  if (event.kind === 'drift.detected') return driftFinding(event, productVersion);
  return base(event, 0, 0, 0, SEVERITY.informational, productVersion);
}

/** A readiness gap as a Compliance Finding, naming the ledger events (seq and hash) behind it. */
export function gapToOcsf(gap: Gap, hashes: ReadonlyMap<number, string>, productVersion: string): Ocsf {
  const at = Date.parse(gap.at);
  return {
    class_uid: 2003,
    category_uid: 2,
    activity_id: 1,
    type_uid: 200301,
    severity_id: gap.kind === 'ledger_tampered' ? SEVERITY.high : SEVERITY.medium,
    time: at,
    status_id: 1,
    metadata: { version: OCSF_VERSION, product: { name: 'breakglass', vendor_name: 'breakglass', version: productVersion }, uid: `breakglass:${gap.id ?? gap.kind}`, log_name: 'readiness' },
    message: gap.summary,
    finding_info: { uid: gap.id ?? `${gap.kind}:${gap.at}`, title: gap.kind, desc: gap.summary, created_time: at, types: ['readiness', gap.kind] },
    compliance: { standards: ['SOC 2'], status: 'Fail', status_id: 3 },
    resources: gap.resource ? [{ name: gap.resource, type: 'breakglass resource' }] : [],
    unmapped: { ledger: gap.seqs.map((seq) => ({ seq, hash: hashes.get(seq) ?? null })), responses: gap.responses ?? [] },
  };
}
