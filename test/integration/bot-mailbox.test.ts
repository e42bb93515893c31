import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { answerReviewStartRequests, askRunningBot, type ReviewStartRequest } from '../../src/bot-mailbox.ts';
import { createLogger } from '../../src/logger.ts';

const logger = createLogger('debug', new PassThrough());
const request: ReviewStartRequest = { requestedBy: 'cli:test', period: '2026-Q2' };

describe('the review-start mailbox in DATA_DIR', () => {
  it('takes its request back when no bot answers in time, saying nothing was started', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'breakglass-mailbox-'));
    await expect(askRunningBot(dataDir, request, { timeoutMs: 300 })).rejects.toThrow(/did not pick up the request within 0 s, so nothing was started/);
    expect(readdirSync(join(dataDir, 'requests'))).toEqual([]);
  });

  it('answers a request once, and acts on no file that others could have written', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'breakglass-mailbox-'));
    const asked: ReviewStartRequest[] = [];
    const handle = async (r: ReviewStartRequest) => {
      asked.push(r);
      return { refused: 'No resource `nope` in access.yml' };
    };
    const waiting = askRunningBot(dataDir, request, { timeoutMs: 5_000 });
    const planted = join(dataDir, 'requests', '00000000-0000-0000-0000-000000000000.json');
    writeFileSync(planted, JSON.stringify({ requestedBy: 'cli:mallory' }));
    chmodSync(planted, 0o666);
    expect(await answerReviewStartRequests(dataDir, handle, logger)).toBe(1);
    expect(await waiting).toEqual({ refused: 'No resource `nope` in access.yml' });
    expect(asked).toEqual([request]);
    expect(readdirSync(join(dataDir, 'requests'))).toEqual([]);
    expect(await answerReviewStartRequests(dataDir, handle, logger)).toBe(0);
  });
});
