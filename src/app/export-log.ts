import { Writable } from 'node:stream';
import { exportEvents } from '../reports/export/export.ts';
import { Refusal, type AppDeps } from './deps.ts';
import { isSecurity } from './security.ts';

const DAY_MS = 86_400_000;

export interface LogExport {
  csv: Buffer;
  count: number;
  from: Date;
  to: Date;
  resource?: string | undefined;
  filename: string;
}

/** Only the security audience (access.yml `security:`) may pull the evidence log. Throws a Refusal otherwise. */
export async function assertMayExportLog(deps: AppDeps, user: string): Promise<void> {
  if (!deps.access.config.security) {
    throw new Refusal({ code: 'log_no_security_team' });
  }
  if (!(await isSecurity(deps, user))) {
    throw new Refusal({ code: 'log_not_security' });
  }
}

/**
 * The evidence ledger's CSV export (the same columns as `npx breakglass evidence export`) for the
 * last `days` days up to now, for one resource or all, held in memory for an upload. The export is
 * recorded (`log.exported`) once it is read.
 */
export async function exportLog(deps: AppDeps, input: { user: string; resource?: string | undefined; days: number }): Promise<LogExport> {
  const to = deps.clock.now();
  const from = new Date(to.getTime() - input.days * DAY_MS);
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      done();
    },
  });
  // `to` is exclusive in the filter; a millisecond later includes an event written this instant.
  const count = await exportEvents(deps.db, { from, to: new Date(to.getTime() + 1), resource: input.resource }, 'csv', sink, undefined, { bom: true });
  // Who pulled the evidence out, and how much, is evidence too (and what the large-export monitor reads).
  await deps.db.transaction((tx) =>
    deps.ledger.append(tx, { kind: 'log.exported', actor: input.user, resource: input.resource, details: { events: count, from: from.toISOString(), to: to.toISOString() } }),
  );
  const day = (d: Date) => d.toISOString().slice(0, 10);
  return {
    csv: Buffer.concat(chunks),
    count,
    from,
    to,
    resource: input.resource,
    filename: `breakglass-log-${input.resource ?? 'all'}-${day(from)}-to-${day(to)}.csv`,
  };
}
