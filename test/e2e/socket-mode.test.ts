import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evidenceEvents } from '../../src/db/schema.ts';
import { ACTIONS } from '../../src/slack/blocks/view-models.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { blockAction, slashCommand } from '../support/slack-requests.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

const USERS = [
  { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
  { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
];

// Socket Mode is transport only: the database behind it does not matter, so PGlite alone.
describe('Socket Mode (SLACK_APP_TOKEN)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ database: 'pglite', accessYml: ACCESS, socketMode: true, slack: { users: USERS } });
    h.okta.addUser({ login: 'alice@example.com', email: 'alice@example.com', firstName: 'Alice', lastName: 'A' });
    h.okta.addGroup({ id: '00gPRODDB', name: 'prod-db' });
  });
  afterAll(async () => h?.stop());

  it('connects with the app token through SLACK_API_URL and serves a request from command to grant', async () => {
    await h.socket!.waitConnected();
    expect(h.socket!.opens).toEqual([{ accepted: true }]);

    const command = slashCommand({ text: 'prod-db 2h INC-77 replica lag', userId: 'U0ALICE', responseUrl: h.slack.responseUrl('request') }).payload;
    await h.socket!.send('slash_commands', command);
    const answer = await h.slack.waitFor(() => h.slack.responses('request')[0], 5_000, 'the answer to the command');
    expect(answer.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/Request #1 for `prod-db` \(2h\)/) });

    const card = await h.slack.waitFor(() => h.slack.lastMessage('U0BOB'), 5_000, 'the approval card');
    await h.socket!.send('interactive', blockAction({ userId: 'U0BOB', actionId: ACTIONS.approve, message: card }).payload);
    await h.slack.waitFor(() => h.okta.isMember('00gPRODDB', 'alice@example.com') || undefined, 5_000, 'alice in the Okta group');
    const kinds = async () => (await h.bot.database.db.select().from(evidenceEvents).orderBy(evidenceEvents.seq)).map((e) => e.kind);
    await h.slack.waitFor(async () => ((await kinds()).includes('grant.applied') ? true : undefined), 5_000, 'grant.applied');
    // People met for the first time (the requester, the approver) are recorded as person.seen between these.
    expect((await kinds()).filter((k) => !k.startsWith('person.'))).toEqual(['config.loaded', 'bot.started', 'request.created', 'request.approved', 'grant.applied']);
    expect(h.slack.violations).toEqual([]);
  });

  it('answers /healthz over HTTP in Socket Mode', async () => {
    const health = await fetch(`${h.baseUrl}/healthz`);
    expect(health.status).toBe(200);
  });

  it('opens a new connection after Slack drops one, and serves commands on it', async () => {
    await h.socket!.waitConnected();
    h.socket!.drop();
    await h.slack.waitFor(() => (h.socket!.opens.length >= 2 && h.socket!.connected ? true : undefined), 15_000, 'a second connection');
    // Answers that need no I/O travel back in the acknowledgement itself.
    const help = await h.socket!.send('slash_commands', slashCommand({ text: 'help', userId: 'U0ALICE' }).payload);
    expect(help.payload).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('/breakglass prod-db') });
  });
});

describe('Socket Mode with an app token Slack refuses', () => {
  let h: Harness;
  beforeAll(async () => {
    // The WebSocket cannot be opened, yet the bot must come up and keep revoking.
    h = await startHarness({ database: 'pglite', accessYml: ACCESS, socketMode: true, slack: { users: USERS }, env: { SLACK_APP_TOKEN: 'xapp-1-A111-111-not-the-real-one' } });
  });
  afterAll(async () => h?.stop());

  it('starts, serves /healthz and keeps its workers running; a refused app token is said plainly', async () => {
    const health = await fetch(`${h.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    await h.slack.waitFor(() => (h.socket!.opens.length > 0 ? true : undefined), 5_000, 'an attempt to open a connection');
    expect(h.socket!.opens).toEqual([{ accepted: false }]);
    await h.slack.waitFor(() => (h.logs().includes('Slack refused SLACK_APP_TOKEN') ? true : undefined), 5_000, 'the refusal logged');
    expect(h.logs()).not.toContain('xapp-1-A111-111-not-the-real-one');
    // The workers run without Slack: the security channel's outbox and the expiry loop are live.
    expect(h.logs()).toContain('breakglass is listening');
  });
});
