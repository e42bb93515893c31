import { describe, expect, it } from 'vitest';
import { EnvError, readCliEnv, readEnv } from '../../src/config/env.ts';

const problems = (source: Record<string, string>): string[] => {
  try {
    readEnv(source);
  } catch (error) {
    if (error instanceof EnvError) return error.problems;
    throw error;
  }
  throw new Error('expected the environment to be refused');
};

describe('environment', () => {
  it('runs on the embedded database with only the bot token and the signing secret', () => {
    const env = readEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret' });
    expect(env).toMatchObject({ PORT: 3000, DATA_DIR: './.data', AWS_REGION: 'us-east-1', LOG_LEVEL: 'info' });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('names each missing setting and where to find it', () => {
    expect(problems({})).toEqual([
      expect.stringMatching(/^SLACK_BOT_TOKEN: is not set \(your Slack app's OAuth & Permissions → Bot User OAuth Token/),
      expect.stringMatching(/^SLACK_SIGNING_SECRET: set SLACK_SIGNING_SECRET \(HTTP mode.*\) or SLACK_APP_TOKEN \(Socket Mode\)/),
    ]);
  });

  it('says what a bad value should look like, without echoing it', () => {
    const found = problems({ SLACK_BOT_TOKEN: 'xoxp-user-token-secret', SLACK_APP_TOKEN: 'app-secret', DATABASE_URL: 'mysql://db', OKTA_ORG_URL: 'http://acme.okta.com', PORT: 'eighty' });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^SLACK_BOT_TOKEN: a bot token starts with xoxb-/),
        expect.stringMatching(/^SLACK_APP_TOKEN: an app-level token starts with xapp- \(.*connections:write/),
        expect.stringMatching(/^DATABASE_URL: must be a postgres:\/\/ URL/),
        expect.stringMatching(/^OKTA_ORG_URL: must be https/),
        expect.stringMatching(/^PORT: /),
        expect.stringMatching(/^OKTA_API_TOKEN: OKTA_ORG_URL and OKTA_API_TOKEN go together/),
      ]),
    );
    expect(found.join('\n')).not.toMatch(/xoxp-user-token-secret|app-secret|mysql/);
  });

  it('refuses the placeholder tokens from the docs, naming the variable', () => {
    expect(problems({ SLACK_BOT_TOKEN: 'xoxb-…', SLACK_APP_TOKEN: 'xapp-1-…' })).toEqual([
      expect.stringMatching(/^SLACK_BOT_TOKEN: a bot token is xoxb- followed by letters, digits and dashes; this looks like a placeholder/),
      expect.stringMatching(/^SLACK_APP_TOKEN: an app-level token is xapp- followed by letters, digits and dashes; this looks like a placeholder/),
    ]);
  });

  it('takes HOST as the address to listen on, unset by default', () => {
    expect(readEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' }).HOST).toBeUndefined();
    expect(readEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', HOST: '127.0.0.1' }).HOST).toBe('127.0.0.1');
  });

  it('takes DATABASE_MIGRATION_URL only beside DATABASE_URL', () => {
    expect(problems({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', DATABASE_MIGRATION_URL: 'postgres://owner@db/bg' })).toEqual([
      expect.stringMatching(/^DATABASE_MIGRATION_URL: DATABASE_MIGRATION_URL needs DATABASE_URL/),
    ]);
  });

  it('accepts plain http for Okta only on a loopback address', () => {
    expect(readEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', OKTA_ORG_URL: 'http://127.0.0.1:8080', OKTA_API_TOKEN: 't' }).OKTA_ORG_URL).toBe('http://127.0.0.1:8080');
  });

  it('treats an empty value as unset, as FOO= in a .env file means', () => {
    expect(problems({ SLACK_BOT_TOKEN: '', SLACK_SIGNING_SECRET: 's' })).toEqual([expect.stringMatching(/^SLACK_BOT_TOKEN: is not set/)]);
  });

  it('needs no Slack setting for the CLI', () => {
    expect(readCliEnv({})).toEqual({ DATA_DIR: './.data', ACCESS_CONFIG: './access.yml' });
  });
});
