/**
 * Provider calls per drift pass: what one listing of every configured resource costs at the
 * provider, counted at the wire (test/support's IAM and Okta servers, the real SDKs).
 *
 * IAM: an account of 2,000 IAM users and 20 resources (10 `aws_iam_group`, 10 `aws_iam_policy`),
 * 5 holders each; the pass is AwsIamProvider.listAccess for each resource, as the drift check and
 * a review make it. Okta: 20 `okta_group` resources over 2,000 people, at 100 members a group and
 * in the worst case of everyone in every group; its share is of Okta's documented per-minute limit
 * for /api/v1/groups/{id}/users ("Create or list groups: /api/v1/groups except /api/v1/groups/{id}":
 * 500 a minute for Workforce Identity, 600 Enterprise, 100 Integrator Free).
 * Before listing through GetAccountAuthorizationDetails (commit 56c486a) the IAM pass took 20,260
 * calls: ListUsers 200, ListUserPolicies 20,000, GetUserPolicy 50, GetGroup 10.
 * Sizes: BENCH_IAM_USERS, BENCH_RESOURCES. Counts are deterministic: one run each.
 * Run alone: BENCH_ONLY=provider-calls.bench npm run bench (or npx tsx bench/provider-calls.bench.ts).
 */
import type { GrantTarget, IamPolicyDocument } from '../src/ports.ts';
import { AwsIamProvider } from '../src/providers/aws-iam/aws-iam-provider.ts';
import { OktaProvider } from '../src/providers/okta/okta-provider.ts';
import { startIamServer } from '../test/support/iam-server.ts';
import { startOktaServer } from '../test/support/okta-server.ts';
import { figure, report, type Figure } from './lib/common.ts';

const USERS = Number(process.env.BENCH_IAM_USERS ?? 2000);
const RESOURCES = Number(process.env.BENCH_RESOURCES ?? 20);
const HOLDERS = 5;
/** Okta's per-minute limit on /api/v1/groups/{id}/users, Workforce Identity (Enterprise: 600). */
const OKTA_GROUPS_LIMIT_PER_MINUTE = 500;

const policy: IamPolicyDocument = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::prod-logs/*' }] };

async function iamPass(): Promise<{ calls: number; byAction: Record<string, number> }> {
  const iam = await startIamServer();
  const account = iam.account();
  const names = Array.from({ length: USERS }, (_, i) => `user${String(i).padStart(4, '0')}@example.com`);
  for (const n of names) account.addUser(n);
  const resources: Array<{ name: string; target: GrantTarget }> = [];
  for (let r = 0; r < RESOURCES; r++) {
    const holders = names.slice(r * HOLDERS, (r + 1) * HOLDERS);
    if (r % 2 === 0) {
      account.addGroup(`Group${r}`, { members: holders });
      resources.push({ name: `group-${r}`, target: { kind: 'aws_iam_group', groupName: `Group${r}` } });
    } else {
      for (const h of holders) account.putUserPolicy(h, `breakglass-policy-${r}`, policy);
      resources.push({ name: `policy-${r}`, target: { kind: 'aws_iam_policy', policy } });
    }
  }
  const provider = new AwsIamProvider({ iamEndpoint: iam.url, stsEndpoint: iam.url, credentials: iam.credentials });
  try {
    const listed = await Promise.all(resources.map((r) => provider.listAccess(r.name, r.target)));
    const found = listed.reduce((n, l) => n + l.length, 0);
    if (found !== RESOURCES * HOLDERS) throw new Error(`the pass found ${found} holders, expected ${RESOURCES * HOLDERS}`);
    const byAction: Record<string, number> = {};
    for (const r of iam.requests) byAction[r.action] = (byAction[r.action] ?? 0) + 1;
    return { calls: iam.requests.length, byAction };
  } finally {
    provider.destroy();
    await iam.close();
  }
}

async function oktaPass(membersPerGroup: number): Promise<number> {
  const okta = await startOktaServer();
  const ids = Array.from({ length: USERS }, (_, i) => okta.addUser({ login: `person${i}@example.com`, email: `person${i}@example.com` }).id);
  const groups = Array.from({ length: RESOURCES }, (_, g) => okta.addGroup({ members: ids.slice(0, membersPerGroup).map((_, j) => ids[(g * 97 + j) % USERS]!) }).id);
  const provider = new OktaProvider({ orgUrl: okta.url, token: okta.token });
  try {
    const before = okta.requests.length;
    await Promise.all(groups.map((groupId, g) => provider.listAccess(`okta-${g}`, { kind: 'okta_group', groupId })));
    return okta.requests.length - before;
  } finally {
    await okta.close();
  }
}

const figures: Figure[] = [];
const iam = await iamPass();
figures.push(
  figure(`IAM calls per drift pass (${USERS.toLocaleString('en-US')} users, ${RESOURCES} resources)`, [iam.calls], 'calls', { limit: 20, lowerIsBetter: true, text: '< 20 (20,260 before GetAccountAuthorizationDetails)' }, {
    db: 'n/a',
    note: Object.entries(iam.byAction).map(([a, n]) => `${a} ${n}`).join(', '),
  }),
);
for (const members of [100, USERS]) {
  const calls = await oktaPass(members);
  figures.push(
    figure(`Okta calls per drift pass (${RESOURCES} groups of ${members.toLocaleString('en-US')})`, [calls], 'calls', undefined, { db: 'n/a' }),
    figure(`  share of Okta's ${OKTA_GROUPS_LIMIT_PER_MINUTE}/min limit (groups of ${members.toLocaleString('en-US')})`, [(100 * calls) / OKTA_GROUPS_LIMIT_PER_MINUTE], '%', undefined, {
      db: 'n/a',
      note: `Enterprise (600/min): ${((100 * calls) / 600).toFixed(1)} %; Integrator Free (100/min): ${((100 * calls) / 100).toFixed(0)} %`,
    }),
  );
}
report('provider-calls', figures);
