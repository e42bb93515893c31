import { parentPort } from 'node:worker_threads';
import { canonicalContent, chainHash } from '../../src/evidence/event.ts';
import { copyField } from '../../src/evidence/copy-out.ts';
parentPort!.on('message', ({ id, buf }: { id: number; buf: Uint8Array }) => {
  const lines = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8').split('\n');
  let bad = 0;
  for (let i = 0; i < lines.length - 1; i++) {
    const f = lines[i]!.split('\t');
    const e = { seq: Number(f[0]), occurredAt: new Date(Number(f[1])), kind: copyField(f[2]!)!, actor: copyField(f[3]!)!, subject: copyField(f[4]!), resource: copyField(f[5]!), requestId: copyField(f[6]!), details: JSON.parse(copyField(f[7]!)!), prevHash: copyField(f[8]!)!, hash: copyField(f[9]!)! };
    if (chainHash(e.prevHash, canonicalContent(e)) !== e.hash) bad++;
  }
  parentPort!.postMessage({ id, n: lines.length - 1, bad });
});
