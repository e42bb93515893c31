/** A grant's life: granting → active (⇄ extending) → revoking → revoked, or granting → failed. */
export type GrantState = 'granting' | 'active' | 'extending' | 'revoking' | 'revoked' | 'failed';

/** The access is held and can be given more time or ended early. */
export const RUNNING_GRANT_STATES = ['active', 'extending'] as const satisfies readonly GrantState[];
/** Not ended: the access is being given, or running. */
export const LIVE_GRANT_STATES = ['granting', ...RUNNING_GRANT_STATES] as const satisfies readonly GrantState[];
/** The provider may hold the access: live, or being revoked and not yet confirmed gone. */
export const HELD_GRANT_STATES = [...LIVE_GRANT_STATES, 'revoking'] as const satisfies readonly GrantState[];
