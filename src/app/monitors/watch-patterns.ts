import { asc, gt } from 'drizzle-orm';
import { evidenceEvents, monitorCursor } from '../../db/schema.ts';
import { isOpaque, parseEvent } from '../../domain/events.ts';
import { raiseAlert } from '../alerts.ts';
import type { AppDeps } from '../deps.ts';
import { DETECTORS, type Finding, type WatchedEvent } from './detectors.ts';

const BATCH = 500;

/**
 * Reads the ledger on from where the monitors stopped and raises an alert for each suspicious
 * pattern an event completes. The alerts and the cursor move in one transaction, so a crash
 * re-reads the batch and raises nothing twice; a replica finding the cursor locked leaves the
 * batch to the one holding it. Returns how many events were read.
 */
export async function watchSuspiciousPatterns(deps: AppDeps): Promise<number> {
  const config = deps.access.config.monitors;
  return deps.db.transaction(async (tx) => {
    const [cursor] = await tx.select().from(monitorCursor).for('update', { skipLocked: true });
    if (!cursor) return 0;
    const rows = await tx.select().from(evidenceEvents).where(gt(evidenceEvents.seq, cursor.seq)).orderBy(asc(evidenceEvents.seq)).limit(BATCH);
    const findings: Finding[] = [];
    for (const row of rows) {
      const event = parseEvent(row);
      // An event the catalogue cannot read is readiness's to report; the monitors read on.
      if (isOpaque(event)) continue;
      const watched: WatchedEvent = { ...row, requestId: row.requestId === null ? null : Number(row.requestId), event };
      for (const detect of DETECTORS) {
        const finding = await detect(tx, watched, config);
        if (finding) findings.push(finding);
      }
    }
    // Raised last: the first append takes the ledger's head lock until commit, and the reading above
    // must not hold up every other writer.
    for (const finding of findings) await raiseAlert(tx, deps, { kind: finding.notification.kind, ...finding });
    const last = rows.at(-1);
    if (last) await tx.update(monitorCursor).set({ seq: last.seq });
    return rows.length;
  });
}
