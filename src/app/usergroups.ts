import type { AccessConfig } from '../config/access-schema.ts';
import { approvalChannelAlone } from '../domain/policy.ts';
import type { ChatDirectory } from '../ports.ts';

/**
 * Resolves every Slack user group access.yml names (and every channel whose members approve), so the pure policy can answer membership
 * questions synchronously. The directory caches, so this is cheap after the first call.
 */
export async function usergroupLookup(config: AccessConfig, directory: ChatDirectory): Promise<(groupId: string) => readonly string[]> {
  const ids = new Set<string>();
  const add = (audience: { slack_usergroup?: string | undefined } | undefined) => {
    if (audience?.slack_usergroup) ids.add(audience.slack_usergroup);
  };
  for (const resource of Object.values(config.resources)) {
    add(resource.approvers);
    add(resource.requesters);
  }
  add(config.security);
  // A channel that alone names the approvers is answered here too: its members approve.
  const channels = new Set(Object.values(config.resources).flatMap((r) => (approvalChannelAlone(r) ? [r.approvers.channel!] : [])));
  const members = new Map([
    ...(await Promise.all([...ids].map(async (id) => [id, await directory.usergroupMembers(id)] as const))),
    ...(await Promise.all([...channels].map(async (id) => [id, await directory.channelMembers(id)] as const))),
  ]);
  return (groupId) => members.get(groupId) ?? [];
}
