import type { Db } from '../db/client.ts';
import { clientOf, copyAll, copyField, eventConditions } from './copy-out.ts';
import type { StoredEvent } from './event.ts';

export interface EventFilter {
  from?: Date | undefined;
  /** Exclusive. */
  to?: Date | undefined;
  resource?: string | undefined;
  /** Matches the actor or the subject, without case; a list matches any of its names (one person's aliases). */
  user?: string | readonly string[] | undefined;
}

/**
 * Streams events in seq order, a page at a time by keyset, so memory stays flat over millions of
 * events and both drivers (PGlite has no server-side cursors) behave the same.
 */
export async function* readEvents(db: Db, filter: EventFilter = {}, pageSize = 5_000): AsyncGenerator<StoredEvent> {
  for await (const page of readEventPages(db, filter, pageSize)) yield* page;
}

/** How many rows a COPY reads at once: a few MB of text, held while its pages are handed out. */
const WINDOW = 20_000;

const COLUMNS = `seq, round(extract(epoch from occurred_at) * 1000)::bigint, kind, actor, subject, resource, request_id, details::text, prev_hash, hash`;

/**
 * readEvents a page (an array, in seq order) at a time, for callers that go through millions of
 * events (export, readiness). Splitting COPY text costs about half of what either driver spends
 * making rows into objects.
 */
export async function* readEventPages(db: Db, filter: EventFilter = {}, pageSize = 5_000): AsyncGenerator<StoredEvent[]> {
  for await (const window of readEventWindows(db, filter)) {
    const events = parseEvents(window.text);
    for (let start = 0; start < events.length; start += pageSize) yield events.slice(start, start + pageSize);
  }
}

/** Rows of the ledger as COPY text (parseEvents reads it), with what a reader needs before parsing it. */
export interface EventWindow {
  text: Buffer;
  rows: number;
  /** The stored hash of the window's last row. */
  lastHash: string;
  /** Whether another window follows (this one is full). */
  more: boolean;
}

/**
 * The matching rows as COPY text, a window of rows at a time (keyset on seq). Each window is read
 * to its end before it is handed out, so a caller that stops early never leaves a COPY half read,
 * and the next one is already being fetched while the caller works through this one.
 */
export async function* readEventWindows(db: Db, filter: EventFilter = {}): AsyncGenerator<EventWindow> {
  const client = clientOf(db);
  const fetchWindow = async (after: number): Promise<FetchedWindow> =>
    describeWindow(await copyAll(client, `select ${COLUMNS} from evidence_events where seq > ${after} and ${eventConditions(filter)} order by seq limit ${WINDOW}`));
  let next: Promise<FetchedWindow> | undefined = fetchWindow(0);
  try {
    while (next) {
      const fetched: FetchedWindow = await next;
      const { lastSeq, ...window } = fetched;
      const more = window.rows === WINDOW;
      next = more ? fetchWindow(lastSeq) : undefined;
      // Awaited above on the next turn, or below if the caller stops early; never left unhandled.
      next?.catch(() => undefined);
      if (window.rows > 0) yield { ...window, more };
    }
  } finally {
    await next?.catch(() => undefined);
  }
}

const NEWLINE = 0x0a;
const TAB = 0x09;

/** A window as read, before it is known whether another follows; lastSeq is where the next one starts. */
type FetchedWindow = Omit<EventWindow, 'more'> & { lastSeq: number };

/** Counts the rows and reads the last one's seq (first field) and hash (last field) without parsing the rest. */
function describeWindow(text: Buffer): FetchedWindow {
  let rows = 0;
  for (let at = text.indexOf(NEWLINE); at !== -1; at = text.indexOf(NEWLINE, at + 1)) rows++;
  if (rows === 0) return { text, rows, lastSeq: 0, lastHash: '' };
  const lastLine = text.lastIndexOf(NEWLINE, text.length - 2) + 1;
  const lastSeq = Number(text.toString('latin1', lastLine, text.indexOf(TAB, lastLine)));
  const lastHash = copyField(text.toString('utf8', text.lastIndexOf(TAB, text.length - 2) + 1, text.length - 1))!;
  return { text, rows, lastSeq, lastHash };
}

/** COPY text of the columns readEventWindows selects, as events. */
export function parseEvents(text: Uint8Array): StoredEvent[] {
  const events: StoredEvent[] = [];
  const lines = Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8').split('\n');
  // COPY ends every row with a newline, so the last piece is empty.
  for (let i = 0; i < lines.length - 1; i++) {
    const f = lines[i]!.split('\t');
    events.push({
      seq: Number(f[0]),
      occurredAt: new Date(Number(f[1])),
      kind: copyField(f[2]!)!,
      actor: copyField(f[3]!)!,
      subject: copyField(f[4]!),
      resource: copyField(f[5]!),
      requestId: copyField(f[6]!),
      // Parsed as the drivers parse jsonb, and nothing more: details rewritten as a JSON *string*
      // holding the same object must read back as that string, so verify sees the change.
      details: JSON.parse(copyField(f[7]!)!) as Record<string, unknown>,
      prevHash: copyField(f[8]!)!,
      hash: copyField(f[9]!)!,
    });
  }
  return events;
}
