import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointNotice } from '../../src/app/take-checkpoint.ts';
import { plainText } from '../../src/domain/message.ts';
import { notificationWords } from '../../src/domain/notifications.ts';
import { loadAccessConfig } from '../../src/config/access.ts';
import type { Db } from '../../src/db/client.ts';
import { outbox } from '../../src/db/schema.ts';
import { writeAuditPack } from '../../src/reports/pack/audit-pack.ts';
import { checkpointFromDetails, formatCheckpoint, generateSigningKey } from '../../src/ledger/checkpoint.ts';
import { canonicalContent, chainHash, type StoredEvent } from '../../src/ledger/event.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { cliDatabaseVariants, type CliDatabase, describeSideBySide } from '../support/cli-databases.ts';
import { EvidenceStory } from '../support/evidence-story.ts';
import { tamper } from '../support/tamper.ts';

const HOUR = 3_600_000;
const t = (time: string) => `2026-03-02T${time}Z`;
const ACCESS = resolve('access.example.yml');
const KEY = generateSigningKey();
/** Each check writes a pack and starts the CLI and the verifier, on a machine shared with others. */
const SLOW = 180_000;

function buildStory(): EvidenceStory {
  const s = new EvidenceStory();
  s.config(t('00:05:00'), loadAccessConfig(ACCESS).hash);
  const a = s.request(t('09:00:00'), { requester: 'U0ALICE', resource: 'prod-db', durationMs: HOUR, reason: '=cmd|"/c calc"!A1, with "quotes"', ticket: 'INC-7', approvers: ['U0BOB'] });
  s.approve(t('09:01:00'), a, 'U0BOB');
  const grant = s.apply(t('09:02:00'), a);
  s.revoke(t('10:02:00'), grant);
  s.checkpoint(t('11:00:00'), KEY.signer);
  const b = s.request(t('12:00:00'), { requester: 'U0DAVE', resource: 'prod-db', durationMs: HOUR, reason: 'look around', approvers: ['U0BOB'] });
  s.deny(t('12:05:00'), b, 'U0BOB', 'not now');
  s.checkpoint(t('13:00:00'), KEY.signer);
  s.review(t('14:00:00'), { kind: 'review.decided', actor: 'U0MGR', subject: 'U0ALICE', resource: 'prod-db', details: { campaign_id: 1, period: '2026-Q1', item_id: 1, decision: 'keep' } });
  s.alert(t('15:00:00'), { kind: 'revoke_failed', text: ':warning: Revoking <@U0ALICE>\'s access failed at <!date^1772456400^{time}|2026-03-02T13:00:00Z>', resource: 'prod-db', subject: 'U0ALICE' });
  return s;
}

const story = buildStory();
const events = story.events();

/** The checkpoint messages as the checkpoint worker queues them for the security channel, sent. */
async function queueCheckpointMessages(db: Db): Promise<void> {
  for (const event of events.filter((e) => e.kind === 'ledger.checkpoint')) {
    const checkpoint = checkpointFromDetails(event.details);
    const notification = checkpointNotice(checkpoint, formatCheckpoint(checkpoint), KEY.signer.fingerprint);
    await db.insert(outbox).values({ message: { type: 'notify_security', notification }, createdAt: event.occurredAt, notBefore: event.occurredAt, sentAt: new Date(event.occurredAt.getTime() + 900) });
  }
}

function runVerifier(dir: string): Promise<CliResult> {
  return new Promise((done) => {
    // No environment and no packages: what an auditor's machine has.
    execFile(process.execPath, [join(dir, 'verify.mjs')], { env: {}, cwd: tmpdir() }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function setRow(db: Db, e: StoredEvent): Promise<void> {
  await tamper(db, sql`update evidence_events set details = ${JSON.stringify(e.details)}::jsonb, prev_hash = ${e.prevHash}, hash = ${e.hash} where seq = ${e.seq}`);
}

async function insertRow(db: Db, e: StoredEvent): Promise<void> {
  await db.execute(sql`
    insert into evidence_events (seq, occurred_at, kind, actor, subject, resource, request_id, details, prev_hash, hash)
    values (${e.seq}, ${e.occurredAt.toISOString()}::timestamptz, ${e.kind}, ${e.actor}, ${e.subject}, ${e.resource}, ${e.requestId}, ${JSON.stringify(e.details)}::jsonb, ${e.prevHash}, ${e.hash})`);
}

/** The chain recomputed from event `from` on with that event's details changed: what an attacker with the table owner's rights can write. */
function rewritten(from: number): StoredEvent[] {
  const out: StoredEvent[] = [];
  let previous = events[from - 2]!.hash;
  for (const e of events.slice(from - 1)) {
    const details = e.seq === from ? { ...e.details, approver: 'U0MALLORY' } : e.details;
    const hash = chainHash(previous, canonicalContent({ ...e, details }));
    out.push({ ...e, details, prevHash: previous, hash });
    previous = hash;
  }
  return out;
}

for (const variant of cliDatabaseVariants) {
  describeSideBySide(variant, `the pack's standalone verifier agrees with evidence verify [${variant.kind}]`, () => {
    let database: CliDatabase;
    let root: string;
    let packs = 0;

    const withDb = async (work: (db: Db) => Promise<void>) => {
      const db = await database.open();
      try {
        await work(db.db);
      } finally {
        await db.close();
      }
    };
    /** A pack of the whole ledger. */
    const writePack = async (signed = true) => {
      const dir = join(root, `pack-${++packs}`);
      await withDb(async (db) => {
        const period = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') };
        await writeAuditPack({ db, ...period, outDir: dir, access: loadAccessConfig(ACCESS), now: new Date('2026-03-20T00:00:00Z'), signer: signed ? KEY.signer : undefined });
      });
      return dir;
    };
    /** Writes a pack of the whole ledger, then runs the pack's verifier and `evidence verify` on the database. */
    const judge = async () => {
      const dir = await writePack();
      const [pack, cli] = await Promise.all([runVerifier(dir), runCli(['evidence', 'verify'], database.env)]);
      return { dir, pack, cli };
    };

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), 'breakglass-verifier-'));
      database = await variant.setup();
      await withDb(async (db) => {
        await story.writeTo(db);
        await queueCheckpointMessages(db);
      });
    });
    afterAll(async () => {
      rmSync(root, { recursive: true, force: true });
      await database.cleanup();
    }, SLOW);

    it('an intact ledger: both OK; the pack holds the posted checkpoints, the public key and a signature openssl accepts', async () => {
      const { dir, pack, cli } = await judge();
      expect(cli.code, cli.stdout).toBe(0);
      expect(pack.code, pack.stdout).toBe(0);
      expect(pack.stdout).toContain(`chain: OK — events 1–${events.length} (${events.length}) link and hash correctly from the genesis hash; head ${events.at(-1)!.hash}`);
      expect(pack.stdout).toContain('checkpoints: 4 match the chain');
      expect(pack.stdout.trimEnd().split('\n').at(-1)).toBe('VERDICT: OK');

      const posted = readFileSync(join(dir, 'checkpoints.txt'), 'utf8');
      for (const e of events.filter((x) => x.kind === 'ledger.checkpoint')) {
        const checkpoint = checkpointFromDetails(e.details);
        expect(posted).toContain(plainText(notificationWords(checkpointNotice(checkpoint, formatCheckpoint(checkpoint), KEY.signer.fingerprint))));
      }
      expect(posted).toContain(`queued ${t('11:00:00.000')}, sent ${t('11:00:00.900')}`);
      expect(readFileSync(join(dir, 'public-key.pem'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
      const signature = join(root, 'sig.bin');
      writeFileSync(signature, Buffer.from(readFileSync(join(dir, 'SHA256SUMS.sig'), 'utf8'), 'base64'));
      const openssl = execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', join(dir, 'public-key.pem'), '-rawin', '-in', join(dir, 'SHA256SUMS'), '-sigfile', signature]).toString();
      expect(openssl).toMatch(/Signature Verified Successfully/);

      const verifyDoc = readFileSync(join(dir, 'VERIFY.md'), 'utf8');
      expect(verifyDoc).toContain(canonicalContent(events[0]!));
      expect(verifyDoc).toContain(events[0]!.hash);
      expect(verifyDoc).toContain(`\`${'0'.repeat(64)}\``);

      // Excel-safe text in the pack's CSVs: the formula-like reason, the alert without Slack markup.
      const grants = readFileSync(join(dir, 'grants.csv'), 'utf8');
      expect(grants).toContain(`"'=cmd|""/c calc""!A1, with ""quotes"""`);
      expect(readFileSync(join(dir, 'alerts.csv'), 'utf8')).toContain("Revoking @U0ALICE's access failed at 2026-03-02T13:00:00Z");
    }, SLOW);

    it('a file changed after the pack was written, or a signature by another key: the verifier says so; an unsigned pack it calls unsigned', async () => {
      const dir = await writePack();
      writeFileSync(join(dir, 'grants.csv'), readFileSync(join(dir, 'grants.csv'), 'utf8').replace('U0BOB', 'U0EVE'));
      const changed = await runVerifier(dir);
      expect(changed.code).toBe(1);
      expect(changed.stdout).toContain('files: FAILED — grants.csv differs from SHA256SUMS: it was changed after the pack was written');

      const other = await writePack();
      writeFileSync(join(other, 'SHA256SUMS.sig'), `${Buffer.alloc(64, 7).toString('base64')}\n`);
      const forged = await runVerifier(other);
      expect(forged.code).toBe(1);
      expect(forged.stdout).toContain('signature: FAILED — SHA256SUMS.sig is not the signature of SHA256SUMS by the key in public-key.pem');

      const unsigned = await runVerifier(await writePack(false));
      expect(unsigned.code, unsigned.stdout).toBe(0);
      expect(unsigned.stdout).toContain('signature: NOT SIGNED');
    }, SLOW);

    it('an edited event: both TAMPERED at that event', async () => {
      await withDb((db) => tamper(db, sql`update evidence_events set details = '{"reason":"nothing to see"}'::jsonb where seq = 2`));
      const { pack, cli } = await judge();
      await withDb((db) => setRow(db, events[1]!));
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain('TAMPERED: event 2 (request.created): its content does not match its hash');
      expect(pack.code).toBe(1);
      expect(pack.stdout).toContain('VERDICT: TAMPERED — chain: event 2 (request.created): its content does not match its hash: it was changed after it was written');
    }, SLOW);

    it('an event deleted in the middle: both TAMPERED at the next one', async () => {
      await withDb((db) => tamper(db, sql`delete from evidence_events where seq = 4`));
      const { pack, cli } = await judge();
      await withDb((db) => insertRow(db, events[3]!));
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain('TAMPERED: event 5 (grant.revoked): events 4 are missing before it');
      expect(pack.code).toBe(1);
      expect(pack.stdout).toContain('VERDICT: TAMPERED — chain: event 5 (grant.revoked): events 4 are missing before it');
    }, SLOW);

    it('the newest events deleted, the head row left: both TAMPERED', async () => {
      const tail = events.slice(-2);
      await withDb((db) => tamper(db, sql`delete from evidence_events where seq > ${events.length - 2}`));
      const { pack, cli } = await judge();
      await withDb(async (db) => {
        for (const e of tail) await insertRow(db, e);
      });
      const gone = `event(s) #${events.length - 1}–#${events.length} were deleted`;
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain(`TAMPERED: the ledger's head row (ledger_head) records event #${events.length}, but the newest event is #${events.length - 2}: ${gone}`);
      expect(pack.code).toBe(1);
      expect(pack.stdout).toContain(`VERDICT: TAMPERED — ledger head: the ledger's head row (ledger_head) records event #${events.length}`);
    }, SLOW);

    it('the chain rewritten from an event on, head row and all: both TAMPERED by the checkpoints', async () => {
      const forged = rewritten(3);
      await withDb(async (db) => {
        for (const e of forged) await setRow(db, e);
        await db.execute(sql`update ledger_head set hash = ${forged.at(-1)!.hash}, prev_hash = ${forged.at(-2)!.hash}`);
      });
      const { pack, cli } = await judge();
      await withDb(async (db) => {
        for (const e of events.slice(2)) await setRow(db, e);
        await db.execute(sql`update ledger_head set hash = ${events.at(-1)!.hash}, prev_hash = ${events.at(-2)!.hash}`);
      });
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain('CHECKPOINT FAILED');
      expect(cli.stdout).toContain('the chain was rewritten');
      expect(pack.code).toBe(1);
      expect(pack.stdout).toMatch(/VERDICT: TAMPERED — checkpoint \(ledger\.checkpoint event 6\): event #5's hash differs from the checkpoint: the chain was rewritten/);
      // And once restored, both agree again.
      const again = await judge();
      expect([again.cli.code, again.pack.code]).toEqual([0, 0]);
    }, SLOW);
  });
}
