import { checkpointFromDetails, checkpointSignatureValid, normalisePublicKey } from './checkpoint.ts';
import type { StoredEvent } from './event.ts';

const DAY_MS = 86_400_000;
/** The bot signs within `checkpoint_every` (at most a day) of new events; a busy or restarting bot may take a few minutes more. */
const CHECKPOINT_GRACE_MS = 15 * 60_000;
export const MAX_UNCOVERED_MS = DAY_MS + CHECKPOINT_GRACE_MS;

/** Events that waited more than a day for a signed checkpoint to cover them. */
export interface CoverageGap {
  firstSeq: number;
  lastSeq: number;
  /** How many events (checkpoints not counted). */
  events: number;
  /** When the first of them was recorded. */
  since: Date;
  /** When the last of them was recorded (for a ledger with no checkpoint at all: now). */
  until: Date;
  /** The checkpoint event that covered them at last, or null: none does. */
  coveredBy: { seq: number; at: Date } | null;
}

type Span = Pick<CoverageGap, 'firstSeq' | 'lastSeq' | 'events' | 'since' | 'until'>;

/**
 * Watches, event by event in seq order, whether events wait more than a day for a signed
 * checkpoint that covers them (`count` ≥ their seq). The bot signs at least daily while it runs,
 * so a ledger that went on recording for more than a day with no checkpoint means checkpoints were
 * removed (a rewritten chain looks just like that) or the checkpoint worker failed. A bot that was
 * stopped is not a gap: a stretch of more than a day with no event at all may be downtime, so it
 * splits the uncovered events into separate spans, each judged by its own first and last event.
 * A ledger with no checkpoint at all is judged against now: the bot signs its first within a day
 * of its first event. Only checkpoints whose signature verifies count (and only the pinned key's,
 * when one is given).
 */
export class CheckpointCoverage {
  private readonly covered: CoverageGap[] = [];
  /** Spans recorded for too long that no checkpoint has covered yet. */
  private readonly waiting: Span[] = [];
  /** The uncovered events since the last checkpoint (or the last day-long silence). */
  private current: Span | null = null;
  private all: Span | null = null;
  private readonly publicKey: string | undefined;
  /** Checkpoints that counted. */
  checkpoints = 0;

  constructor(options: { publicKey?: string | undefined } = {}) {
    this.publicKey = options.publicKey === undefined ? undefined : normalisePublicKey(options.publicKey);
  }

  add(event: StoredEvent): void {
    if (event.kind === 'ledger.checkpoint') {
      const count = this.countOf(event);
      if (count === null) return;
      this.checkpoints++;
      if (this.current && count < this.current.lastSeq) return;
      this.settle();
      const coveredBy = { seq: event.seq, at: event.occurredAt };
      this.covered.push(...this.waiting.splice(0).map((span) => ({ ...span, coveredBy })));
      return;
    }
    this.all = extend(this.all, event);
    // Nothing recorded for over a day: the bot may have been down, so what follows is judged on its own.
    if (this.current && event.occurredAt.getTime() - this.current.until.getTime() > MAX_UNCOVERED_MS) this.settle();
    this.current = extend(this.current, event);
  }

  /** Every gap so far, oldest first; those with `coveredBy: null` no checkpoint covers. */
  gaps(now: Date): CoverageGap[] {
    if (this.checkpoints === 0) {
      return this.all && now.getTime() - this.all.since.getTime() > MAX_UNCOVERED_MS ? [{ ...this.all, until: now, coveredBy: null }] : [];
    }
    const open = [...this.waiting, ...(this.current && tooLong(this.current) ? [this.current] : [])];
    return [...this.covered, ...open.map((span) => ({ ...span, coveredBy: null }))];
  }

  private settle(): void {
    if (this.current && tooLong(this.current)) this.waiting.push(this.current);
    this.current = null;
  }

  /** The seq count a checkpoint event vouches for, or null when it does not count. */
  private countOf(event: StoredEvent): number | null {
    try {
      const checkpoint = checkpointFromDetails(event.details);
      if (!checkpointSignatureValid(checkpoint)) return null;
      if (this.publicKey !== undefined && normalisePublicKey(checkpoint.publicKey) !== this.publicKey) return null;
      return checkpoint.count;
    } catch {
      return null;
    }
  }
}

function extend(span: Span | null, event: StoredEvent): Span {
  if (!span) return { firstSeq: event.seq, lastSeq: event.seq, events: 1, since: event.occurredAt, until: event.occurredAt };
  return { ...span, lastSeq: event.seq, events: span.events + 1, until: event.occurredAt > span.until ? event.occurredAt : span.until };
}

function tooLong(span: Span): boolean {
  return span.until.getTime() - span.since.getTime() > MAX_UNCOVERED_MS;
}

/** `3 day(s)`: whole days, at least 1. */
export function uncoveredDays(gap: CoverageGap): number {
  return Math.max(1, Math.floor((gap.until.getTime() - gap.since.getTime()) / DAY_MS));
}
