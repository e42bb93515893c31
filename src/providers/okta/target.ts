/** access.yml `grant: { okta_group: <group id> }`: membership of an Okta group. */
export interface OktaTarget {
  kind: 'okta_group';
  groupId: string;
}

export const isOktaTarget = (target: { kind: string }): target is OktaTarget => target.kind === 'okta_group';
