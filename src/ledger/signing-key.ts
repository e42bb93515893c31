import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logger.ts';
import { generateSigningKey, loadSigningKey, type CheckpointSigner } from './checkpoint.ts';

export const SIGNING_KEY_FILE = 'ledger-signing-key';

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

export interface SigningKeyOptions {
  /** LEDGER_SIGNING_KEY, already validated by the env schema. */
  configured?: string | undefined;
  /** Where a generated key is kept (DATA_DIR/ledger-signing-key). */
  keyFile?: string | undefined;
  logger: Logger;
}

/**
 * The key that signs ledger checkpoints. LEDGER_SIGNING_KEY wins. Otherwise a key is generated
 * once and kept in DATA_DIR (mode 0600), never in the database it guards; only its public key is
 * printed. The private key never reaches a log.
 */
export function resolveSigningKey(options: SigningKeyOptions): CheckpointSigner {
  const { configured, keyFile, logger } = options;
  if (configured) {
    const signer = loadSigningKey(configured);
    logger.info({ public_key: signer.publicKey, key: signer.fingerprint }, 'ledger checkpoints are signed with the key from LEDGER_SIGNING_KEY');
    return signer;
  }
  if (keyFile && existsSync(keyFile)) {
    let signer: CheckpointSigner;
    try {
      signer = loadSigningKey(readFileSync(keyFile, 'utf8'));
    } catch (error) {
      throw new SigningKeyError(`${keyFile} does not hold a usable ledger signing key (${(error as Error).message}); restore it from a backup, or set LEDGER_SIGNING_KEY`);
    }
    if ((statSync(keyFile).mode & 0o077) !== 0) {
      chmodSync(keyFile, 0o600);
      logger.warn({ file: keyFile }, 'the ledger signing key file was readable by others; its mode is now 0600');
    }
    logger.info({ public_key: signer.publicKey, key: signer.fingerprint, file: keyFile }, 'ledger checkpoints are signed with the stored key');
    return signer;
  }
  if (!keyFile) throw new SigningKeyError('no place to keep a generated ledger signing key: set LEDGER_SIGNING_KEY');
  const { signer, encoded } = generateSigningKey();
  try {
    mkdirSync(dirname(keyFile), { recursive: true });
    writeFileSync(keyFile, `${encoded}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    // Another process on this folder generated one first: use it.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return resolveSigningKey(options);
    throw error;
  }
  logger.warn(
    { public_key: signer.publicKey, key: signer.fingerprint, file: keyFile },
    `generated a ledger signing key and stored it in ${keyFile} (mode 0600). Back that file up; on several replicas, set LEDGER_SIGNING_KEY to its content on every one. ` +
      `To pin checkpoints, keep this public key: ${signer.publicKey}`,
  );
  return signer;
}

/**
 * The public half of the bot's own signing key, when it is on this machine (LEDGER_SIGNING_KEY,
 * else the key file the bot generated), so the CLI can pin checkpoints to it. Never generates one.
 */
export function ownPublicKey(options: { configured?: string | undefined; keyFile: string }): { publicKey: string; fingerprint: string; from: string } | undefined {
  const own = ownSigningKey(options);
  return own && { ...pick(own.signer), from: own.from };
}

/** The bot's own signing key when it is on this machine (as ownPublicKey), for signing an audit pack. Never generates one. */
export function ownSigningKey(options: { configured?: string | undefined; keyFile: string }): { signer: CheckpointSigner; from: string } | undefined {
  if (options.configured) return { signer: loadSigningKey(options.configured), from: 'LEDGER_SIGNING_KEY' };
  if (!existsSync(options.keyFile)) return undefined;
  try {
    return { signer: loadSigningKey(readFileSync(options.keyFile, 'utf8')), from: options.keyFile };
  } catch (error) {
    throw new SigningKeyError(`${options.keyFile} does not hold a usable ledger signing key (${(error as Error).message})`);
  }
}

function pick(signer: CheckpointSigner): { publicKey: string; fingerprint: string } {
  return { publicKey: signer.publicKey, fingerprint: signer.fingerprint };
}
