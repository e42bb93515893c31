/**
 * report.html's styles, inline in the file (no external stylesheet or font: it opens offline).
 * The basis colours are the timeline's legend; print keeps them (print-color-adjust) and keeps
 * rows and figures whole across pages.
 */
export const REPORT_CSS = `
:root { --grant: #2b6cb0; --emergency: #c53030; --keep: #2f855a; --unmanaged: #805ad5; --ink: #1a202c; --muted: #4a5568; --line: #cbd5e0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); margin: 2rem auto; max-width: 1200px; padding: 0 1rem; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { border-bottom: 2px solid var(--line); padding-bottom: .2rem; margin-top: 2.2rem; } h3 { margin-top: 1.6rem; } h4 { margin: .8rem 0 .2rem; }
code, .seq { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; overflow-wrap: anywhere; }
.seq { color: var(--muted); } .seq::before { content: "seq "; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0; font-size: .86rem; }
th, td { border: 1px solid var(--line); padding: .25rem .4rem; text-align: left; vertical-align: top; overflow-wrap: break-word; white-space: pre-wrap; }
td.t { overflow-wrap: normal; }
thead th { background: #edf2f7; } td.num { text-align: right; } table.population { width: auto; }
tr:target { outline: 3px solid #d69e2e; background: #fffbea; }
tr.late td { background: #fff5f5; }
dt { font-weight: 600; margin-top: .4rem; } dd { margin-left: 1rem; } .bad { color: var(--emergency); }
nav ol { columns: 2; }
figure { margin: 1rem 0; } figcaption { font-weight: 600; margin-bottom: .2rem; }
svg { width: 100%; height: auto; display: block; }
svg text { font: 11px system-ui, sans-serif; fill: var(--ink); }
svg .tick { stroke: #e2e8f0; } svg .lane { stroke: #f0f0f0; } svg .tick-label { fill: var(--muted); } svg .marker { stroke: var(--ink); stroke-width: 2; }
.bar.basis-grant, .swatch.basis-grant { fill: var(--grant); background: var(--grant); }
.bar.basis-emergency, .swatch.basis-emergency { fill: var(--emergency); background: var(--emergency); }
.bar.basis-review_keep, .swatch.basis-review_keep { fill: var(--keep); background: var(--keep); }
.bar.basis-unmanaged, .swatch.basis-unmanaged { fill: var(--unmanaged); background: var(--unmanaged); }
.bar.complete, .bar.met { fill: var(--keep); } .bar.incomplete, .bar.missed, .bar.late { fill: var(--emergency); } .bar.open { fill: #a0aec0; }
.swatch { display: inline-block; width: .8em; height: .8em; margin-right: .3em; vertical-align: -1px; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 1.2rem; } ul.legend svg { display: inline; width: 14px; vertical-align: -2px; }
.response { margin: 0 0 .3rem; }
@page { size: A4 landscape; margin: 12mm 10mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  tr, figure, .control { break-inside: avoid; }
  h2 { break-after: avoid; }
}
`;
