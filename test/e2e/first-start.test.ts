import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BotProcess, freePort } from '../support/bot-process.ts';
import { post, slashCommand, TEST_SIGNING_SECRET } from '../support/slack-requests.ts';
import { startSlackServer } from '../support/slack-server.ts';

/** `cp access.example.yml access.yml && npm start` with only the Slack settings: no Okta, no AWS. */
describe('first start', () => {
  const stops: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('starts with the shipped example access.yml and no provider credentials, and offers its resource', async () => {
    const slack = await startSlackServer({ users: [{ id: 'U0ALICE', name: 'alice', email: 'alice@example.com' }] });
    stops.push(() => slack.close());
    const folder = mkdtempSync(join(tmpdir(), 'breakglass-first-start-'));
    copyFileSync(new URL('../../access.example.yml', import.meta.url), join(folder, 'access.yml'));
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
    await bot.start();

    const answer = await post<{ text?: string }>(bot.baseUrl, slashCommand({ text: 'help', userId: 'U0ALICE', responseUrl: slack.responseUrl('help') }));
    expect(answer.status).toBe(200);
    const said = answer.json?.text ?? String((await slack.waitFor(() => slack.responses('help')[0], 5_000, 'the help answer')).body.text ?? '');
    expect(said).toContain('figma-admin');
  }, 180_000);
});
