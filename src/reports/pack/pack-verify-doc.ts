import { canonicalContent, chainHash, GENESIS_HASH, type StoredEvent } from '../../ledger/event.ts';

/**
 * VERIFY.md: the formats an auditor needs to re-check the pack with tools of their own, stated
 * exactly (event.ts, ledger.ts, chain-check.ts and checkpoint.ts are what they describe), with a
 * worked example from the pack's first event.
 */
export function verifyMarkdown(input: { first: StoredEvent | undefined; publicKey: string | undefined; signed: boolean }): string {
  return [...introduction(), ...filesAndSignature(input), ...hashChain(), ...workedExample(input.first), ...checkpoints(), ...headRow()].join('\n');
}

function introduction(): string[] {
  return [
    '# Verifying this package',
    '',
    '`node verify.mjs` in this folder (Node 18 or later, no packages, no network) runs every check below and ends with `VERDICT: OK` (exit 0) or `VERDICT: TAMPERED` and the first problem (exit 1). Its checks are those of `npx breakglass evidence verify`, on the events of this package. What follows lets you do the same with any tool.',
    '',
  ];
}

function filesAndSignature(input: { publicKey: string | undefined; signed: boolean }): string[] {
  return [
    '## 1. Files and their signature',
    '',
    '- `SHA256SUMS`: one line per file, `<SHA-256 in 64 lower-case hex digits><two spaces><file name>\\n`, sorted by file name, covering every file but `SHA256SUMS` and `SHA256SUMS.sig`. Check: `sha256sum -c SHA256SUMS`.',
    '- `SHA256SUMS.sig`: the Ed25519 signature (RFC 8032, pure Ed25519, 64 bytes) of the exact bytes of `SHA256SUMS`, in base64 on one line, made with the ledger signing key (the key that signs the checkpoints).',
    '- `public-key.pem`: that key\'s public half, as a PEM SubjectPublicKeyInfo. Check (OpenSSL 3): `base64 -d SHA256SUMS.sig > sig.bin && openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in SHA256SUMS -sigfile sig.bin`.',
    ...(input.publicKey
      ? [`- The same key as base64 DER SPKI (the \`key=\` value of every checkpoint posted to the security channel): \`${input.publicKey}\`; the raw 32-byte key in hex: \`${Buffer.from(input.publicKey, 'base64').subarray(-32).toString('hex')}\`.`]
      : []),
    ...(input.signed ? [] : ['- **This package is not signed**: breakglass had no ledger signing key where it was generated (`LEDGER_SIGNING_KEY` or `DATA_DIR/ledger-signing-key`).']),
    '- A signature proves the package was written with that key, not that the key is the right one: compare it with the `key=` of the checkpoints in your security channel, which were posted as they were taken.',
    '',
  ];
}

/** How each event's hash is computed, exactly. */
function hashChain(): string[] {
  return [
    '## 2. The hash chain (`evidence.jsonl`)',
    '',
    'One JSON object per line, in `seq` order, with the members `seq, occurred_at, kind, actor, subject, resource, request_id, details, hash, prev_hash`. For each event:',
    '',
    '```',
    'hash = lower-case hex of SHA-256( UTF-8 bytes of ( prev_hash ‖ canonical content ) )',
    '```',
    '',
    '- `prev_hash` is hashed as its text: the 64 lower-case hex characters, not the 32 bytes they stand for. It is the previous event\'s `hash`; the first event\'s (`seq` 1) is 64 zeros, `' + GENESIS_HASH + '`.',
    '- The canonical content is the RFC 8785 (JSON Canonicalization Scheme) serialisation of an object with exactly these eight members, and no others (not `hash`, not `prev_hash`): `seq` (a number), `occurred_at`, `kind`, `actor`, `subject`, `resource`, `request_id`, `details`. In RFC 8785 order: `actor, details, kind, occurred_at, request_id, resource, seq, subject`.',
    '- `occurred_at` is a string, UTC with millisecond precision: `YYYY-MM-DDTHH:MM:SS.sssZ` (always three digits of milliseconds).',
    '- `request_id` is a string (`"42"`, not `42`) or null; `subject` and `resource` are strings or null. Null members are included as `null`, never left out.',
    '- `details` is the object recorded, serialised by the same RFC 8785 rules (its keys sorted too).',
    '- `seq` runs 1, 2, 3, … with no gap. A package for a period starts at the period\'s first event; its `prev_hash` is the hash of the event before the period (check it against the previous package, or a checkpoint).',
    '',
  ];
}

/** The hash computed step by step for the pack's first event. */
function workedExample(first: StoredEvent | undefined): string[] {
  if (!first) return [];
  const content = canonicalContent(first);
  return [
    `Worked example, event ${first.seq} of this package: the canonical content is`,
    '',
    '```',
    content,
    '```',
    '',
    `and SHA-256 of \`${first.prevHash}\` followed by that text is \`${chainHash(first.prevHash, content)}\`, its \`hash\`.`,
    '',
  ];
}

function checkpoints(): string[] {
  return [
  '## 3. Signed checkpoints (`checkpoints.txt`, and `ledger.checkpoint` events)',
  '',
  'A checkpoint says: the ledger held `count` events, and event #`count`\'s `hash` was `head` (64 zeros when `count` is 0), at `at`. It covers the events before its own `ledger.checkpoint` event. The bot posts it to the security channel as one line:',
  '',
  '```',
  'breakglass-checkpoint v1 count=<count> head=<hex> at=<ISO-8601 instant> key=<base64 DER SPKI> sig=<base64>',
  '```',
  '',
  '- `sig` is the Ed25519 signature of the UTF-8 bytes of the RFC 8785 canonical JSON `{"at":"<at>","count":<count>,"head":"<head>","v":1}` (members in that order, `count` a number, `at` exactly as posted).',
  '- `key` is the signer\'s public key as base64 DER SubjectPublicKeyInfo: the hex prefix `302a300506032b6570032100` then the 32 raw key bytes.',
  '- The `ledger.checkpoint` event holds the same in `details`: `v`, `count`, `head`, `at`, `public_key`, `signature`.',
  '- Check: the signature verifies, and event #`count` in `evidence.jsonl` has `hash` equal to `head`. A checkpoint whose `count` is beyond the last event shows the newest events were deleted; a different hash shows the chain was rewritten.',
  '- `checkpoints.txt` has each checkpoint message of the period exactly as the bot queued it for the security channel, with when it was queued and sent: compare them with the messages in Slack.',
  '',
  ];
}

function headRow(): string[] {
  return [
  '## 4. The ledger\'s head row',
  '',
  '`verification.json` records `head_row`: the database\'s own record of the newest event (`ledger_head`). When the package reaches the newest event, that event must be the one it names; if the head row is ahead, the newest events were deleted.',
  '',
  ];
}
