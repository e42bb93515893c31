import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeCheckpointIfDue } from '../../src/app/take-checkpoint.ts';
import { parseAccessConfig } from '../../src/config/access.ts';
import { openDatabase } from '../../src/db/client.ts';
import { generateSigningKey } from '../../src/evidence/checkpoint.ts';
import { Ledger } from '../../src/evidence/ledger.ts';
import { runCli } from '../support/cli.ts';
import { tamper } from '../support/tamper.ts';

const access = {
  config: parseAccessConfig(`security_channel: C0SEC
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`),
  hash: 'test',
  path: 'access.yml',
};

describe('npx breakglass evidence checkpoint verify', () => {
  const dir = mkdtempSync(join(tmpdir(), 'breakglass-cli-checkpoint-'));
  const env = { DATA_DIR: dir };
  const { signer } = generateSigningKey();
  let text = '';

  beforeAll(async () => {
    const database = await openDatabase({ dataDir: dir, holder: 'test' });
    const ledger = new Ledger();
    for (let i = 1; i <= 5; i++) {
      await database.db.transaction((tx) => ledger.append(tx, { kind: 'request.created', actor: 'U0ALICE', resource: 'prod-db', requestId: i }));
    }
    const deps = { db: database.db, ledger, clock: { now: () => new Date() }, access, wake: { grants() {}, outbox() {} } };
    text = (await takeCheckpointIfDue(deps, signer, { force: true })).taken!.text;
    await database.db.transaction((tx) => ledger.append(tx, { kind: 'request.created', actor: 'U0ALICE', resource: 'prod-db', requestId: 6 }));
    await database.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 for a genuine checkpoint pasted unquoted, and 1 for a forged one', async () => {
    // Unquoted, as a shell splits it: the words are joined back together.
    const genuine = await runCli(['evidence', 'checkpoint', 'verify', ...text.split(' '), '--public-key', signer.publicKey], env);
    expect(genuine).toMatchObject({ code: 0, stdout: expect.stringMatching(/^VERIFIED: event #5's hash matches the checkpoint of .* \(5 event\(s\)\), signed by key ed25519:[0-9a-f]{16}; the ledger now holds 7 event\(s\)/) });

    const forged = await runCli(['evidence', 'checkpoint', 'verify', text.replace('count=5', 'count=4')], env);
    expect(forged.code).toBe(1);
    expect(forged.stdout).toMatch(/^NOT VERIFIED: the checkpoint of .* \(4 event\(s\)\) is not genuine: its signature does not verify/);
  });

  it('evidence verify --checkpoint exits 1 when the newest events were deleted', async () => {
    const database = await openDatabase({ dataDir: dir, holder: 'test' });
    await tamper(database.db, sql`delete from evidence_events where seq > 3`);
    await database.close();
    const result = await runCli(['evidence', 'verify', '--checkpoint', `\`${text}\``], env);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^TAMPERED: the 3 event\(s\) present chain correctly, but the ledger does not match the checkpoint/);
    expect(result.stdout).toMatch(/CHECKPOINT FAILED: the newest 2 event\(s\) are missing/);
  });
});
