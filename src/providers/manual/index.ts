import { z } from 'zod';
import { defineProvider, type ProviderSetup } from '../module.ts';
import { SLACK_USER_ID } from '../../domain/people.ts';
import { isManualTarget, type ManualTarget } from './target.ts';

const owners = z
  .strictObject({
    slack_users: z.array(z.string().regex(SLACK_USER_ID, 'a Slack user id looks like U012ABCDEF')).optional(),
    slack_usergroup: z.string().regex(/^S[A-Z0-9]{2,}$/, 'a Slack user group id looks like S012ABCDEF').optional(),
  })
  .refine((o) => (o.slack_users?.length ?? 0) > 0 || o.slack_usergroup !== undefined, { message: 'name at least one of slack_users or slack_usergroup' });

/** Systems without an API breakglass can call: their owners grant and remove by hand and confirm it in Slack. */
export const manual = defineProvider({
  grantKeys: ['manual'],
  grantFields: { manual: z.strictObject({ system: z.string().min(1), owners }).optional() },
  toTarget: ({ manual }): ManualTarget => ({
    kind: 'manual',
    system: manual!.system,
    owners: { slackUsers: manual!.owners.slack_users ?? [], ...(manual!.owners.slack_usergroup ? { slackUsergroup: manual!.owners.slack_usergroup } : {}) },
  }),
  owns: isManualTarget,

  personFields: {},
  principalOf: () => undefined,
  identity: { system: 'Systems granted by hand', matchedBy: 'the Slack email, as shown to the owners on their card', onlyWhenUsed: true },

  // Nothing to configure: the owners and Slack are all it needs.
  env: {},
  envHints: {},
  setupHint: 'name the system and its owners under grant: { manual: … }',

  async setup({ resources }): Promise<ProviderSetup | undefined> {
    if (resources.length === 0) return undefined;
    const { ManualProvider } = await import('./manual-provider.ts');
    return { provider: new ManualProvider() };
  },

  describe: (target) => {
    const who = [...target.owners.slackUsers.map((u) => `<@${u}>`), ...(target.owners.slackUsergroup ? [`<!subteam^${target.owners.slackUsergroup}>`] : [])].join(', ');
    return `${target.system}, granted and removed by hand by its owners (${who}); human-confirmed: each grant and removal is evidenced by an owner's Done in Slack, and breakglass cannot list who holds it, so drift checks skip it and access reviews cover the grants breakglass made and its owners confirmed (a reviewer's Revoke asks the owners to remove it)`;
  },
});
