import { humanDuration } from '../history.ts';
import { BASIS_LABELS, type ControlSection, type ReportData } from './report-data.ts';
import { REPORT_CSS } from './report-style.ts';
import { esc, legendHtml, offboardingSvg, reviewSvg, revokeSvg, timelineSvg } from './report-svg.ts';

/**
 * report.html: the audit pack as a report a person reads. One self-contained file: its styles
 * inline, its figures inline SVG, no script, and a Content-Security-Policy that forbids fetching
 * anything, so it shows the same opened from disk, offline, or printed. Pure: ReportData in, a
 * string out; every piece of evidence text goes through esc().
 */

const seqs = (values: number[]) => `<span class="seq">${values.length === 0 ? '—' : values.map((s) => esc(s)).join(', ')}</span>`;
const cell = (value: string | number | null | undefined) => `<td>${value === null || value === undefined || value === '' ? '—' : esc(value)}</td>`;
/** The pack's Markdown texts (file checks, notes): escaped, with `code` and **bold** kept as such. */
const markdownText = (value: string) => esc(value).replace(/`([^`]+)`/g, '<code>$1</code>').replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
/** An instant: broken only between its date and its time, so a column of them reads down. */
const when = (value: string | null | undefined) => cell(value).replace('<td>', '<td class="t">').replace(/(\d{4}-\d\d-\d\d)T/g, '$1T<wbr>');

export function renderReportHtml(data: ReportData): string {
  const title = `Production access evidence, ${data.period.from.slice(0, 10)} to ${data.period.to.slice(0, 10)}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    // No network, no script: whatever the evidence holds, the page can only show it.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title><style>${REPORT_CSS}</style></head><body>`,
    `<header><h1>${esc(title)}</h1><p>Generated ${esc(data.generatedAt)} by breakglass from its evidence ledger. Every figure links to the rows it draws; every row names its ledger events (<span class="seq">seq</span>, in <code>evidence.jsonl</code>).</p></header>`,
    tocHtml(),
    scopeHtml(data),
    summaryHtml(data),
    `<section id="controls"><h2>Controls</h2>${data.controls.map(controlHtml).join('')}</section>`,
    exceptionsHtml(data),
    accessHtml(data),
    reviewsHtml(data),
    offboardingHtml(data),
    revokesHtml(data),
    notesHtml(data),
    '</body></html>',
    '',
  ].join('\n');
}

function tocHtml(): string {
  const items = [
    ['scope', 'Period and scope'],
    ['summary', 'Summary'],
    ['controls', 'Controls'],
    ['exceptions', 'Exceptions'],
    ['access', 'Who held access when'],
    ['reviews', 'Access reviews'],
    ['offboarding', 'Offboarding'],
    ['revokes', 'Revocations'],
  ];
  return `<nav><ol>${items.map(([id, text]) => `<li><a href="#${id}">${text}</a></li>`).join('')}</ol></nav>`;
}

function scopeHtml(data: ReportData): string {
  const l = data.ledger;
  const versions = data.scope.policyVersions.map((v) => `<li><code>${esc(v.hash)}</code> from ${esc(v.since)} <span class="seq">${esc(v.seq)}</span></li>`).join('');
  return `<section id="scope"><h2>Period and scope</h2><dl>
<dt>Period</dt><dd>${esc(data.period.from)} to ${esc(data.period.to)} (UTC; the end is exclusive)</dd>
<dt>Resources</dt><dd>${data.scope.resources.length === 0 ? 'none recorded' : data.scope.resources.map((r) => `<code>${esc(r)}</code>`).join(', ')}</dd>
<dt>Policy</dt><dd><code>policy.md</code>, rendered from <code>${esc(data.scope.policyPath)}</code>, SHA-256 <code>${esc(data.scope.policyHash)}</code>; versions in force:<ul>${versions || '<li>none recorded</li>'}</ul></dd>
<dt>Evidence ledger</dt><dd class="${l.ok ? 'ok' : 'bad'}">${esc(l.count)} event(s) re-verified, ${l.ok ? `chain intact, head <code>${esc(l.headHash)}</code>` : `<strong>chain broken</strong> at ${esc(l.problem)}`}; ${esc(l.eventsInPeriod)} event(s) in the period</dd>
</dl></section>`;
}

function summaryHtml(data: ReportData): string {
  const rows = data.population.map((p) => `<tr><th scope="row">${esc(p.label)}</th><td class="num"><a href="${esc(p.href)}">${esc(p.count)}</a></td></tr>`).join('');
  return `<section id="summary"><h2>Summary</h2><table class="population"><thead><tr><th>population in the period</th><th>count</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function controlHtml(c: ControlSection): string {
  const population = c.population.map((p) => `<li><a href="${esc(p.href)}">${esc(p.count)} ${esc(p.label)}</a></li>`).join('');
  const exceptions = c.exceptions.length === 0 ? '<p>No exceptions found for this control.</p>' : `<ul>${c.exceptions.map((e) => `<li><a href="#${esc(e.anchor)}"><code>${esc(e.id)}</code></a> ${esc(e.title)}</li>`).join('')}</ul>`;
  const files = c.files.map((f) => `<li><code>${esc(f.file)}</code>: ${markdownText(f.checks)}</li>`).join('');
  return `<section class="control" id="control-${esc(c.id.replace('.', '-'))}"><h3>${esc(c.id)}: ${esc(c.meaning)}</h3>
<p>${esc(c.narrative)}</p><h4>Population</h4><ul>${population || '<li>—</li>'}</ul><h4>Exceptions</h4>${exceptions}<h4>Files behind it</h4><ul>${files}</ul></section>`;
}

function exceptionsHtml(data: ReportData): string {
  if (data.exceptions.length === 0) return '<section id="exceptions"><h2>Exceptions</h2><p>No exceptions found in the period.</p></section>';
  const rows = data.exceptions.map((e) => {
    const responses = e.responses.length === 0 ? '<em>No management response recorded.</em>' : e.responses.map((r) => `<p class="response">${esc(r.by)} at ${esc(r.at)} <span class="seq">${esc(r.seq)}</span>: ${esc(r.text)}</p>`).join('');
    return `<tr id="${esc(e.anchor)}"><td><code>${esc(e.id)}</code></td><td>${esc(e.title)}</td><td>${esc(e.summary)}</td>${when(e.at)}<td>${responses}</td><td>${seqs(e.seqs)}</td></tr>`;
  });
  return `<section id="exceptions"><h2>Exceptions and management responses</h2><p>Respond with <code>npx breakglass respond &lt;id&gt; "&lt;text&gt;"</code>.</p>
<table><thead><tr><th>id</th><th>exception</th><th>what</th><th>at</th><th>management response</th><th>seq</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function accessHtml(data: ReportData): string {
  const figures = data.timelines.map((t) => `<figure id="timeline-${esc(t.resource.replace(/[^A-Za-z0-9_-]/g, '_'))}"><figcaption>${esc(t.resource)}</figcaption>${timelineSvg(t, data.period, data.generatedAt)}</figure>`).join('');
  const rows = data.timelines.flatMap((t) => t.lanes.flatMap((l) => l.rows)).map(
    (r) => `<tr id="${esc(r.anchor)}" class="row-${r.basis}">${cell(r.resource)}${cell(r.person)}${cell(r.principal)}<td><span class="swatch basis-${r.basis}"></span>${esc(BASIS_LABELS[r.basis])}: ${esc(r.basisText)}</td>${when(r.from)}${when(r.to ?? 'still held')}${cell(r.ended)}<td>${seqs(r.seqs)}</td></tr>`,
  );
  const body = rows.length === 0 ? '<p>No access to any resource is recorded in the period.</p>' : `${legendHtml()}${figures}<table><thead><tr><th>resource</th><th>person</th><th>principal</th><th>basis</th><th>from</th><th>to</th><th>ended</th><th>seq</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  return `<section id="access"><h2>Who held access when</h2><p>From the access record (<code>access.csv</code>): breakglass’s grants and what the providers’ listings showed, whatever granted it.</p>${body}</section>`;
}

function reviewsHtml(data: ReportData): string {
  if (data.reviews.length === 0) return '<section id="reviews"><h2>Access reviews</h2><p>No access-review campaign has events in the period.</p></section>';
  const rows = data.reviews.map(
    (r) => `<tr id="${esc(r.anchor)}">${cell(r.campaign)}${when(r.startedAt)}${when(r.dueAt)}${cell(r.decided)}${cell(r.kept)}${cell(r.revoked)}${cell(`${r.signOffs} of ${r.expected ?? '?'}`)}${cell(r.missing)}${when(r.closedAt)}<td>${seqs(r.seqs)}</td></tr>`,
  );
  return `<section id="reviews"><h2>Access reviews: completion</h2><figure>${reviewSvg(data.reviews)}</figure>
<table><thead><tr><th>campaign</th><th>started</th><th>due</th><th>lines decided</th><th>kept</th><th>revoked</th><th>sign-offs</th><th>missing at period end</th><th>closed</th><th>seq</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function offboardingHtml(data: ReportData): string {
  if (data.offboarding.length === 0) return '<section id="offboarding"><h2>Offboarding</h2><p>No offboarding is recorded in the period.</p></section>';
  const rows = data.offboarding.map(
    (r) => `<tr id="${esc(r.anchor)}">${cell(r.person)}${when(r.deactivatedAt)}${when(r.accessEndedAt)}${cell(r.tookMs === null ? null : humanDuration(r.tookMs))}${cell(r.slaMs === null ? null : humanDuration(r.slaMs))}${cell(r.slaMet === null ? 'not completed' : r.slaMet ? 'yes' : 'no')}<td>${seqs(r.seqs)}</td></tr>`,
  );
  return `<section id="offboarding"><h2>Offboarding: time against the SLA</h2><p>The line on each bar is the SLA.</p><figure>${offboardingSvg(data.offboarding)}</figure>
<table><thead><tr><th>person</th><th>deactivated</th><th>access ended</th><th>took</th><th>SLA</th><th>met</th><th>seq</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function revokesHtml(data: ReportData): string {
  const late = data.revokes.filter((r) => r.late).length;
  const intro = `<p>${data.revokes.length} revocation(s) in the period; ${late} came more than ${esc(humanDuration(data.lateToleranceMs))} after the access’s end.</p>`;
  if (data.revokes.length === 0) return `<section id="revokes"><h2>Revocations: lateness</h2>${intro}</section>`;
  const rows = data.revokes.map(
    (r) => `<tr id="${esc(r.anchor)}" class="${r.late ? 'late' : ''}">${cell(r.grantId)}${cell(r.resource)}${cell(r.person)}${when(r.scheduledEnd)}${when(r.revokedAt)}${cell(r.lateByMs > 0 ? humanDuration(r.lateByMs) : 'on time')}<td>${seqs(r.seqs)}</td></tr>`,
  );
  const figure = late > 0 ? `<figure>${revokeSvg(data.revokes, data.lateToleranceMs)}</figure>` : '';
  return `<section id="revokes"><h2>Revocations: lateness</h2>${intro}${figure}
<table><thead><tr><th>grant</th><th>resource</th><th>person</th><th>scheduled end</th><th>revoked</th><th>late by</th><th>seq</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function notesHtml(data: ReportData): string {
  if (data.notes.length === 0) return '';
  return `<section id="notes"><h2>Notes</h2><ul>${data.notes.map((n) => `<li>${markdownText(n)}</li>`).join('')}</ul></section>`;
}
