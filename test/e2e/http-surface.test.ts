import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { postgresAvailable } from '../support/databases.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { post, signedHeaders, slashCommand, type Signing } from '../support/slack-requests.ts';

const ACCESS = `security_channel: C0SEC
resources:
  prod-db:
    description: Production Postgres
    grant: { okta_group: 00g1 }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`;

for (const database of ['pglite', 'postgres'] as const) {
  describe.skipIf(database === 'postgres' && !postgresAvailable)(`the bot over HTTP [${database}]`, () => {
    let harness: Harness;
    beforeAll(async () => {
      harness = await startHarness({ database, accessYml: ACCESS });
    });
    afterAll(async () => harness?.stop());

    it('answers /healthz while the database is reachable', async () => {
      const response = await fetch(`${harness.baseUrl}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: true });
    });

    it('records the policy in force once, not at every start', async () => {
      const result = await verifyLedger(harness.bot.database.db);
      expect(result).toMatchObject({ ok: true, count: 2 }); // config.loaded and bot.started
    });

    it('answers /breakglass help in the ack, listing what may be requested', async () => {
      const response = await post(harness.baseUrl, slashCommand({ text: 'help', userId: 'U0ALICE' }));
      expect(response.status).toBe(200);
      const body = response.json as { response_type: string; text: string };
      expect(body.response_type).toBe('ephemeral');
      expect(body.text).toContain('`/breakglass <resource> <duration> <reason…>`');
      expect(body.text).toContain('`prod-db` up to 4h: Production Postgres');
    });

    it('explains a malformed command without changing anything', async () => {
      const response = await post(harness.baseUrl, slashCommand({ text: 'prod-db soon', userId: 'U0ALICE' }));
      expect(response.status).toBe(200);
      expect((response.json as { text: string }).text).toMatch(/"soon" is not a duration/);
      expect((await verifyLedger(harness.bot.database.db)).count).toBe(2); // config.loaded and bot.started, from boot
    });

    it.each<Signing>(['wrong-secret', 'stale', 'future', 'missing', 'tampered'])('refuses a %s request with 401 and changes nothing', async (signing) => {
      const callsBefore = harness.slack.calls().length;
      const response = await post(harness.baseUrl, slashCommand({ text: 'help', userId: 'U0ALICE', signing }));
      expect(response.status).toBe(401);
      expect(response.body).not.toContain('breakglass');
      expect(harness.slack.calls().length).toBe(callsBefore);
      expect((await verifyLedger(harness.bot.database.db)).count).toBe(2); // config.loaded and bot.started, from boot
    });

    it('answers 413 to a signed body over the size limit, to a sender that reads only after sending it all', async () => {
      const body = `token=x&text=${'x'.repeat(20 * 1024 * 1024)}`;
      const headers = { ...signedHeaders(body, 'application/x-www-form-urlencoded'), host: '127.0.0.1', 'content-length': String(Buffer.byteLength(body)) };
      const started = Date.now();
      // A raw socket: the whole body goes out before the answer is read, as many HTTP clients do.
      const answer = await new Promise<{ statusLine: string; error?: string }>((resolve) => {
        const socket = connect(harness.bot.port, '127.0.0.1');
        let data = '';
        socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
        socket.on('error', (error) => resolve({ statusLine: data.split('\r\n')[0] ?? '', error: error.message }));
        socket.on('close', () => resolve({ statusLine: data.split('\r\n')[0] ?? '' }));
        socket.write(`POST /slack/events HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
        socket.write(body, () => socket.end());
      });
      expect(answer).toEqual({ statusLine: 'HTTP/1.1 413 Payload Too Large' });
      expect(Date.now() - started).toBeLessThan(4_000);
      expect((await fetch(`${harness.baseUrl}/healthz`)).status).toBe(200);
      expect((await verifyLedger(harness.bot.database.db)).count).toBe(2); // config.loaded and bot.started, from boot: nothing from the refused body
    });

    it('made only calls that Slack’s own API specification allows', () => {
      expect(harness.slack.violations).toEqual([]);
    });
  });
}

describe('the bot before anyone wrote access.yml', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ database: 'pglite', providers: false });
  });
  afterAll(async () => harness?.stop());

  it('runs, and says nothing can be requested until access.yml exists, changing nothing', async () => {
    expect((await fetch(`${harness.baseUrl}/healthz`)).status).toBe(200);
    const request = await post(harness.baseUrl, slashCommand({ text: 'prod-db 1h INC-1 replica lag', userId: 'U0ALICE' }));
    expect(request.status).toBe(200);
    expect((request.json as { text: string }).text).toMatch(/no access policy yet.*nothing was changed.*access\.yml/);
    const help = await post(harness.baseUrl, slashCommand({ text: 'help', userId: 'U0ALICE' }));
    expect((help.json as { text: string }).text).toContain('No resources are configured yet');
    expect((await verifyLedger(harness.bot.database.db)).count).toBe(1); // bot.started, from boot
  });
});

describe('HOST', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ database: 'pglite', providers: false, env: { HOST: '127.0.0.1' } });
  });
  afterAll(async () => harness?.stop());

  it('listens only on the address it names', async () => {
    expect((await fetch(`http://127.0.0.1:${harness.bot.port}/healthz`)).status).toBe(200);
    // Every 127.x address reaches this machine; one the bot was not told to listen on is refused.
    await expect(fetch(`http://127.0.0.2:${harness.bot.port}/healthz`)).rejects.toThrow();
  });
});
