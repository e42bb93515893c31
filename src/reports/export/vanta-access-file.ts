import type { ReviewReport, ReviewReportLine } from '../review/review-report.ts';
import { toSafeCsv } from '../csv-safe.ts';

/**
 * Vanta's Access Review "Access File" (help.vanta.com, "Access File Uploader"): one row per
 * account of the system under review. Vanta reads a file per system and an account once, with its
 * roles comma-separated, so the lines of a campaign are grouped by account (the provider
 * principal) and the resources it holds become its roles.
 */
export const VANTA_ACCESS_FILE_COLUMNS = ['Account name', 'Account owner', 'Role', 'Status', 'Access Appropriate', 'Date created', 'Date deactivated'] as const;

export interface VantaAccessFile {
  csv: string;
  accounts: number;
  lines: number;
  filename: string;
}

type Row = Record<(typeof VANTA_ACCESS_FILE_COLUMNS)[number], string | null>;

export function vantaAccessFile(report: ReviewReport, options: { resource?: string | undefined; company?: string | undefined } = {}): VantaAccessFile {
  const lines = report.lines.filter((line) => options.resource === undefined || line.resource === options.resource);
  const byAccount = new Map<string, ReviewReportLine[]>();
  for (const line of lines) byAccount.set(line.principal, [...(byAccount.get(line.principal) ?? []), line]);
  const rows = [...byAccount.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, held]) => accountRow(held));
  const system = options.resource ?? report.campaign.scope.join(', ');
  // Vanta names the file "Access File - <company> - <system>.csv"; no byte order mark, which its
  // header check would read as part of "Account name".
  return {
    csv: toSafeCsv(VANTA_ACCESS_FILE_COLUMNS, rows, { bom: false }),
    accounts: rows.length,
    lines: lines.length,
    filename: `Access File - ${options.company ?? 'breakglass'} - ${system}.csv`.replace(/[\\/:*?"<>|]/g, '_'),
  };
}

function accountRow(lines: ReviewReportLine[]): Row {
  const first = lines[0]!;
  const removed = removedOn(lines);
  const since = lines.map((line) => line.since).filter((d): d is Date => d !== null).sort((a, b) => a.getTime() - b.getTime())[0];
  return {
    'Account name': first.principal,
    // Vanta matches owners by email; an account breakglass cannot tie to a person has none.
    'Account owner': lines.find((line) => line.email)?.email ?? 'No owner',
    Role: [...new Set(lines.map((line) => line.resource))].sort().join(', '),
    Status: removed ? 'Deactivated' : 'Active',
    'Access Appropriate': appropriate(lines),
    'Date created': since ? day(since) : null,
    'Date deactivated': removed ? day(removed) : null,
  };
}

/** "No" when any of the account's lines was revoked, "Yes" when every one was kept, blank until then. */
function appropriate(lines: ReviewReportLine[]): string | null {
  if (lines.some((line) => line.decision === 'revoke')) return 'No';
  return lines.every((line) => line.decision === 'keep') ? 'Yes' : null;
}

/**
 * When the account lost the last of its access: only once every line was revoked and the revoke
 * seen at the provider. A revoke still pending, or not confirmed, leaves the account Active.
 */
function removedOn(lines: ReviewReportLine[]): Date | undefined {
  if (!lines.every((line) => line.revokeState === 'revoked' && line.revokeVerified && line.revokedAt)) return undefined;
  return lines.map((line) => line.revokedAt!).sort((a, b) => b.getTime() - a.getTime())[0];
}

const day = (date: Date) => date.toISOString().slice(0, 10);
