import type { AccessEntry, AccessProvider, GrantSpec, HumanTask } from '../../ports.ts';
import { ProviderError } from '../../ports.ts';
import { isManualTarget, type ManualTarget } from './target.ts';

/**
 * No API: every grant and removal is a task for the system's owners, and breakglass records it
 * once an owner confirms it in Slack. Asking again is harmless (the task is opened once per grant).
 */
export class ManualProvider implements AccessProvider {
  readonly name = 'manual';
  /** Who holds access lives only with the owners: drift and access reviews cannot list it. */
  readonly canList = false;

  supports = isManualTarget;

  async grant(spec: GrantSpec): Promise<HumanTask> {
    return { awaitingHuman: 'grant', ...ownersOf(spec) };
  }

  async revoke(spec: GrantSpec): Promise<HumanTask> {
    return { awaitingHuman: 'remove', ...ownersOf(spec) };
  }

  async listAccess(resource: string): Promise<AccessEntry[]> {
    throw new ProviderError(`${resource} is granted by hand: who holds it is known only to its owners`, false);
  }
}

function ownersOf(spec: GrantSpec): Omit<HumanTask, 'awaitingHuman'> {
  if (!isManualTarget(spec.target)) throw new ProviderError(`the manual provider cannot grant ${spec.target.kind}`, false);
  const target: ManualTarget = spec.target;
  return { system: target.system, owners: target.owners };
}
