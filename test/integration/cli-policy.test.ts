import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAccessConfig } from '../../src/config/access.ts';
import { renderPolicy, words } from '../../src/reports/policy/policy-doc.ts';
import { runCli } from '../support/cli.ts';

const folder = mkdtempSync(join(tmpdir(), 'breakglass-policy-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** The shipped example with its commented-out Okta and AWS resources restored: it covers every option. */
const EXAMPLE = join(folder, 'access.yml');
writeFileSync(EXAMPLE, readFileSync(resolve('access.example.yml'), 'utf8').replace(/^#(\s{2}.*)$/gm, '$1'));
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The lines of one resource's section, up to the next heading. */
function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const next = markdown.indexOf('\n#', start + heading.length);
  return markdown.slice(start, next === -1 ? undefined : next);
}

describe('the policy document rendered from access.yml', () => {
  const loaded = loadAccessConfig(EXAMPLE);
  const doc = renderPolicy(loaded);

  it('is headed with the file path and the SHA-256 of its bytes', () => {
    expect(loaded.hash).toBe(sha256(EXAMPLE));
    expect(doc).toContain(`| Source | \`${EXAMPLE}\` |`);
    expect(doc).toContain(`| SHA-256 of the source | \`${sha256(EXAMPLE)}\` |`);
  });

  it('renders every resource: grant, requesters, approvers, N-of-M, duration, expiry, emergency', () => {
    expect(Object.keys(loaded.config.resources)).toEqual(['figma-admin', 'prod-db', 'prod-admin', 'prod-logs', 'prod-sso-admin']);
    const db = section(doc, '### `prod-db` — Production Postgres, read/write');
    expect(db).toContain('| How access is granted | membership of Okta group `00g1abcdEFGH2345ijk7`; sessions already open in the apps the group assigns are not ended at revoke and last until each app\'s own session ends (Okta cannot end only the sessions one group gave) |');
    expect(db).toContain('| Who may request it | members of Slack user group `S0ENG` |');
    expect(db).toContain('| Approvers | Slack users `U0DBA1`, `U0DBA2` and members of Slack user group `S0DBA` |');
    expect(db).toContain('| Approvals required | 1 distinct approver, never the requester |');
    expect(db).toContain('| Maximum duration | 4 hours; longer requests are refused |');
    expect(db).toContain('| Request expiry | an undecided request expires after 1 hour |');
    expect(db).toContain('| Reminders | the holder is reminded 15 minutes before access ends; approvers are reminded once of a request still undecided halfway to its expiry |');
    expect(db).toContain('| Emergency self-grant | not allowed: access needs approval first |');
    const admin = section(doc, '### `prod-admin`');
    expect(admin).toContain(
      '| How access is granted | membership of AWS IAM group `ProdAdmins`; requests with the IAM user’s own keys stop at revoke, but role sessions assumed with this access are not ended and can outlive the grant by up to the role’s maximum session duration (1 h by default, at most 12 h) |',
    );
    expect(admin).toContain('| Who may request it | everyone in the Slack workspace |');
    expect(admin).toContain('| Reminders | the holder is reminded 10 minutes before access ends;');
    expect(admin).toContain('| Approvals required | 2 distinct approvers, never the requester |');
    const logs = section(doc, '### `prod-logs`');
    expect(logs).toMatch(/inline AWS IAM user policy for `logs:GetLogEvents`, `logs:FilterLogEvents`, `logs:DescribeLogGroups` \(in the account of role `arn:aws:iam::123456789012:role\/breakglass-granter`\)/);
    expect(logs).toContain('| Emergency self-grant | allowed: granted at once, the security channel is alerted, and an approver must review it within 24 hours');
  });

  it('states emergency, separation of duties, reviews, offboarding, checkpoints and drift from the config', () => {
    expect(section(doc, '## 3. Emergency access')).toMatch(/`prod-logs`[\s\S]*security channel \(`C0SECURITY`\) is alerted immediately[\s\S]*within 24 hours of its start[\s\S]*escalated to the security channel/);
    expect(section(doc, '## 4. Separation of duties')).toMatch(/Nobody approves their own request/);
    const reviews = section(doc, '## 5. Access reviews');
    expect(reviews).toContain('**Cadence:** every quarter');
    expect(reviews).toContain('**Scope:** `prod-db`, `prod-admin`.');
    expect(reviews).toContain('**Due:** 14 days after the campaign starts; reminders every 3 days');
    expect(section(doc, '## 6. Offboarding')).toContain('The SLA for removing all their access is **24 hours**.');
    expect(section(doc, '## 7. Monitoring and evidence')).toMatch(/Ledger checkpoints:\*\* every 1 hour[\s\S]*Drift:\*\* every 1 hour[\s\S]*not removed automatically/);
  });

  it('follows the config: no emergency resource, a cron schedule, drift removal, whole-scope reviews', () => {
    const path = join(folder, 'minimal.yml');
    writeFileSync(
      path,
      'security_channel: C0SEC\nresources:\n  db:\n    grant: { okta_group: 00g }\n    max_duration: 90m\n    approvers: { slack_users: [U0A] }\n    requesters: { slack_users: [U0B, U0C] }\nreviews:\n  schedule: "0 9 1 * *"\noffboarding:\n  sla: 4h\ndrift:\n  action: remove\n',
    );
    const minimal = renderPolicy(loadAccessConfig(path));
    expect(minimal).toContain('No resource allows emergency self-grant: all access is approved before it is given.');
    expect(minimal).toContain('| Who may request it | Slack users `U0B`, `U0C` |');
    expect(minimal).toContain('| Maximum duration | 1 hour 30 minutes; longer requests are refused |');
    expect(minimal).toContain('on the cron schedule `0 9 1 * *` (UTC)');
    expect(minimal).toContain('**Scope:** `db`.');
    expect(minimal).toContain('**4 hours**');
    expect(minimal).toContain('reported to security as evidence and removed');
    expect(words(14 * 86_400_000)).toBe('14 days');
    expect(words(30 * 60_000)).toBe('30 minutes');
  });
});

describe('npx breakglass policy', () => {
  it('prints the document, or writes it with --out, the hash being the file’s', async () => {
    const out = join(folder, 'policy.md');
    const [printed, written] = await Promise.all([runCli(['policy'], { ACCESS_CONFIG: EXAMPLE }), runCli(['policy', '--out', out], { ACCESS_CONFIG: EXAMPLE })]);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toBe(renderPolicy(loadAccessConfig(EXAMPLE)));
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toBe(`Wrote ${out} from ${EXAMPLE} (SHA-256 ${sha256(EXAMPLE)})\n`);
    expect(readFileSync(out, 'utf8')).toBe(printed.stdout);
    expect(/SHA-256 of the source \| `([0-9a-f]{64})`/.exec(printed.stdout)?.[1]).toBe(sha256(EXAMPLE));
  });
});
