import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BotProcess, freePort } from '../support/bot-process.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { TEST_SIGNING_SECRET } from '../support/slack-requests.ts';
import { startSlackServer } from '../support/slack-server.ts';

const WITHOUT = `security_channel: C0SEC
resources:
  prod-db:
    grant: { aws_iam_group: ProdDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;
const WITH = `${WITHOUT}    auto_approve:
      pagerduty: { schedule_ids: [PPRIMRY] }
`;

describe('on-call auto-approval without PAGERDUTY_API_TOKEN', () => {
  const stops: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('stops the start, naming the variable and the resource that needs it', async () => {
    const slack = await startSlackServer({ users: [] });
    stops.push(() => slack.close());
    const folder = mkdtempSync(join(tmpdir(), 'breakglass-oncall-start-'));
    writeFileSync(join(folder, 'access.yml'), WITH);
    const bot = new BotProcess({
      env: {
        HOME: folder,
        SLACK_BOT_TOKEN: slack.token,
        SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
        SLACK_API_URL: slack.apiUrl,
        ACCESS_CONFIG: join(folder, 'access.yml'),
        DATA_DIR: join(folder, 'data'),
        LOG_LEVEL: 'info',
      },
      port: await freePort(),
      startTimeoutMs: 120_000,
    });
    stops.push(() => bot.stop());
    await expect(bot.start()).rejects.toThrow(/the bot exited during start/);
    expect(bot.recentOutput()).toMatch(/PAGERDUTY_API_TOKEN is not set, but access.yml resource\(s\) "prod-db" use auto_approve.pagerduty/);
  }, 180_000);

  it('refuses a reload that adds auto_approve.pagerduty, keeping the policy in force', async () => {
    const h: Harness = await startHarness({ database: 'pglite', accessYml: WITHOUT, slack: { users: [] } });
    stops.push(() => h.stop());
    writeFileSync(h.accessPath, WITH);
    const outcome = await h.bot.reloadPolicy('SIGHUP');
    expect(outcome).toMatchObject({ kind: 'refused', problems: [expect.stringMatching(/^PAGERDUTY_API_TOKEN is not set/)] });
  });
});
