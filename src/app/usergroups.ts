import type { AccessConfig } from '../config/access-schema.ts';
import type { ChatDirectory } from '../ports.ts';

/**
 * Resolves every Slack user group access.yml names, so the pure policy can answer membership
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
  const members = new Map(await Promise.all([...ids].map(async (id) => [id, await directory.usergroupMembers(id)] as const)));
  return (groupId) => members.get(groupId) ?? [];
}
