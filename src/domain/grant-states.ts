/**
 * A grant's life: granting → active (⇄ extending) → revoking → revoked, or granting → failed.
 * `checking`: the provider call's outcome is unknown (no answer came back); breakglass lists the
 * provider until it knows, then moves on to active or failed.
 */
export type GrantState = 'granting' | 'checking' | 'active' | 'extending' | 'revoking' | 'revoked' | 'failed';

/** The access is held and can be given more time or ended early. */
export const RUNNING_GRANT_STATES = ['active', 'extending'] as const satisfies readonly GrantState[];
/** Not ended: the access is being given, or running. */
export const LIVE_GRANT_STATES = ['granting', 'checking', ...RUNNING_GRANT_STATES] as const satisfies readonly GrantState[];
/** The provider may hold the access: live, or being revoked and not yet confirmed gone. */
export const HELD_GRANT_STATES = [...LIVE_GRANT_STATES, 'revoking'] as const satisfies readonly GrantState[];
