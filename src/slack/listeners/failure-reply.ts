import { isDatabaseUnreachable } from '../../db/unreachable.ts';

/**
 * What a person is told when their command or click failed for a reason that is not theirs. A
 * database outage gets its own answer, so they know retrying soon is the fix, not a bug report.
 */
export function failureReply(error: unknown): string {
  return isDatabaseUnreachable(error)
    ? ':warning: breakglass cannot reach its database right now, so it could not record this and nothing was changed. Please try again in a minute.'
    : 'Something went wrong and nothing was changed. Please try again; if it keeps failing, tell your security team.';
}

/** A grant whose decision was recorded before the database went away: the recovery worker finishes it. */
export const GRANT_FINISHES_LATER =
  'breakglass lost its database while granting, so it finishes the grant and records it as soon as the database is back.';

/** A grant whose provider call got no answer: breakglass lists the provider until it knows. */
export const GRANT_BEING_CHECKED = 'the provider did not answer; breakglass is checking whether access was granted, and the requester is told the outcome.';
