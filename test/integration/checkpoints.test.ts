import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { takeCheckpointIfDue } from '../../src/app/take-checkpoint.ts';
import { parseAccessConfig } from '../../src/config/access.ts';
import { evidenceEvents, outbox } from '../../src/db/schema.ts';
import type { Notification } from '../../src/domain/notifications.ts';
import { notificationMrkdwn } from '../../src/slack/render.ts';
import {
  checkpointSignatureValid,
  formatCheckpoint,
  generateSigningKey,
  loadSigningKey,
  normalisePublicKey,
  parseCheckpoint,
  signCheckpoint,
  type CheckpointSigner,
} from '../../src/ledger/checkpoint.ts';
import { checkLedgerAgainstCheckpoint, latestCheckpointEvent } from '../../src/ledger/checkpoint-check.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { resolveSigningKey } from '../../src/ledger/signing-key.ts';
import { verifyLedger } from '../../src/ledger/verify.ts';
import { checkpointReport } from '../../src/cli/checkpoint.ts';
import { createLogger } from '../../src/logger.ts';
import { FakeClock } from '../support/clock.ts';
import { describeEachDatabase } from '../support/databases.ts';
import { tamper, wipeLedger } from '../support/tamper.ts';
import { uncatalogued } from '../support/uncatalogued.ts';

const HOUR = 3_600_000;
const access = {
  config: parseAccessConfig(`security_channel: C0SEC
checkpoint_every: 1h
resources:
  prod-db:
    grant: { okta_group: 00gPRODDB }
    max_duration: 4h
    approvers: { slack_users: [U0BOB] }
`),
  hash: 'test',
  text: '',
  path: 'access.yml',
};

describeEachDatabase('ledger checkpoints', (ctx) => {
  const clock = new FakeClock('2026-03-02T09:00:00.000Z');
  const ledger = new Ledger(clock);
  const signer = generateSigningKey().signer;
  const deps = () => ({ db: ctx.database.db, ledger, clock, access, wake: { grants() {}, outbox() {} } });

  afterEach(async () => {
    await wipeLedger(ctx.database.db);
    await ctx.database.db.delete(outbox);
    clock.set('2026-03-02T09:00:00.000Z');
  });

  async function append(count: number, resource = 'prod-db', by = ledger) {
    for (let i = 0; i < count; i++) {
      await ctx.database.db.transaction((tx) => by.append(tx, uncatalogued({ kind: 'request.created', actor: 'U0ALICE', resource, requestId: i + 1, details: { reason: `reason ${i}` } })));
    }
  }
  const events = () => ctx.database.db.select().from(evidenceEvents).orderBy(evidenceEvents.seq);
  const checkpointsInLedger = async () => (await events()).filter((e) => e.kind === 'ledger.checkpoint');

  it('takes a checkpoint when due, covering the events before it, and queues it for the security channel', async () => {
    await append(3);
    clock.advance(HOUR - 1_000);
    expect((await takeCheckpointIfDue(deps(), signer)).taken).toBeUndefined();

    clock.advance(1_000);
    const { taken } = await takeCheckpointIfDue(deps(), signer);
    const rows = await events();
    expect(taken).toMatchObject({ seq: 4, checkpoint: { count: 3, head: rows[2]!.hash, at: clock.now().toISOString(), publicKey: signer.publicKey } });
    expect(rows[3]).toMatchObject({ kind: 'ledger.checkpoint', actor: 'breakglass', prevHash: rows[2]!.hash });
    expect(rows[3]!.details).toEqual({ v: 1, count: 3, head: rows[2]!.hash, at: clock.now().toISOString(), public_key: signer.publicKey, signature: taken!.checkpoint.signature });

    const queued = await ctx.database.db.select().from(outbox);
    expect(queued).toHaveLength(1);
    expect(queued[0]!.message).toMatchObject({ type: 'notify_security', notification: { kind: 'ledger_checkpoint', line: taken!.text } });
    // What security copies out of the Slack message is the checkpoint itself, and it matches the ledger.
    const posted = notificationMrkdwn((queued[0]!.message as { notification: Notification }).notification);
    expect(posted).toContain(`\`\`\`\n${taken!.text}\n\`\`\``);
    const fromSlack = parseCheckpoint(posted);
    expect(fromSlack).toEqual(taken!.checkpoint);
    expect(await checkLedgerAgainstCheckpoint(ctx.database.db, fromSlack, { publicKey: signer.publicKey })).toMatchObject({ ok: true });

    // Nothing new: the hourly one is skipped, the daily one is still taken.
    clock.advance(2 * HOUR);
    expect((await takeCheckpointIfDue(deps(), signer)).taken).toBeUndefined();
    clock.advance(22 * HOUR);
    expect((await takeCheckpointIfDue(deps(), signer)).taken).toMatchObject({ seq: 5, checkpoint: { count: 4 } });
    // Grown since: hourly again.
    await append(1);
    clock.advance(HOUR);
    expect((await takeCheckpointIfDue(deps(), signer)).taken).toMatchObject({ seq: 7, checkpoint: { count: 6 } });
    expect(await verifyLedger(ctx.database.db)).toMatchObject({ ok: true, count: 7 });
  });

  it('detects deleting the newest events, which the chain walk alone cannot', async () => {
    await append(5);
    const { taken } = await takeCheckpointIfDue(deps(), signer, { force: true });
    const slackCopy = taken!.text;
    await append(2);
    await tamper(ctx.database.db, sql`delete from evidence_events where seq > 3`);

    expect(await verifyLedger(ctx.database.db)).toMatchObject({ ok: true, count: 3 });
    // The checkpoint event went with the tail: only the copy outside the database shows it.
    expect(await latestCheckpointEvent(ctx.database.db)).toBeUndefined();
    const check = await checkLedgerAgainstCheckpoint(ctx.database.db, parseCheckpoint(slackCopy), { publicKey: signer.publicKey });
    expect(check).toMatchObject({ ok: false, problem: 'missing', newestSeq: 3 });
    expect(check.message).toMatch(/the newest 2 event\(s\) are missing: the checkpoint of 2026-03-02T09:00:00\.000Z \(5 event\(s\)\) covers events #1–#5, but the ledger now ends at event #3/);
    const report = await checkpointReport(ctx.database.db, { checkpoint: parseCheckpoint(slackCopy) });
    expect(report).toMatchObject({ ok: false, lines: [expect.stringMatching(/^CHECKPOINT FAILED: the newest 2 event\(s\) are missing/)] });
  });

  it('detects a rewritten chain that verifies on its own, and a replaced checkpoint by its key', async () => {
    await append(4);
    const { taken } = await takeCheckpointIfDue(deps(), signer, { force: true });
    const slackCopy = parseCheckpoint(taken!.text);

    // The attacker recomputes a valid chain with other content and signs their own checkpoint.
    await wipeLedger(ctx.database.db);
    await append(4, 'staging-db');
    const attacker = generateSigningKey().signer;
    await takeCheckpointIfDue(deps(), attacker, { force: true });
    await append(1, 'staging-db');
    expect(await verifyLedger(ctx.database.db)).toMatchObject({ ok: true, count: 6 });

    const check = await checkLedgerAgainstCheckpoint(ctx.database.db, slackCopy);
    expect(check).toMatchObject({ ok: false, problem: 'rewritten' });
    expect(check.message).toMatch(/^the chain was rewritten: event #4's hash differs from the checkpoint of/);

    // Read from the database, the attacker's checkpoint is self-consistent: only pinning the key exposes it.
    expect(await checkpointReport(ctx.database.db, {})).toMatchObject({ ok: true, lines: expect.arrayContaining([expect.stringMatching(/can rewrite its checkpoints too/)]) });
    const pinned = await checkpointReport(ctx.database.db, { publicKey: signer.publicKey });
    expect(pinned.ok).toBe(false);
    expect(pinned.lines[0]).toMatch(/signed by key ed25519:[0-9a-f]{16}, not by the pinned key/);
  });

  it('rejects a forged checkpoint: altered fields, a bad signature, or another key when the key is pinned', async () => {
    await append(3);
    const { taken } = await takeCheckpointIfDue(deps(), signer, { force: true });
    const genuine = taken!.checkpoint;

    const altered = parseCheckpoint(formatCheckpoint(genuine).replace('count=3', 'count=2'));
    expect(await checkLedgerAgainstCheckpoint(ctx.database.db, altered)).toMatchObject({ ok: false, problem: 'signature', message: expect.stringMatching(/is not genuine: its signature does not verify/) });
    const badSig = { ...genuine, signature: Buffer.alloc(64, 7).toString('base64') };
    expect(await checkLedgerAgainstCheckpoint(ctx.database.db, badSig)).toMatchObject({ ok: false, problem: 'signature' });
    // Someone else's key over the true head: a valid signature, but not by our key.
    const other = signCheckpoint(generateSigningKey().signer, { count: genuine.count, head: genuine.head, at: genuine.at });
    expect(await checkLedgerAgainstCheckpoint(ctx.database.db, other)).toMatchObject({ ok: true });
    expect(await checkLedgerAgainstCheckpoint(ctx.database.db, other, { publicKey: signer.publicKey })).toMatchObject({ ok: false, problem: 'key' });
    expect(await checkLedgerAgainstCheckpoint(ctx.database.db, genuine, { publicKey: signer.publicKey })).toMatchObject({ ok: true });
  });

  it('takes one checkpoint when two replicas try at once', async () => {
    await append(2);
    clock.advance(2 * HOUR);
    const replicas: CheckpointSigner[] = [generateSigningKey().signer, generateSigningKey().signer];
    const outcomes = await Promise.all([...replicas, ...replicas].map((s) => takeCheckpointIfDue(deps(), s)));
    expect(outcomes.filter((o) => o.taken)).toHaveLength(1);
    expect(await checkpointsInLedger()).toHaveLength(1);
    expect(await ctx.database.db.select().from(outbox)).toHaveLength(1);
    expect(await verifyLedger(ctx.database.db)).toMatchObject({ ok: true, count: 3 });
  });
});

describe('checkpoint text form and keys', () => {
  const { signer, encoded } = generateSigningKey();
  const checkpoint = signCheckpoint(signer, { count: 123, head: 'ab'.repeat(32), at: '2026-03-02T10:00:00.000Z' });
  const text = formatCheckpoint(checkpoint);

  it('round-trips, also as copied out of Slack', () => {
    expect(text).toMatch(/^breakglass-checkpoint v1 count=123 head=(ab){32} at=2026-03-02T10:00:00\.000Z key=\S{60} sig=\S{88}$/);
    expect(parseCheckpoint(text)).toEqual(checkpoint);
    expect(checkpointSignatureValid(parseCheckpoint(text))).toBe(true);
    const sig = checkpoint.signature;
    const pasted = [
      `\`${text}\``,
      `\`\`\`\n${text}\n\`\`\``,
      `&gt; ${text}`,
      `:lock: *Ledger checkpoint*: 123 events\n\`\`\`\n${text}\n\`\`\`\nKeep this message: it proves what the ledger held.`,
      `  ${text.replace(` sig=${sig}`, `\nsig=${sig.slice(0, 40)}\n${sig.slice(40)}`)}  `,
      text.replace(/ /g, '\u00a0'),
    ];
    for (const variant of pasted) expect(parseCheckpoint(variant), variant).toEqual(checkpoint);
  });

  it('says what is wrong with text that is not a checkpoint', () => {
    expect(() => parseCheckpoint('hello')).toThrow(/not a checkpoint/);
    expect(() => parseCheckpoint(text.replace(' v1 ', ' v2 '))).toThrow(/unsupported checkpoint version "v2"/);
    expect(() => parseCheckpoint(text.replace(/ sig=\S+/, ''))).toThrow(/lacks sig=/);
    expect(() => parseCheckpoint(text.replace(/head=\S+/, 'head=xyz'))).toThrow(/head must be a SHA-256 hash/);
  });

  it('loads LEDGER_SIGNING_KEY and accepts public keys in the usual forms', () => {
    expect(loadSigningKey(encoded).publicKey).toBe(signer.publicKey);
    expect(() => loadSigningKey('bm90IGEga2V5')).toThrow(/not a base64 PKCS#8 DER Ed25519 private key/);
    const raw = Buffer.from(signer.publicKey, 'base64').subarray(-32);
    expect(normalisePublicKey(raw.toString('base64'))).toBe(signer.publicKey);
    expect(normalisePublicKey(raw.toString('hex'))).toBe(signer.publicKey);
    expect(normalisePublicKey(`\`${signer.publicKey}\``)).toBe(signer.publicKey);
  });

  it('keeps a generated key in DATA_DIR (mode 0600) and never logs the private key', () => {
    const folder = mkdtempSync(join(tmpdir(), 'breakglass-key-'));
    const keyFile = join(folder, 'ledger-signing-key');
    let logged = '';
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => (logged += chunk.toString()));
    const logger = createLogger('info', stream);

    const first = resolveSigningKey({ keyFile, logger });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const stored = readFileSync(keyFile, 'utf8').trim();
    expect(loadSigningKey(stored).publicKey).toBe(first.publicKey);
    expect(resolveSigningKey({ keyFile, logger }).publicKey).toBe(first.publicKey);
    expect(logged).not.toContain(stored);

    expect(logged).toContain(first.publicKey);
    expect(() => resolveSigningKey({ logger })).toThrow(/set LEDGER_SIGNING_KEY/);

    logged = '';
    expect(resolveSigningKey({ configured: encoded, keyFile, logger }).publicKey).toBe(signer.publicKey);
    expect(logged).not.toContain(encoded);
  });
});
