import { parentPort } from 'node:worker_threads';
import { checkEvents, type ChainPosition } from './chain-check.ts';
import { parseEvents } from './read.ts';

/** One of verify's worker threads: checks a window of COPY text from the position it is given. */
export interface WindowJob {
  id: number;
  text: Uint8Array;
  from: ChainPosition;
}

parentPort?.on('message', (job: WindowJob) => {
  try {
    parentPort!.postMessage({ id: job.id, ...checkEvents(parseEvents(job.text), job.from) });
  } catch (error) {
    parentPort!.postMessage({ id: job.id, error: error instanceof Error ? error.message : String(error) });
  }
});
