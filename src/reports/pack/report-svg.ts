import { humanDuration } from '../history.ts';
import { BASIS_LABELS, type AccessRow, type BasisKind, type OffboardingRow, type ResourceTimeline, type RevokeRow, type ReviewRow } from './report-data.ts';

/**
 * The report's figures as inline SVG, generated here: the report must open from disk with no
 * network, carry no script, and print as drawn, so it embeds no charting library. Pure: data in,
 * markup out; every bar is a link to the table row it stands for.
 */

const WIDTH = 1000;
const LABEL = 190;
const PLOT = WIDTH - LABEL - 20;
const LANE = 22;
const TOP = 28;
const BARS = PLOT * 0.5;

/** Text for HTML or SVG content and attribute values: hostile reasons stay text. */
export function esc(value: string | number | null | undefined): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const DAY = 86_400_000;

/** Tick instants at UTC midnights: every day, 2 days, week, 2 weeks, or month, whichever gives at most 10. */
export function tickTimes(start: number, end: number): number[] {
  const days = (end - start) / DAY;
  const step = [1, 2, 7, 14].find((d) => days / d <= 10);
  const ticks: number[] = [];
  let t = Math.ceil(start / DAY) * DAY;
  if (step === undefined) {
    const first = new Date(start);
    t = Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + (first.getUTCDate() === 1 && start % DAY === 0 ? 0 : 1), 1);
    const months = Math.ceil(days / 300);
    for (; t <= end; t = Date.UTC(new Date(t).getUTCFullYear(), new Date(t).getUTCMonth() + months, 1)) ticks.push(t);
    return ticks;
  }
  for (; t <= end; t += step * DAY) ticks.push(t);
  return ticks;
}

/** The date axis: a line and a label at each tick. */
function axis(start: number, end: number, height: number): string {
  return tickTimes(start, end)
    .map((t) => {
      const x = (LABEL + ((t - start) / (end - start)) * PLOT).toFixed(1);
      const label = t + DAY / 2 < end ? `<text class="tick-label" x="${x}" y="${TOP - 10}" text-anchor="middle">${esc(new Date(t).toISOString().slice(0, 10))}</text>` : '';
      return `<line class="tick" x1="${x}" y1="${TOP - 6}" x2="${x}" y2="${height - 4}"/>${label}`;
    })
    .join('');
}

function bar(row: AccessRow, lane: number, start: number, end: number): string {
  const from = Math.max(start, Date.parse(row.from));
  const to = Math.min(end, row.to === null ? end : Date.parse(row.to));
  const x = LABEL + ((from - start) / (end - start)) * PLOT;
  // Access shorter than a pixel still shows: an hour's grant in a quarter is a sliver, not nothing.
  const w = Math.max(2, ((to - from) / (end - start)) * PLOT);
  const y = TOP + lane * LANE + 3;
  const title = `${row.person} · ${BASIS_LABELS[row.basis]} · ${row.from} → ${row.to ?? 'still held'} · evidence ${row.seqs.join(', ')}`;
  return `<a href="#${esc(row.anchor)}"><rect class="bar basis-${row.basis}" data-basis="${row.basis}" data-row="${esc(row.anchor)}" x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${LANE - 6}"><title>${esc(title)}</title></rect></a>`;
}

/** Who held access to one resource when: a lane per person, a bar per interval, coloured by basis. */
export function timelineSvg(timeline: ResourceTimeline, period: { from: string; to: string }, now: string): string {
  const start = Date.parse(period.from);
  const end = Math.max(start + 1, Math.min(Date.parse(period.to), Date.parse(now)));
  const height = TOP + timeline.lanes.length * LANE + 8;
  const parts = [axis(start, end, height)];
  timeline.lanes.forEach((lane, i) => {
    const y = TOP + i * LANE;
    parts.push(`<text class="lane-label" x="${LABEL - 6}" y="${y + LANE / 2 + 4}" text-anchor="end">${esc(truncate(lane.person, 28))}<title>${esc(lane.person)}</title></text>`);
    parts.push(`<line class="lane" x1="${LABEL}" y1="${y + LANE}" x2="${WIDTH - 20}" y2="${y + LANE}"/>`);
    for (const row of lane.rows) parts.push(bar(row, i, start, end));
  });
  const label = `Access to ${timeline.resource} from ${period.from} to ${new Date(end).toISOString()}: ${timeline.lanes.length} person(s)`;
  return `<svg class="timeline" data-resource="${esc(timeline.resource)}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

function truncate(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

export function legendHtml(): string {
  const kinds = Object.keys(BASIS_LABELS) as BasisKind[];
  return `<ul class="legend">${kinds.map((k) => `<li><svg width="14" height="14" aria-hidden="true"><rect class="bar basis-${k}" width="14" height="14"/></svg> ${esc(BASIS_LABELS[k])}</li>`).join('')}</ul>`;
}

interface HBar {
  label: string;
  href: string;
  /** Fraction of the plot, 0..1. */
  value: number;
  cls: string;
  text: string;
  /** A marker (the SLA, the tolerance), as a fraction of the plot. */
  marker?: number;
}

/** Labelled horizontal bars, each a link to its row. */
function hbars(rows: HBar[], aria: string, className: string): string {
  const height = 8 + rows.length * LANE;
  const parts = rows.map((r, i) => {
    const y = 4 + i * LANE;
    // Bars take half the plot, their text the other half, so a long caption never runs off.
    const w = Math.max(2, Math.min(1, r.value) * BARS);
    const mx = (LABEL + (r.marker ?? 0) * BARS).toFixed(1);
    const marker = r.marker === undefined ? '' : `<line class="marker" x1="${mx}" y1="${y}" x2="${mx}" y2="${y + LANE - 2}"/>`;
    return `<a href="#${esc(r.href)}"><text class="lane-label" x="${LABEL - 6}" y="${y + LANE / 2 + 3}" text-anchor="end">${esc(truncate(r.label, 28))}</text><rect class="bar ${r.cls}" data-row="${esc(r.href)}" x="${LABEL}" y="${y + 2}" width="${w.toFixed(1)}" height="${LANE - 6}"><title>${esc(r.text)}</title></rect><text class="bar-text" x="${LABEL + BARS + 12}" y="${y + LANE / 2 + 3}">${esc(truncate(r.text, 70))}</text>${marker}</a>`;
  });
  return `<svg class="${className}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${esc(aria)}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

/** Per campaign: the share of the sign-offs it needs that were given by the end of the period. */
export function reviewSvg(rows: ReviewRow[]): string {
  return hbars(
    rows.map((r) => {
      const expected = r.expected ?? Math.max(1, r.signOffs);
      const done = r.closedAt ? expected : Math.min(expected, expected - r.missing);
      return {
        label: `campaign ${r.campaign}`,
        href: r.anchor,
        value: done / expected,
        cls: r.missing === 0 ? 'complete' : 'incomplete',
        text: `${done} of ${expected} sign-off(s); ${r.decided} line(s) decided (${r.kept} kept, ${r.revoked} revoked)`,
      };
    }),
    'Review completion per campaign',
    'reviews-figure',
  );
}

/** Per offboarding: from deactivation to the end of the last access, against the SLA (the marker). */
export function offboardingSvg(rows: OffboardingRow[]): string {
  const scale = Math.max(1, ...rows.map((r) => Math.max(r.tookMs ?? 0, r.slaMs ?? 0)));
  return hbars(
    rows.map((r) => ({
      label: r.person,
      href: r.anchor,
      value: (r.tookMs ?? 0) / scale,
      cls: r.slaMet === false ? 'missed' : r.slaMet === true ? 'met' : 'open',
      text: `${r.tookMs === null ? 'not completed' : humanDuration(r.tookMs)} (SLA ${r.slaMs === null ? 'not recorded' : humanDuration(r.slaMs)})`,
      ...(r.slaMs === null ? {} : { marker: r.slaMs / scale }),
    })),
    'Offboarding time against the SLA',
    'offboarding-figure',
  );
}

/** The revocations that came later than the tolerance after the end, longest first (at most 40). */
export function revokeSvg(rows: RevokeRow[], toleranceMs: number): string {
  const late = rows.filter((r) => r.late).sort((a, b) => b.lateByMs - a.lateByMs).slice(0, 40);
  const scale = Math.max(toleranceMs, ...late.map((r) => r.lateByMs));
  return hbars(
    late.map((r) => ({ label: `${r.resource}: ${r.person}`, href: r.anchor, value: r.lateByMs / scale, cls: 'late', text: `grant ${r.grantId}: ${humanDuration(r.lateByMs)} late`, marker: toleranceMs / scale })),
    'Revocations later than the tolerance',
    'revokes-figure',
  );
}
