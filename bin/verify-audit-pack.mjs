#!/usr/bin/env node
// Checks a breakglass audit pack offline, with Node (18 or later) and nothing else installed:
//   node verify.mjs [pack folder]        (default: the folder this file is in)
// 1. every file matches SHA256SUMS, and SHA256SUMS.sig is the Ed25519 signature of SHA256SUMS by
//    the key in public-key.pem;
// 2. the events in evidence.jsonl form an unbroken hash chain (VERIFY.md gives the exact format);
// 3. every checkpoint (the ledger.checkpoint events, and the copies posted to the security channel
//    in checkpoints.txt) is signed by its key and names the hash the chain has at its count;
// 4. the ledger's head row recorded in verification.json is the newest event.
// Exit 0 when all hold (last line "VERDICT: OK"), 1 when one does not ("VERDICT: TAMPERED"), 2 when
// the pack cannot be read. Copied into every pack by `npx breakglass audit-pack`.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const GENESIS = '0'.repeat(64);
const dir = resolve(process.argv[2] ?? dirname(fileURLToPath(import.meta.url)));
const failures = [];
const say = (line) => process.stdout.write(`${line}\n`);
const fail = (what, reason) => {
  failures.push(`${what}: ${reason}`);
  say(`${what}: FAILED — ${reason}`);
};
const read = (file) => {
  const path = join(dir, file);
  if (!existsSync(path)) return undefined;
  return readFileSync(path);
};
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** RFC 8785 canonical JSON of a value read by JSON.parse: keys sorted by UTF-16 code units, strings and numbers as JSON.stringify writes them. */
function canonical(value) {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('a number that is not finite');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;
}

const eventContent = (e) =>
  canonical({ seq: e.seq, occurred_at: e.occurred_at, kind: e.kind, actor: e.actor, subject: e.subject, resource: e.resource, request_id: e.request_id, details: e.details });

function keyFrom(base64Spki) {
  return createPublicKey({ key: Buffer.from(base64Spki, 'base64'), format: 'der', type: 'spki' });
}
const fingerprint = (base64Spki) => `ed25519:${sha256(Buffer.from(base64Spki, 'base64')).slice(0, 16)}`;

function checkFiles() {
  const sums = read('SHA256SUMS');
  if (!sums) return fail('files', 'SHA256SUMS is missing');
  let count = 0;
  for (const line of sums.toString('utf8').split('\n').filter(Boolean)) {
    const match = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!match) return fail('files', `SHA256SUMS has a line that is not "<sha-256>  <file>": ${line.slice(0, 80)}`);
    const content = read(match[2]);
    if (!content) fail('files', `${match[2]} is listed in SHA256SUMS but missing`);
    else if (sha256(content) !== match[1]) fail('files', `${match[2]} differs from SHA256SUMS: it was changed after the pack was written`);
    else count++;
  }
  if (!failures.some((f) => f.startsWith('files:'))) say(`files: OK — ${count} file(s) match SHA256SUMS`);
  const pem = read('public-key.pem');
  const signature = read('SHA256SUMS.sig');
  if (!signature || !pem) return say('signature: NOT SIGNED — the pack has no SHA256SUMS.sig (breakglass had no signing key when it wrote it); the files are checked against SHA256SUMS only');
  try {
    const key = createPublicKey(pem.toString('utf8'));
    const spki = key.export({ format: 'der', type: 'spki' }).toString('base64');
    if (!verify(null, sums, key, Buffer.from(signature.toString('utf8').trim(), 'base64'))) return fail('signature', 'SHA256SUMS.sig is not the signature of SHA256SUMS by the key in public-key.pem');
    say(`signature: OK — SHA256SUMS is signed by ${fingerprint(spki)} (public-key.pem; compare it with the key= of the checkpoints in the security channel)`);
  } catch (error) {
    fail('signature', `public-key.pem or SHA256SUMS.sig cannot be read (${error.message})`);
  }
}

function readEvents() {
  const text = read('evidence.jsonl');
  if (!text) throw new Error('evidence.jsonl is missing');
  return text.toString('utf8').split('\n').filter(Boolean).map((line, i) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`evidence.jsonl line ${i + 1} is not JSON`);
    }
  });
}

/** The same checks, in the same order and words, as `npx breakglass evidence verify`. */
function checkChain(events) {
  if (events.length === 0) return say('chain: OK — no events in the period');
  const first = events[0];
  let expected = first.seq;
  let previous = first.seq === 1 ? GENESIS : first.prev_hash;
  for (const event of events) {
    const stop = (reason) => fail('chain', `event ${event.seq} (${event.kind}): ${reason}`);
    if (event.seq !== expected) {
      return stop(event.seq > expected ? `events ${expected}${event.seq - 1 > expected ? `–${event.seq - 1}` : ''} are missing before it` : `seq ${event.seq} is out of order (expected ${expected})`);
    }
    if (event.prev_hash !== previous) return stop(`its prev_hash does not match the hash of event ${expected - 1}: an event before it was removed, replaced or reordered`);
    let hash;
    try {
      hash = sha256(Buffer.from(event.prev_hash + eventContent(event), 'utf8'));
    } catch (error) {
      return stop(`its content cannot be hashed (${error.message})`);
    }
    if (hash !== event.hash) return stop('its content does not match its hash: it was changed after it was written');
    previous = event.hash;
    expected++;
  }
  const from = first.seq === 1 ? 'from the genesis hash' : `from event ${first.seq - 1}'s hash ${first.prev_hash} (before the period)`;
  say(`chain: OK — events ${first.seq}–${expected - 1} (${events.length}) link and hash correctly ${from}; head ${previous}`);
}

function checkpointsOf(events) {
  const found = [];
  for (const e of events.filter((e) => e.kind === 'ledger.checkpoint')) {
    const d = e.details;
    found.push({ where: `ledger.checkpoint event ${e.seq}`, count: d.count, head: d.head, at: d.at, key: d.public_key, sig: d.signature, v: d.v });
  }
  const posted = read('checkpoints.txt');
  for (const line of posted ? posted.toString('utf8').split('\n') : []) {
    const m = /breakglass-checkpoint v(\d+) count=(\d+) head=([0-9a-f]{64}) at=(\S+) key=(\S+) sig=(\S+)/.exec(line);
    if (m) found.push({ where: `the copy posted at ${m[4]}`, v: Number(m[1]), count: Number(m[2]), head: m[3], at: m[4], key: m[5], sig: m[6] });
  }
  return found;
}

function checkCheckpoints(events) {
  const hashAt = new Map(events.map((e) => [e.seq, e.hash]));
  if (events[0]) hashAt.set(events[0].seq - 1, events[0].seq === 1 ? GENESIS : events[0].prev_hash);
  const last = events.at(-1)?.seq ?? 0;
  let checked = 0;
  let outside = 0;
  for (const c of checkpointsOf(events)) {
    const what = `checkpoint (${c.where})`;
    let genuine = false;
    try {
      const message = Buffer.from(canonical({ v: 1, count: c.count, head: c.head, at: c.at }), 'utf8');
      genuine = c.v === 1 && verify(null, message, keyFrom(c.key), Buffer.from(c.sig, 'base64'));
    } catch {
      genuine = false;
    }
    if (!genuine) {
      fail(what, `its signature does not verify against its key ${safeFingerprint(c.key)}: its count, head or time were altered, or it was forged`);
      continue;
    }
    if (c.count > last) {
      fail(what, `it covers events #1–#${c.count}, but the pack's events end at #${last}: the newest events were deleted`);
      continue;
    }
    const actual = hashAt.get(c.count);
    if (actual === undefined) {
      outside++;
      continue;
    }
    if (actual !== c.head) fail(what, `event #${c.count}'s hash differs from the checkpoint: the chain was rewritten`);
    else checked++;
  }
  say(`checkpoints: ${checked} match the chain${outside ? `; ${outside} cover only events before the pack, which it cannot check offline` : ''}`);
}

function safeFingerprint(key) {
  try {
    return fingerprint(key);
  } catch {
    return '(unreadable)';
  }
}

function checkHeadRow(events) {
  const text = read('verification.json');
  if (!text) return fail('ledger head', 'verification.json is missing');
  const verification = JSON.parse(text.toString('utf8'));
  const last = events.at(-1);
  const row = verification.head_row;
  // Only a pack whose events reach the end of the ledger can be compared with the head row.
  if (!row || !last || last.seq !== verification.count) return say('ledger head: not compared (the period ends before the newest event)');
  if (row.seq !== last.seq || row.hash !== last.hash) {
    return fail('ledger head', `the ledger's head row (ledger_head) records event #${row.seq} (${row.hash}), but the newest event is #${last.seq} (${last.hash}): newer events were deleted, or the newest replaced`);
  }
  say(`ledger head: OK — the head row records event #${row.seq}, the newest event`);
}

try {
  say(`Checking the audit pack in ${dir}`);
  checkFiles();
  const events = readEvents();
  checkChain(events);
  checkCheckpoints(events);
  checkHeadRow(events);
} catch (error) {
  say(`CANNOT CHECK: ${error.message}`);
  process.exit(2);
}
say(failures.length === 0 ? 'VERDICT: OK' : `VERDICT: TAMPERED — ${failures[0]}`);
process.exitCode = failures.length === 0 ? 0 : 1;
