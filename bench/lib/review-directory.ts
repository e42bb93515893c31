/**
 * The synthetic organisation for bench/review-campaign.ts, served by the same wire-level Okta and
 * Slack servers the tests use, in a child process of its own so the benchmark's memory figure is
 * the bot's alone. Run with `node --import tsx bench/lib/review-directory.ts`; it prints one JSON
 * line with the servers' addresses, answers `counts` on stdin with the calls it served, and exits
 * when stdin closes.
 *
 * The organisation (deterministic):
 *  - PEOPLE people with production access (default 10,000), each in GROUPS_PER_PERSON of the
 *    RESOURCES Okta groups (default 3 of 200), so about 30,000 lines of access;
 *  - managed by a separate hierarchy: 1 CEO, 10 VPs, 100 directors and 1,000 managers (10 each),
 *    who hold no access themselves, so every manager is a real Okta and Slack lookup;
 *  - 1% of people have no manager (their lines go to the security channel) and 0.5% have left
 *    (DEPROVISIONED: their lines go straight to revoke).
 */
import { createInterface } from 'node:readline';
import { startOktaServer } from '../../test/support/okta-server.ts';
import { startSlackServer } from '../../test/support/slack-server.ts';

export interface Organisation {
  people: number;
  resources: number;
  groupsPerPerson: number;
}

export function organisationFromEnv(env: NodeJS.ProcessEnv = process.env): Organisation {
  return { people: Number(env.BENCH_PEOPLE ?? 10_000), resources: Number(env.BENCH_RESOURCES ?? 200), groupsPerPerson: Number(env.BENCH_GROUPS_PER_PERSON ?? 3) };
}

export const groupId = (r: number) => `00gBENCH${String(r).padStart(5, '0')}`;
export const resourceName = (r: number) => `res-${String(r).padStart(3, '0')}`;

/** The groups person `i` is in: distinct, spread over every resource. */
export function groupsOf(i: number, org: Organisation): number[] {
  const out = new Set<number>();
  for (let k = 0; out.size < Math.min(org.groupsPerPerson, org.resources); k++) out.add((i * (7 + 6 * k) + k * 37) % org.resources);
  return [...out];
}

async function serve(): Promise<void> {
  const org = organisationFromEnv();
  const okta = await startOktaServer();
  const slackUsers: Array<{ id: string; name: string; email: string }> = [];
  const addLeader = (login: string, managerId?: string) => {
    const u = okta.addUser({ login, firstName: login.split('@')[0], lastName: 'Leader', ...(managerId ? { managerId } : {}) });
    slackUsers.push({ id: `U${String(slackUsers.length).padStart(8, '0')}`, name: login.split('@')[0]!, email: login });
    return u.id;
  };
  const ceo = addLeader('ceo@example.com');
  const vps = Array.from({ length: 10 }, (_, v) => addLeader(`vp${v}@example.com`, ceo));
  const directors = Array.from({ length: 100 }, (_, d) => addLeader(`director${d}@example.com`, vps[d % vps.length]));
  const managers = Array.from({ length: 1_000 }, (_, m) => addLeader(`manager${m}@example.com`, directors[m % directors.length]));
  const members: string[][] = Array.from({ length: org.resources }, () => []);
  for (let i = 0; i < org.people; i++) {
    const login = `person${i}@example.com`;
    const noManager = i % 100 === 99;
    const left = i % 200 === 7;
    const u = okta.addUser(
      { login, firstName: 'Person', lastName: String(i), ...(noManager ? {} : { managerId: managers[i % managers.length] }) },
      left ? { status: 'DEPROVISIONED' } : {},
    );
    for (const g of groupsOf(i, org)) members[g]!.push(u.id);
  }
  for (let r = 0; r < org.resources; r++) {
    const g = okta.addGroup({ id: groupId(r), name: resourceName(r) });
    g.members = members[r]!;
  }
  const slack = await startSlackServer({ users: slackUsers });
  process.stdout.write(`${JSON.stringify({ oktaUrl: okta.url, oktaToken: okta.token, slackApiUrl: slack.apiUrl, slackToken: slack.token, slackUrl: slack.url })}\n`);
  const lines = createInterface({ input: process.stdin });
  // Calls served since the last `counts`.
  let seen = { lookups: 0, posts: 0 };
  lines.on('line', (line) => {
    if (line.trim() !== 'counts') return;
    const lookups = slack.calls('users.lookupByEmail').length;
    const posts = slack.calls('chat.postMessage').length;
    process.stdout.write(
      `${JSON.stringify({
        okta_calls: okta.requests.length,
        okta_list_pages: okta.requests.filter((r) => r.path.endsWith('/users') && r.path.includes('/groups/')).length,
        okta_user_lookups: okta.requests.filter((r) => /^\/api\/v1\/users\/[^/]+$/.test(r.path)).length,
        slack_lookups: lookups - seen.lookups,
        slack_posts: posts - seen.posts,
        slack_violations: slack.violations.length,
      })}\n`,
    );
    okta.requests.length = 0;
    seen = { lookups, posts };
  });
  lines.on('close', () => {
    void Promise.all([okta.close(), slack.close()]).then(() => process.exit(0));
  });
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) await serve();
