import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { CliEnv } from '../config/env.ts';
import type { Db } from '../db/client.ts';
import { CheckpointFormatError, keyFingerprint, normalisePublicKey, parseCheckpoint, type SignedCheckpoint } from '../ledger/checkpoint.ts';
import { checkLedgerAgainstCheckpoint, latestCheckpointEvent } from '../ledger/checkpoint-check.ts';
import { uncoveredDays, type CheckpointCoverage } from '../ledger/checkpoint-coverage.ts';
import { ownPublicKey, SIGNING_KEY_FILE } from '../ledger/signing-key.ts';
import { verifyLedger } from '../ledger/verify.ts';
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
 * ledger holds, compared with the ledger. Unpinned, no checkpoint at all is reported, not failed.
 * With a pinned key, `coverage` (fed every event of the ledger, with that key) also fails events
 * that went uncovered by a checkpoint of that key for more than a day: the bot signs at least
 * daily, so their checkpoints were removed, as a rewrite of the whole chain would.
 */
export async function checkpointReport(
  db: Db,
  options: { checkpoint?: SignedCheckpoint | undefined; publicKey?: string | undefined; coverage?: CheckpointCoverage | undefined },
  now = new Date(),
): Promise<CheckpointReport> {
  if (options.checkpoint) {
    const check = await checkLedgerAgainstCheckpoint(db, options.checkpoint, { publicKey: options.publicKey });
    return check.ok
      ? { ok: true, lines: [`Checkpoint OK (given): ${check.message}.`, ...(options.publicKey ? [] : ['(No --public-key given: the signature was checked against the key the checkpoint names.)'])] }
      : { ok: false, lines: [`CHECKPOINT FAILED: ${check.message}.`] };
  }
  const uncovered = options.publicKey && options.coverage ? uncoveredByPinnedKey(options.coverage, options.publicKey, now) : undefined;
  const found = await latestCheckpointEvent(db);
  if (!found) {
    if (uncovered) return { ok: false, lines: [`CHECKPOINT FAILED: ${uncovered}.`] };
    return {
      ok: true,
      lines: ['No checkpoint in the ledger yet, so deleting the newest events would not show. The bot takes one every checkpoint_every; or pass one copied from the security channel with --checkpoint.'],
    };
  }
  if (!found.checkpoint) return { ok: false, lines: [`CHECKPOINT FAILED: event #${found.seq} (ledger.checkpoint) is not a readable checkpoint: ${found.error}.`] };
  const check = await checkLedgerAgainstCheckpoint(db, found.checkpoint, { publicKey: options.publicKey });
  if (!check.ok) return { ok: false, lines: [`CHECKPOINT FAILED (the newest checkpoint in the ledger, event #${found.seq}): ${check.message}.`] };
  if (uncovered) return { ok: false, lines: [`CHECKPOINT FAILED: ${uncovered}.`] };
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

/** Why the pinned key's checkpoints do not cover the ledger, or undefined when they do. */
function uncoveredByPinnedKey(coverage: CheckpointCoverage, publicKey: string, now: Date): string | undefined {
  const gap = coverage.gaps(now).find((g) => g.coveredBy === null);
  if (!gap) return undefined;
  const key = keyFingerprint(normalisePublicKey(publicKey));
  if (coverage.checkpoints === 0) {
    return (
      `the ledger holds no checkpoint signed by the pinned key ${key}, though its first event is from ${gap.since.toISOString()} (${uncoveredDays(gap)} day(s) ago) and the bot signs one at least daily: ` +
      'its checkpoints were removed (a rewrite of the whole chain would do that), or the bot was never running a whole day to sign one'
    );
  }
  return (
    `event(s) #${gap.firstSeq}–#${gap.lastSeq}, recorded from ${gap.since.toISOString()} to ${gap.until.toISOString()} (${uncoveredDays(gap)} day(s)), are covered by no checkpoint signed by the pinned key ${key}, ` +
    'though the bot signs at least daily: newer checkpoints were removed, so those events could have been rewritten'
  );
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

/**
 * The bot's own public key, when this machine has it. A key file that cannot be read leaves the
 * check unpinned, said loudly, rather than failing a check that can still show a rewrite.
 */
function botsOwnKey(env: CliEnv): { publicKey: string; from: string } | undefined {
  try {
    return ownPublicKey({ configured: env.LEDGER_SIGNING_KEY, keyFile: join(resolve(env.DATA_DIR), SIGNING_KEY_FILE) });
  } catch (error) {
    process.stderr.write(`breakglass: ${(error as Error).message}; the checkpoint's signer is not pinned.\n`);
    return undefined;
  }
}

export function checkpointCommand(): Command {
  const checkpoint = new Command('checkpoint').description('signed ledger checkpoints, as posted to the security channel');
  checkpoint
    .command('verify')
    .description('check a checkpoint copied from Slack: its signature, and that the ledger still holds exactly what it covers (exit 0 verified, 1 not)')
    .argument('<text...>', 'the checkpoint line ("breakglass-checkpoint v1 count=… sig=…"), quoted or not; "-" reads it from stdin')
    .option(
      '--public-key <key>',
      "the Ed25519 public key it must be signed with (base64 SPKI as in key=, PEM, or raw base64/hex); default: the bot's own, from LEDGER_SIGNING_KEY or DATA_DIR/ledger-signing-key",
      publicKeyOption,
    )
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
      const { check, chain, pinned } = await withDatabase(async ({ db }, env) => {
        const pinned = options.publicKey ? { publicKey: options.publicKey, from: '--public-key' } : botsOwnKey(env);
        return {
          pinned,
          check: await checkLedgerAgainstCheckpoint(db, parsed, { publicKey: pinned?.publicKey }),
          chain: await verifyLedger(db, (n) => progress(`verified ${n.toLocaleString('en-US')} events…`)),
        };
      });
      progressDone();
      if (pinned && pinned.from !== '--public-key') process.stdout.write(`Pinned to the bot's own key ${keyFingerprint(pinned.publicKey)} (from ${pinned.from}).\n`);
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
      if (!pinned) {
        process.stdout.write(
          `WARNING: THE SIGNER IS NOT PINNED. The signature is only checked against the key the checkpoint itself names (${keyFingerprint(parsed.publicKey)}), which anyone can make: ` +
            "this proves nothing unless that is your bot's key. Pass --public-key, or run where LEDGER_SIGNING_KEY or DATA_DIR/ledger-signing-key is.\n",
        );
      }
      if (!chain.ok) {
        process.stdout.write(`Note: after the checkpoint, event ${chain.problem!.seq} is damaged: ${chain.problem!.reason}. Run \`npx breakglass evidence verify\`.\n`);
        process.exitCode = 1;
      }
    });
  return checkpoint;
}
