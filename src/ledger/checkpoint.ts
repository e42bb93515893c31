import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { EventDetails } from '../domain/events.ts';

/**
 * Signed ledger checkpoints: "the ledger held `count` events and event #count's hash was `head`
 * at `at`", signed with Ed25519. A copy kept outside the database (the security channel) proves
 * what the ledger held, so cutting off the newest events or rewriting the whole chain shows.
 *
 * The signature is over the RFC 8785 canonical JSON of `{v: 1, count, head, at}`, i.e. the bytes
 * `{"at":"…","count":N,"head":"…","v":1}`, so anyone can re-check it with any Ed25519 tool.
 * Keys travel as base64 DER: the private key as PKCS#8 (LEDGER_SIGNING_KEY), the public key as
 * SubjectPublicKeyInfo (SPKI).
 */

export const CHECKPOINT_VERSION = 1;
export const CHECKPOINT_PREFIX = 'breakglass-checkpoint';

/** What is signed. `at` is kept as the exact ISO-8601 string that was signed. */
export interface CheckpointPayload {
  count: number;
  head: string;
  at: string;
}

export interface SignedCheckpoint extends CheckpointPayload {
  v: typeof CHECKPOINT_VERSION;
  /** Base64 DER SPKI of the Ed25519 public key. */
  publicKey: string;
  /** Base64 Ed25519 signature over `checkpointMessage(payload)`. */
  signature: string;
}

export class CheckpointFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointFormatError';
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** DER prefix of an Ed25519 SPKI; followed by the 32 raw key bytes. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The exact bytes that are signed. */
export function checkpointMessage(payload: CheckpointPayload): Buffer {
  const text = canonicalize({ v: CHECKPOINT_VERSION, count: payload.count, head: payload.head, at: payload.at });
  if (text === undefined) throw new Error('checkpoint cannot be serialised');
  return Buffer.from(text, 'utf8');
}

// ---- keys -----------------------------------------------------------------------------------

export interface CheckpointSigner {
  privateKey: KeyObject;
  /** Base64 DER SPKI. */
  publicKey: string;
  /** Short, for people: `ed25519:` + the first 16 hex digits of SHA-256(SPKI DER). */
  fingerprint: string;
}

/** A new Ed25519 key; `encoded` is what goes into LEDGER_SIGNING_KEY (base64 PKCS#8 DER). */
export function generateSigningKey(): { signer: CheckpointSigner; encoded: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { signer: signerFrom(privateKey), encoded: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64') };
}

/** Reads LEDGER_SIGNING_KEY: base64 PKCS#8 DER (or the same key as PEM). Throws naming the expected format. */
export function loadSigningKey(encoded: string): CheckpointSigner {
  const text = encoded.trim();
  let key: KeyObject;
  try {
    key = text.startsWith('-----BEGIN')
      ? createPrivateKey({ key: text, format: 'pem' })
      : createPrivateKey({ key: strictBase64(text), format: 'der', type: 'pkcs8' });
  } catch {
    throw new Error('not a base64 PKCS#8 DER Ed25519 private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`an ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  return signerFrom(key);
}

/** For env validation: never echoes or logs the value. */
export function isValidSigningKey(encoded: string): boolean {
  try {
    loadSigningKey(encoded);
    return true;
  } catch {
    return false;
  }
}

function signerFrom(privateKey: KeyObject): CheckpointSigner {
  const publicKey = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64');
  return { privateKey, publicKey, fingerprint: keyFingerprint(publicKey) };
}

/**
 * A public key as people may give it: base64 DER SPKI (what checkpoints carry), PEM, or the raw
 * 32 bytes in base64 or hex. Returns the canonical base64 SPKI; throws when it is none of these.
 */
export function normalisePublicKey(text: string): string {
  const trimmed = text.trim().replace(/^`+|`+$/g, '').trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----BEGIN')) key = createPublicKey({ key: trimmed, format: 'pem' });
    else {
      const bytes = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : strictBase64(trimmed.replace(/\s+/g, ''));
      const der = bytes.length === 32 ? Buffer.concat([ED25519_SPKI_PREFIX, bytes]) : bytes;
      key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    }
  } catch {
    throw new CheckpointFormatError('the public key is not an Ed25519 key in base64 DER SPKI, PEM, or raw 32-byte base64/hex form');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new CheckpointFormatError(`the public key is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  return key.export({ format: 'der', type: 'spki' }).toString('base64');
}

export function keyFingerprint(publicKey: string): string {
  return `ed25519:${createHash('sha256').update(Buffer.from(publicKey, 'base64')).digest('hex').slice(0, 16)}`;
}

function strictBase64(text: string): Buffer {
  if (!BASE64.test(text)) throw new Error('not base64');
  return Buffer.from(text, 'base64');
}

// ---- sign and verify ------------------------------------------------------------------------

export function signCheckpoint(signer: CheckpointSigner, payload: CheckpointPayload): SignedCheckpoint {
  assertPayload(payload);
  const signature = sign(null, checkpointMessage(payload), signer.privateKey).toString('base64');
  return { v: CHECKPOINT_VERSION, count: payload.count, head: payload.head, at: payload.at, publicKey: signer.publicKey, signature };
}

/** True when `signature` is the checkpoint key's Ed25519 signature over the payload. Never throws. */
export function checkpointSignatureValid(checkpoint: SignedCheckpoint): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(normalisePublicKey(checkpoint.publicKey), 'base64'), format: 'der', type: 'spki' });
    return verify(null, checkpointMessage(checkpoint), key, Buffer.from(checkpoint.signature, 'base64'));
  } catch {
    return false;
  }
}

function assertPayload(payload: CheckpointPayload): void {
  if (!Number.isSafeInteger(payload.count) || payload.count < 0) throw new CheckpointFormatError(`count must be a whole number ≥ 0, not ${payload.count}`);
  if (!HEX64.test(payload.head)) throw new CheckpointFormatError('head must be a SHA-256 hash in 64 lower-case hex digits');
  if (!ISO_INSTANT.test(payload.at) || Number.isNaN(Date.parse(payload.at))) throw new CheckpointFormatError(`at must be a UTC ISO-8601 instant, not "${payload.at}"`);
}

// ---- the evidence event ---------------------------------------------------------------------

/** The `details` of a `ledger.checkpoint` event: everything needed to verify it, no secret. */
export function checkpointDetails(checkpoint: SignedCheckpoint): EventDetails<'ledger.checkpoint'> {
  return { v: checkpoint.v, count: checkpoint.count, head: checkpoint.head, at: checkpoint.at, public_key: checkpoint.publicKey, signature: checkpoint.signature };
}

/** Reads a `ledger.checkpoint` event's details back; throws CheckpointFormatError when they are not one. */
export function checkpointFromDetails(details: Record<string, unknown>): SignedCheckpoint {
  const { v, count, head, at, public_key: publicKey, signature } = details;
  if (v !== CHECKPOINT_VERSION) throw new CheckpointFormatError(`unsupported checkpoint version ${String(v)}`);
  if (typeof count !== 'number' || typeof head !== 'string' || typeof at !== 'string' || typeof publicKey !== 'string' || typeof signature !== 'string') {
    throw new CheckpointFormatError('the checkpoint event lacks count, head, at, public_key or signature');
  }
  const checkpoint = { v: CHECKPOINT_VERSION, count, head, at, publicKey, signature } as const;
  assertPayload(checkpoint);
  return checkpoint;
}

// ---- the text form people copy from Slack --------------------------------------------------

const FIELDS = ['count', 'head', 'at', 'key', 'sig'] as const;
type Field = (typeof FIELDS)[number];
/** Lengths of the values a line break may split: hex SHA-256, base64 SPKI, base64 signature. */
const FULL_LENGTH: Partial<Record<Field, number>> = { head: 64, key: 60, sig: 88 };

/** One line: `breakglass-checkpoint v1 count=123 head=<hex> at=<iso> key=<base64 spki> sig=<base64>`. */
export function formatCheckpoint(checkpoint: SignedCheckpoint): string {
  return `${CHECKPOINT_PREFIX} v${checkpoint.v} count=${checkpoint.count} head=${checkpoint.head} at=${checkpoint.at} key=${checkpoint.publicKey} sig=${checkpoint.signature}`;
}

/**
 * Parses the text form as it comes out of Slack: surrounding prose, backticks or a code block,
 * quote markers (`>`), line breaks (even inside a long value), `*bold*`/`_italic_` markers and
 * Slack's HTML escapes are all tolerated. Throws CheckpointFormatError naming what is wrong.
 */
export function parseCheckpoint(text: string): SignedCheckpoint {
  const cleaned = text
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&amp;/g, '&')
    .replace(/[`*_~]/g, ' ')
    .replace(/^[ \t]*>+/gm, ' ')
    .replace(/[\u00a0\u200b\u2028\u2029]/g, ' ');
  const start = cleaned.indexOf(CHECKPOINT_PREFIX);
  if (start < 0) throw new CheckpointFormatError(`not a checkpoint: expected text starting "${CHECKPOINT_PREFIX} v1 count=…"`);
  const tokens = cleaned.slice(start + CHECKPOINT_PREFIX.length).split(/\s+/).filter(Boolean);
  const version = tokens.shift();
  if (version !== `v${CHECKPOINT_VERSION}`) throw new CheckpointFormatError(`unsupported checkpoint version "${version ?? ''}" (this breakglass reads v${CHECKPOINT_VERSION})`);
  const values = new Map<Field, string>();
  let current: Field | undefined;
  for (const token of tokens) {
    const match = /^([a-z]+)=(.*)$/.exec(token);
    const field = match && (FIELDS as readonly string[]).includes(match[1]!) ? (match[1] as Field) : undefined;
    if (field && match) {
      if (values.has(field)) throw new CheckpointFormatError(`${field}= appears twice`);
      values.set(field, match[2]!);
      current = field;
    } else if (current && values.get(current)!.length < (FULL_LENGTH[current] ?? 0)) {
      // A long value broken across lines by a copy from Slack: glue it back together.
      values.set(current, values.get(current)! + token);
    } else if (values.size === FIELDS.length) {
      break; // prose after a complete checkpoint
    } else {
      throw new CheckpointFormatError(`unexpected "${token.slice(0, 40)}" in the checkpoint`);
    }
  }
  const missing = FIELDS.filter((f) => !values.get(f));
  if (missing.length > 0) throw new CheckpointFormatError(`the checkpoint lacks ${missing.map((f) => `${f}=`).join(', ')}`);
  const countText = values.get('count')!;
  if (!/^\d{1,15}$/.test(countText)) throw new CheckpointFormatError(`count= must be a whole number, not "${countText}"`);
  const checkpoint: SignedCheckpoint = {
    v: CHECKPOINT_VERSION,
    count: Number(countText),
    head: values.get('head')!.toLowerCase(),
    at: values.get('at')!,
    publicKey: normalisePublicKey(values.get('key')!),
    signature: values.get('sig')!,
  };
  assertPayload(checkpoint);
  if (!BASE64.test(checkpoint.signature) || Buffer.from(checkpoint.signature, 'base64').length !== 64) {
    throw new CheckpointFormatError('sig= must be a base64 Ed25519 signature (64 bytes)');
  }
  return checkpoint;
}
