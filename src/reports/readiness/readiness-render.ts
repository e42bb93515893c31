import type { UnreadableEvent } from '../history.ts';
import { GAP_KINDS, GAP_TITLES, type ReadinessReport } from './readiness-report.ts';
import { uptimeLine } from './uptime-findings.ts';

/** The report for a person: a line per gap, grouped by kind, with the events behind each. */
export function readinessToText(report: ReadinessReport): string {
  const lines: string[] = [];
  const period = `${report.period.from} to ${report.period.to} (UTC, end exclusive)`;
  lines.push(`Audit readiness for ${period}`);
  lines.push(
    `Ledger: ${report.ledger.count} event(s) verified, ${report.ledger.problem ? `CHAIN BROKEN at event ${report.ledger.problem.seq}` : `chain intact, head ${report.ledger.head_hash}`}${
      report.ledger.checkpoint ? `; newest checkpoint (event ${report.ledger.checkpoint.seq}) ${report.ledger.checkpoint.ok ? 'matches' : 'DOES NOT MATCH'}` : '; no signed checkpoint recorded'
    }`,
  );
  const c = report.checked;
  lines.push(
    `Checked: ${c.grants} grant(s), ${c.extensions} extension(s), ${c.revocations} revocation(s), ${c.emergency_grants} emergency grant(s), ${c.alerts} alert(s), ${c.review_campaigns} review campaign(s), ${c.offboardings} offboarding(s), ${c.days} day(s)`,
  );
  lines.push(uptimeLine(report.uptime, report.period));
  if (report.unreadable.length > 0) lines.push(unreadableLine(report.unreadable));
  lines.push('');
  if (report.ok) {
    lines.push('No gaps found.');
    return `${lines.join('\n')}\n`;
  }
  lines.push(`${report.gaps.length} gap(s) found:`);
  for (const kind of GAP_KINDS) {
    const gaps = report.gaps.filter((g) => g.kind === kind);
    if (gaps.length === 0) continue;
    lines.push('', `${GAP_TITLES[kind]} (${gaps.length}) [${kind}]`);
    for (const gap of gaps) {
      lines.push(`  - ${gap.summary}${gap.seqs.length > 0 ? ` [event${gap.seqs.length === 1 ? '' : 's'} ${gap.seqs.join(', ')}]` : ''}${gap.id ? ` (id ${gap.id})` : ''}`);
      for (const r of gap.responses ?? []) lines.push(`    Response by ${r.by} at ${r.at} [event ${r.seq}]: ${oneLine(r.text)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The same report as Markdown, for the audit pack. */
export function readinessToMarkdown(report: ReadinessReport): string {
  const lines: string[] = [];
  lines.push('# Audit readiness', '');
  lines.push(`Period: ${report.period.from} to ${report.period.to} (UTC, end exclusive).`, '');
  lines.push(
    `Ledger: ${report.ledger.count} event(s) verified; ${report.ledger.problem ? `**chain broken at event ${report.ledger.problem.seq}**: ${report.ledger.problem.reason}` : `chain intact, head \`${report.ledger.head_hash}\``}; ${
      report.ledger.checkpoint
        ? `newest signed checkpoint (event ${report.ledger.checkpoint.seq}) ${report.ledger.checkpoint.ok ? 'matches' : '**does not match**'}: ${escapeMarkdown(report.ledger.checkpoint.message)}`
        : 'no signed checkpoint recorded'
    }.`,
    '',
  );
  const c = report.checked;
  lines.push('| checked | count |', '| --- | --- |');
  for (const [name, value] of Object.entries(c)) lines.push(`| ${name.replace(/_/g, ' ')} | ${value} |`);
  lines.push('');
  lines.push(escapeMarkdown(uptimeLine(report.uptime, report.period)), '');
  if (report.unreadable.length > 0) lines.push(escapeMarkdown(unreadableLine(report.unreadable)), '');
  if (report.ok) {
    lines.push('**No gaps found.**', '');
    return lines.join('\n');
  }
  lines.push(`**${report.gaps.length} gap(s) found.** Each names the evidence events (seq numbers in \`evidence.jsonl\`) behind it.`, '');
  for (const kind of GAP_KINDS) {
    const gaps = report.gaps.filter((g) => g.kind === kind);
    if (gaps.length === 0) continue;
    lines.push(`## ${GAP_TITLES[kind]} (${gaps.length})`, '');
    for (const gap of gaps) {
      lines.push(`- ${escapeMarkdown(gap.summary)}${gap.seqs.length > 0 ? ` Event${gap.seqs.length === 1 ? '' : 's'}: ${gap.seqs.join(', ')}.` : ''}${gap.id ? ` Id: \`${gap.id}\`.` : ''}`);
      for (const r of gap.responses ?? []) lines.push(`  - **Management response** by ${escapeMarkdown(r.by)} at ${r.at} (event ${r.seq}): ${escapeMarkdown(oneLine(r.text))}`);
      if (gap.id && (gap.responses ?? []).length === 0) lines.push('  - No management response recorded.');
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** Names the events left out because the catalogue cannot read them (the first ten, and how many more). */
function unreadableLine(unreadable: UnreadableEvent[]): string {
  const named = unreadable.slice(0, 10).map((u) => `event ${u.seq} (${u.problem})`);
  const more = unreadable.length > 10 ? `, and ${unreadable.length - 10} more` : '';
  return `Not read: ${unreadable.length} event(s) of an unknown kind or with details not of their kind's shape, left out of the checks: ${named.join('; ')}${more}`;
}

export function escapeMarkdown(value: string): string {
  return value.replace(/([\\`*_[\]<>|])/g, '\\$1');
}

/** Someone's text on one line of a list. */
function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}
