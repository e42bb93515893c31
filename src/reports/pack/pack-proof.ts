import { createPublicKey, sign } from 'node:crypto';
import { closeSync, copyFileSync, openSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { and, asc, gte, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { outbox, type OutboxMessage } from '../../db/schema.ts';
import { plainText } from '../../domain/message.ts';
import { notificationWords } from '../../domain/notifications.ts';
import { CheckpointFormatError, parseCheckpoint, type CheckpointSigner } from '../../ledger/checkpoint.ts';
import type { StoredEvent } from '../../ledger/event.ts';
import { text } from '../history.ts';
import { verifyMarkdown } from './pack-verify-doc.ts';

/**
 * What makes an audit pack check itself: the checkpoint messages as the bot posted them to the
 * security channel, the signing key's public half, an Ed25519 signature over SHA256SUMS, the exact
 * formats (VERIFY.md, pack-verify-doc.ts) and a verifier that runs with Node alone.
 */

export const PROOF_FILES: Array<{ file: string; criteria: string[]; checks: string }> = [
  {
    file: 'checkpoints.txt',
    criteria: ['CC7.2', 'CC8.1'],
    checks: 'Each signed ledger checkpoint of the period as the bot posted it to the security channel (queued and sent times from its outbox), to compare with the copies in Slack; a checkpoint the ledger holds with no copy queued is listed too.',
  },
  { file: 'public-key.pem', criteria: ['CC8.1'], checks: 'The Ed25519 public key of the ledger signing key that signed SHA256SUMS; the same key as `key=` in the checkpoints posted to Slack.' },
  { file: 'VERIFY.md', criteria: ['CC8.1'], checks: 'The exact hash-chain, checkpoint and signature formats, to re-check this package with any tool.' },
  { file: 'verify.mjs', criteria: ['CC8.1'], checks: 'A verifier that needs only Node: `node verify.mjs` checks the files, the signature, the chain and the checkpoints offline.' },
];

export const SIGNATURE_FILE = { file: 'SHA256SUMS.sig', criteria: ['CC8.1'], checks: 'The Ed25519 signature of SHA256SUMS (base64) by the key in `public-key.pem`.' };

/** The standalone verifier, kept beside the CLI (bin/ is in the image as well as in a checkout). */
const VERIFIER = new URL('../../../bin/verify-audit-pack.mjs', import.meta.url);

export function copyVerifier(outDir: string): void {
  copyFileSync(VERIFIER, join(outDir, 'verify.mjs'));
}

export function publicKeyPem(spkiBase64: string): string {
  return createPublicKey({ key: Buffer.from(spkiBase64, 'base64'), format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
}

/** Base64 Ed25519 signature over the exact bytes of SHA256SUMS, one line. */
export function signSums(signer: CheckpointSigner, sums: Buffer | string): string {
  return `${sign(null, Buffer.from(sums), signer.privateKey).toString('base64')}\n`;
}

export interface PostedCheckpoint {
  queuedAt: Date;
  sentAt: Date | null;
  failedAt: Date | null;
  text: string;
  /** The signed line's identity, to match it with its ledger.checkpoint event. */
  signature: string | null;
}

/**
 * Security-channel messages carrying a checkpoint, queued in the period: an old row's Slack text
 * verbatim; a newer row's notification worded as plain text (the signed line itself is the same
 * bytes Slack showed in its code block).
 */
export async function postedCheckpoints(db: Db, period: { from: Date; to: Date }): Promise<PostedCheckpoint[]> {
  const rows = await db
    .select({ message: outbox.message, createdAt: outbox.createdAt, sentAt: outbox.sentAt, failedAt: outbox.failedAt })
    .from(outbox)
    .where(and(gte(outbox.createdAt, period.from), lt(outbox.createdAt, period.to), sql`${outbox.message}->>'type' in ('security_text', 'notify_security')`))
    .orderBy(asc(outbox.createdAt), asc(outbox.id));
  return rows.flatMap((row) => {
    const text = messageText(row.message);
    if (!text.includes('breakglass-checkpoint')) return [];
    let signature: string | null = null;
    try {
      signature = parseCheckpoint(text).signature;
    } catch (error) {
      if (!(error instanceof CheckpointFormatError)) throw error;
    }
    return [{ queuedAt: row.createdAt, sentAt: row.sentAt, failedAt: row.failedAt, text, signature }];
  });
}

/**
 * checkpoints.txt: each posted message verbatim between separator lines, then the ledger's
 * checkpoints of the period that have no posted copy (named only: their content is in
 * evidence.jsonl). The verifier reads every `breakglass-checkpoint v1 …` line in it.
 */
export function checkpointsText(posted: PostedCheckpoint[], ledger: Array<{ seq: number; occurredAt: Date; signature: string | null }>): string {
  const out = ['# Ledger checkpoints of the period as the bot posted them to the security channel (its outbox), verbatim.', ''];
  if (posted.length === 0) out.push('(No checkpoint message was queued for the security channel in this period.)', '');
  posted.forEach((p, i) => {
    const status = p.sentAt ? `sent ${p.sentAt.toISOString()}` : p.failedAt ? `REFUSED by Slack ${p.failedAt.toISOString()}` : 'not sent yet';
    out.push(`----- message ${i + 1}: queued ${p.queuedAt.toISOString()}, ${status} -----`, p.text, `----- end of message ${i + 1} -----`, '');
  });
  const postedSignatures = new Set(posted.map((p) => p.signature));
  const unposted = ledger.filter((c) => !postedSignatures.has(c.signature));
  if (unposted.length > 0) {
    out.push('# Checkpoints in the ledger with no copy queued for the security channel (e.g. taken before this version, or its outbox row is gone):', '');
    for (const c of unposted) out.push(`- ledger.checkpoint event ${c.seq}, recorded ${c.occurredAt.toISOString()} (see evidence.jsonl)`);
    out.push('');
  }
  return out.join('\n');
}

/**
 * Writes checkpoints.txt, public-key.pem (the signer's, else the newest checkpoint's key), VERIFY.md
 * and verify.mjs, after evidence.jsonl. `checkpoints` are the period's ledger.checkpoint events.
 */
export async function writePackProof(db: Db, outDir: string, period: { from: Date; to: Date }, checkpoints: StoredEvent[], signer: CheckpointSigner | undefined): Promise<{ publicKey: string | undefined }> {
  const posted = await postedCheckpoints(db, period);
  writeFileSync(join(outDir, 'checkpoints.txt'), checkpointsText(posted, checkpoints.map((c) => ({ seq: c.seq, occurredAt: c.occurredAt, signature: text(c.details.signature) }))));
  const publicKey = signer?.publicKey ?? checkpoints.map((c) => text(c.details.public_key)).filter((k) => k !== null).at(-1);
  if (publicKey) writeFileSync(join(outDir, 'public-key.pem'), publicKeyPem(publicKey));
  writeFileSync(join(outDir, 'VERIFY.md'), verifyMarkdown({ first: firstExported(join(outDir, 'evidence.jsonl')), publicKey, signed: signer !== undefined }));
  copyVerifier(outDir);
  return { publicKey };
}

/** The first event of evidence.jsonl, for VERIFY.md's worked example. */
function firstExported(path: string): StoredEvent | undefined {
  const line = firstLine(path);
  if (!line) return undefined;
  const e = JSON.parse(line) as Record<string, unknown>;
  return {
    seq: e.seq as number,
    occurredAt: new Date(e.occurred_at as string),
    kind: e.kind as string,
    actor: e.actor as string,
    subject: e.subject as string | null,
    resource: e.resource as string | null,
    requestId: e.request_id as string | null,
    details: e.details as Record<string, unknown>,
    prevHash: e.prev_hash as string,
    hash: e.hash as string,
  };
}

/** The file's first line, read without loading the file (evidence.jsonl can hold millions of events). */
function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(64 * 1024);
    for (let read = readSync(fd, buffer); read > 0; read = readSync(fd, buffer)) {
      const end = buffer.subarray(0, read).indexOf(0x0a);
      chunks.push(Buffer.from(buffer.subarray(0, end < 0 ? read : end)));
      if (end >= 0) break;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function messageText(message: OutboxMessage): string {
  if (message.type === 'security_text') return message.text;
  if (message.type === 'notify_security' && message.notification.kind === 'ledger_checkpoint') return plainText(notificationWords(message.notification));
  return '';
}
