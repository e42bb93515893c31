import { distance } from 'fastest-levenshtein';
import type { AccessConfig, ResourceConfig } from '../config/access-schema.ts';
import type { RefusalReason } from './refusals.ts';

/** Membership answers the policy needs; the caller resolves Slack user groups beforehand. */
export interface Audience {
  slack_users?: string[] | undefined;
  slack_usergroup?: string | undefined;
}

export function audienceMembers(audience: Audience, usergroupMembers: (groupId: string) => readonly string[]): Set<string> {
  return new Set([...(audience.slack_users ?? []), ...(audience.slack_usergroup ? usergroupMembers(audience.slack_usergroup) : [])]);
}

export function mayRequest(resource: ResourceConfig, user: string, usergroupMembers: (groupId: string) => readonly string[]): boolean {
  return resource.requesters === undefined || audienceMembers(resource.requesters, usergroupMembers).has(user);
}

/** The resources this person may request, the closest to what they typed first. */
export function requestableResources(config: AccessConfig, user: string, typed: string, usergroupMembers: (groupId: string) => readonly string[]): string[] {
  return Object.entries(config.resources)
    .filter(([, r]) => mayRequest(r, user, usergroupMembers))
    .map(([name]) => name)
    .sort((a, b) => closeness(typed, a) - closeness(typed, b) || a.localeCompare(b));
}

/** Edit distance, with names that contain what was typed (or the reverse) counted closest. */
function closeness(typed: string, name: string): number {
  const t = typed.toLowerCase();
  if (name.includes(t) || t.includes(name)) return Math.abs(name.length - t.length) / 100;
  return distance(t, name);
}

export type RequestCheck =
  | { ok: true; resource: ResourceConfig }
  | { ok: false; refusal: RefusalReason };

/** The policy's answer to "may this person ask for this resource for this long". */
export function checkRequest(
  config: AccessConfig,
  input: { user: string; resource: string; durationMs: number },
  usergroupMembers: (groupId: string) => readonly string[],
): RequestCheck {
  const resource = Object.hasOwn(config.resources, input.resource) ? config.resources[input.resource] : undefined;
  if (!resource || !mayRequest(resource, input.user, usergroupMembers)) {
    const options = requestableResources(config, input.user, input.resource, usergroupMembers);
    return { ok: false, refusal: { code: 'not_requestable', resource: input.resource, options, exists: resource !== undefined } };
  }
  if (input.durationMs > resource.max_duration) {
    return { ok: false, refusal: { code: 'too_long', resource: input.resource, durationMs: input.durationMs, maxMs: resource.max_duration } };
  }
  return { ok: true, resource };
}

/**
 * Everyone who may approve, never including the requester (separation of duties). A channel named
 * alone makes its members the approvers; beside users or a group, only those are, wherever the
 * card is posted: being in a channel is no authority of its own.
 */
export function eligibleApprovers(resource: ResourceConfig, requester: string, usergroupMembers: (groupId: string) => readonly string[]): string[] {
  const pool = approvalChannelAlone(resource) ? usergroupMembers(resource.approvers.channel!) : [...audienceMembers(resource.approvers, usergroupMembers)];
  return [...new Set(pool)].filter((u) => u !== requester);
}

/** Whether the resource's approvers are the members of its approval channel, no one being named. */
export function approvalChannelAlone(resource: ResourceConfig): boolean {
  return resource.approvers.channel !== undefined && !resource.approvers.slack_users?.length && resource.approvers.slack_usergroup === undefined;
}
