/** An emergency grant must be reviewed by an approver; after this long unreviewed, security hears of it. */
export const EMERGENCY_REVIEW_WITHIN_MS = 24 * 3_600_000;
