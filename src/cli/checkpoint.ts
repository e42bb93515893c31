import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import type { Db } from '../db/client.ts';
import { CheckpointFormatError, keyFingerprint, normalisePublicKey, parseCheckpoint, type SignedCheckpoint } from '../evidence/checkpoint.ts';
import { checkLedgerAgainstCheckpoint, latestCheckpointEvent } from '../evidence/checkpoint-check.ts';
import { verifyLedger } from '../evidence/verify.ts';
import { progress, progressDone, withDatabase } from './context.ts';

export interface CheckpointReport {
  ok: boolean;
  lines: string[];
}

const PIN_HINT =
  'A checkpoint read from the database proves little on its own: whoever can rewrite the ledger can rewrite its checkpoints too. ' +
  'For proof, check against the newest checkpoint posted in the security channel (--checkpoint "<text>") and pin your key (--public-key <key>).';

/**
 * The checkpoint half of `evidence verify`: the given checkpoint, or else the newest one the
 * ledger holds, compared with the ledger. No checkpoint at all is reported, not failed.
 */
export async function checkpointReport(db: Db, options: { checkpoint?: SignedCheckpoint | undefined; publicKey?: string | undefined }, now = new Date()): Promise<CheckpointReport> {
  if (options.checkpoint) {
    const check = await checkLedgerAgainstCheckpoint(db, options.checkpoint, { publicKey: options.publicKey });
    return check.ok
      ? { ok: true, lines: [`Checkpoint OK (given): ${check.message}.`, ...(options.publicKey ? [] : ['(No --public-key given: the signature was checked against the key the checkpoint names.)'])] }
      : { ok: false, lines: [`CHECKPOINT FAILED: ${check.message}.`] };
  }
  const found = await latestCheckpointEvent(db);
  if (!found) {
    return {
      ok: true,
      lines: ['No checkpoint in the ledger yet, so deleting the newest events would not show. The bot takes one every checkpoint_every; or pass one copied from the security channel with --checkpoint.'],
    };
  }
  if (!found.checkpoint) return { ok: false, lines: [`CHECKPOINT FAILED: event #${found.seq} (ledger.checkpoint) is not a readable checkpoint: ${found.error}.`] };
  const check = await checkLedgerAgainstCheckpoint(db, found.checkpoint, { publicKey: options.publicKey });
  if (!check.ok) return { ok: false, lines: [`CHECKPOINT FAILED (the newest checkpoint in the ledger, event #${found.seq}): ${check.message}.`] };
  const hours = Math.max(0, (now.getTime() - found.occurredAt.getTime()) / 3_600_000);
  return {
    ok: true,
    lines: [
      `Checkpoint OK (the newest in the ledger, event #${found.seq}, taken ${hours < 1 ? 'less than an hour' : `${Math.floor(hours)} hour(s)`} ago): ${check.message}.`,
      ...(options.publicKey ? [`The checkpoint is signed by the pinned key ${keyFingerprint(normalisePublicKey(options.publicKey))}.`] : []),
      PIN_HINT,
    ],
  };
}

/** Commander parsers for --checkpoint and --public-key: a malformed value is a usage error naming what is wrong. */
export function checkpointOption(text: string): SignedCheckpoint {
  try {
    return parseCheckpoint(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function publicKeyOption(text: string): string {
  try {
    return normalisePublicKey(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function checkpointCommand(): Command {
  const checkpoint = new Command('checkpoint').description('signed ledger checkpoints, as posted to the security channel');
  checkpoint
    .command('verify')
    .description('check a checkpoint copied from Slack: its signature, and that the ledger still holds exactly what it covers (exit 0 verified, 1 not)')
    .argument('<text...>', 'the checkpoint line ("breakglass-checkpoint v1 count=… sig=…"), quoted or not; "-" reads it from stdin')
    .option('--public-key <key>', 'the Ed25519 public key it must be signed with (base64 SPKI as in key=, PEM, or raw base64/hex)', publicKeyOption)
    .action(async (words: string[], options: { publicKey?: string }) => {
      const text = words.length === 1 && words[0] === '-' ? readFileSync(0, 'utf8') : words.join(' ');
      let parsed: SignedCheckpoint;
      try {
        parsed = parseCheckpoint(text);
      } catch (error) {
        if (!(error instanceof CheckpointFormatError)) throw error;
        process.stdout.write(`NOT VERIFIED: ${error.message}.\n`);
        process.exitCode = 1;
        return;
      }
      const { check, chain } = await withDatabase(async ({ db }) => ({
        check: await checkLedgerAgainstCheckpoint(db, parsed, { publicKey: options.publicKey }),
        chain: await verifyLedger(db, (n) => progress(`verified ${n.toLocaleString('en-US')} events…`)),
      }));
      progressDone();
      if (!check.ok) {
        process.stdout.write(`NOT VERIFIED: ${check.message}.\n`);
        process.exitCode = 1;
        return;
      }
      // The head matching proves event #count's stored hash is unchanged; the chain walk proves the events behind it match their hashes.
      if (!chain.ok && chain.problem!.seq <= parsed.count) {
        process.stdout.write(`NOT VERIFIED: the head matches, but event ${chain.problem!.seq} within the checkpoint is damaged: ${chain.problem!.reason}.\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`VERIFIED: ${check.message}.\n`);
      if (!options.publicKey) process.stdout.write(`Signed by the key the checkpoint names (${keyFingerprint(parsed.publicKey)}); pass --public-key to require your own.\n`);
      if (!chain.ok) {
        process.stdout.write(`Note: after the checkpoint, event ${chain.problem!.seq} is damaged: ${chain.problem!.reason}. Run \`npx breakglass evidence verify\`.\n`);
        process.exitCode = 1;
      }
    });
  return checkpoint;
}
