import type { ResponseRecord } from '../history.ts';
import type { Gap } from './readiness.ts';

/**
 * A readiness gap as an exception management can respond to: its id (stable, from the first
 * event behind it, or its time for a gap no event marks), repeated alerts about one finding
 * folded together, and the responses recorded for it.
 */
export function exceptionId(gap: Pick<Gap, 'kind' | 'seqs' | 'at'>): string {
  return `${gap.kind}:${gap.seqs[0] ?? gap.at}`;
}

/**
 * An unresolved finding alerted again and again (drift reported every day, say) is one
 * exception with its occurrences: unacknowledged alerts of one kind about one person and
 * resource are folded into the first.
 */
export function groupRepeatedAlerts(gaps: Gap[]): Gap[] {
  const kept: Gap[] = [];
  const first = new Map<string, Gap>();
  for (const gap of gaps) {
    if (gap.kind !== 'unacknowledged_alert' || gap.alert_kind === undefined) {
      kept.push(gap);
      continue;
    }
    const key = JSON.stringify([gap.alert_kind, gap.subject ?? null, gap.resource ?? null]);
    const group = first.get(key);
    if (!group) {
      first.set(key, { ...gap, seqs: [...gap.seqs], alert_ids: [...(gap.alert_ids ?? [])] });
      kept.push(first.get(key)!);
      continue;
    }
    group.seqs.push(...gap.seqs);
    group.alert_ids!.push(...(gap.alert_ids ?? []));
    group.occurrences = (group.occurrences ?? 1) + 1;
    group.last_at = gap.at;
  }
  for (const group of first.values()) {
    if (group.occurrences === undefined) continue;
    group.summary += ` The same finding was alerted ${group.occurrences} times in all, the last at ${group.last_at} (alerts ${group.alert_ids!.join(', ')}).`;
  }
  return kept;
}

/**
 * Whether an exception id names this gap. A gap read over another period may start at another
 * event (alerts folded from an earlier or later stretch), so any event behind it of the same
 * kind matches, as does its time for a gap no event marks.
 */
export function isException(gap: Pick<Gap, 'kind' | 'seqs' | 'at'>, id: string): boolean {
  const colon = id.indexOf(':');
  if (colon < 0 || id.slice(0, colon) !== gap.kind) return false;
  const anchor = id.slice(colon + 1);
  return anchor === gap.at || (/^\d+$/.test(anchor) && gap.seqs.includes(Number(anchor)));
}

/** Each gap gets its id and the responses recorded to that id, or to an alert folded into it. */
export function attachResponses(gaps: Gap[], responses: readonly ResponseRecord[]): Gap[] {
  return gaps.map((gap) => {
    const id = exceptionId(gap);
    const alertIds = new Set(gap.alert_ids ?? []);
    const answered = responses.filter((r) => isException(gap, r.exceptionId) || (r.alertId !== null && alertIds.has(r.alertId)));
    return { ...gap, id, responses: answered.map((r) => ({ by: r.by, at: r.at.toISOString(), text: r.text, seq: r.seq })) };
  });
}
