import { z } from 'zod';
import { ProviderSetupError, defineProvider, type ProviderSetup } from '../module.ts';
import { isOktaTarget, type OktaTarget } from './target.ts';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

const oktaOrgUrl = z.url().refine(
  (value) => {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
  },
  'must be https (plain http is accepted only for a loopback address such as http://127.0.0.1:PORT)',
);

/** Okta group membership; Okta is also the identity directory (leavers, managers) when configured. */
export const okta = defineProvider({
  grantKeys: ['okta_group'],
  grantFields: { okta_group: z.string().min(1).optional() },
  toTarget: (grant): OktaTarget => ({ kind: 'okta_group', groupId: grant.okta_group! }),
  owns: isOktaTarget,

  // Okta finds a person by login or primary email: the Slack email is enough.
  personFields: {},
  principalOf: () => undefined,
  identity: { system: 'Okta', matchedBy: 'Okta login or email' },

  env: { OKTA_ORG_URL: oktaOrgUrl.optional(), OKTA_API_TOKEN: z.string().min(1).optional() },
  envHints: {
    OKTA_ORG_URL: 'e.g. https://your-org.okta.com',
    OKTA_API_TOKEN: 'Okta Admin → Security → API → Tokens (a Group Membership Admin over the groups in access.yml)',
  },
  envProblems(present) {
    if (Boolean(present.OKTA_ORG_URL) === Boolean(present.OKTA_API_TOKEN)) return [];
    return [{ name: present.OKTA_ORG_URL ? 'OKTA_API_TOKEN' : 'OKTA_ORG_URL', message: 'OKTA_ORG_URL and OKTA_API_TOKEN go together' }];
  },
  setupHint: 'set OKTA_ORG_URL and OKTA_API_TOKEN',

  // Configured whenever the environment names an org, even with no Okta resource: it feeds leavers.
  async setup({ env, resources, retry }): Promise<ProviderSetup | undefined> {
    if (!env.OKTA_ORG_URL || !env.OKTA_API_TOKEN) {
      if (resources.length === 0) return undefined;
      throw new ProviderSetupError(`access.yml grants Okta groups (${resources.map((r) => r.name).join(', ')}) but OKTA_ORG_URL and OKTA_API_TOKEN are not set.`);
    }
    const { OktaProvider } = await import('./okta-provider.ts');
    const { OktaVerifyPush } = await import('./okta-verify.ts');
    const provider = new OktaProvider({ orgUrl: env.OKTA_ORG_URL, token: env.OKTA_API_TOKEN }, { retry });
    return {
      provider,
      identities: provider,
      pushVerifier: new OktaVerifyPush(provider.client, retry),
      deactivations: {
        listDeactivatedSince: async (since) =>
          (await provider.listDeactivatedSince(since)).map((u) => ({ email: u.email ?? u.login, login: u.login, status: u.status ?? 'UNKNOWN', deactivatedAt: u.statusChanged })),
      },
    };
  },

  // Okta can only end all of a person's sessions, not those of one group's apps: breakglass does not, and says so.
  describe: (target) =>
    `membership of Okta group \`${target.groupId}\`; sessions already open in the apps the group assigns are not ended at revoke and last until each app's own session ends (Okta cannot end only the sessions one group gave)`,
});
