import { describe, expect, it } from 'vitest';
import { CRITERIA, PACK_FILES } from '../../src/reports/pack/audit-pack.ts';
import { EvidenceHistory } from '../../src/reports/history.ts';
import { assessReadiness } from '../../src/reports/readiness/readiness.ts';
import { gatherReport, type ReportData } from '../../src/reports/pack/report-data.ts';
import { renderReportHtml } from '../../src/reports/pack/report-html.ts';
import { tickTimes } from '../../src/reports/pack/report-svg.ts';
import { buildTimeline } from '../../src/reports/access/timeline.ts';
import { EXPECTED_BARS, HOSTILE_REASON, HOSTILE_RESPONSE, REPORT_NOW, REPORT_PERIOD, reportStory } from '../support/report-story.ts';

const events = reportStory().events();
const history = EvidenceHistory.of(events);
const verify = { ok: true, count: events.length, headHash: events.at(-1)!.hash };
const readiness = assessReadiness(history, { ...REPORT_PERIOD, now: REPORT_NOW, verify });

function report(): ReportData {
  return gatherReport({
    period: REPORT_PERIOD,
    now: REPORT_NOW,
    history,
    timeline: buildTimeline(events, []),
    readiness,
    verification: { ok: true, count: events.length, head_hash: verify.headHash, problem: null },
    eventsInPeriod: events.length,
    access: { hash: 'a'.repeat(64), path: './access.yml', resources: ['prod-db'] },
    policyVersions: [{ hash: 'a'.repeat(64), since: '2026-03-01T00:05:00.000Z', seq: 1 }],
    files: PACK_FILES,
    criteria: CRITERIA,
    notes: [],
  });
}

describe('report.html (pure render)', () => {
  const data = report();
  const html = renderReportHtml(data);

  it('gathers a timeline per resource with a bar per interval, by basis', () => {
    const bars = Object.fromEntries(data.timelines.map((t) => [t.resource, t.lanes.flatMap((l) => l.rows.map((r) => [r.person, r.basis]))]));
    expect(bars).toEqual(EXPECTED_BARS);
  });

  it('has one section per control, each naming its population, exceptions and files', () => {
    expect(data.controls.map((c) => c.id)).toEqual(['CC6.1', 'CC6.2', 'CC6.3', 'CC7.2', 'CC7.3', 'CC8.1']);
    for (const c of data.controls) {
      expect(html).toContain(`id="control-${c.id.replace('.', '-')}"`);
      expect(c.files.length, c.id).toBeGreaterThan(0);
    }
    const late = data.exceptions.find((e) => e.kind === 'late_revoke')!;
    expect(data.controls.find((c) => c.id === 'CC6.2')!.exceptions.map((e) => e.id)).toContain(late.id);
  });

  it('links every figure element to a row that exists, and every row shows its ledger seq', () => {
    const ids = new Set([...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]));
    const links = [...html.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]);
    expect(links.length).toBeGreaterThan(20);
    for (const link of links) expect(ids, link).toContain(link);
    const rows = [...html.matchAll(/<tr id="[^"]+"[^>]*>(.*?)<\/tr>/g)].map((m) => m[1]!);
    expect(rows.length).toBe(5 + data.exceptions.length + data.reviews.length + data.revokes.length);
    for (const row of rows) expect(row).toMatch(/<span class="seq">\d+/);
  });

  it('shows hostile text as text: no markup, no script, no formula gets through', () => {
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>Accepted');
    expect(html).toContain('&lt;script&gt;window.__pwned = 1; alert(&#39;reason&#39;)&lt;/script&gt; =HYPERLINK(&quot;http://evil.example/x&quot;,&quot;click&quot;)');
    expect(html).toContain('&lt;b&gt;Accepted&lt;/b&gt; =cmd|&#39; /C calc&#39;!A0 &lt;/td&gt;&lt;/tr&gt;');
    expect(HOSTILE_REASON).toContain('<script>');
    expect(HOSTILE_RESPONSE).toContain('</td>');
  });

  it('fetches nothing: no external URL in any src or href, and a CSP that forbids it', () => {
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
  });
});

describe('the timeline axis', () => {
  const ticks = (from: string, to: string) => tickTimes(Date.parse(from), Date.parse(to)).map((t) => new Date(t).toISOString().slice(0, 10));

  it('ticks at UTC midnights: daily for a week, fortnightly for a quarter, every two months for a year', () => {
    expect(ticks('2026-03-01T00:00:00Z', '2026-03-08T00:00:00Z')).toEqual(['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06', '2026-03-07', '2026-03-08']);
    expect(ticks('2026-01-01T00:00:00Z', '2026-04-01T00:00:00Z')).toEqual(['2026-01-01', '2026-01-15', '2026-01-29', '2026-02-12', '2026-02-26', '2026-03-12', '2026-03-26']);
    expect(ticks('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')).toEqual(['2026-01-01', '2026-03-01', '2026-05-01', '2026-07-01', '2026-09-01', '2026-11-01', '2027-01-01']);
    expect(ticks('2026-01-15T12:00:00Z', '2026-01-15T18:00:00Z')).toEqual([]);
  });
});
