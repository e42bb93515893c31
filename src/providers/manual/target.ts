/** access.yml `grant: { manual: { system, owners } }`: access a person grants by hand, confirmed in Slack. */
export interface ManualTarget {
  kind: 'manual';
  /** The system's name as the owners know it (Figma admin, the billing console, …). */
  system: string;
  /** Who grants and removes the access; only their Done counts. */
  owners: { slackUsers: string[]; slackUsergroup?: string };
}

export const isManualTarget = (target: { kind: string }): target is ManualTarget => target.kind === 'manual';
