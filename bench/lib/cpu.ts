/**
 * CPU time spent by this process and, on PostgreSQL, by the server backends serving the bench's
 * database (read from /proc: the server runs on this machine). On a shared machine wall-clock
 * figures move with everyone else's load; CPU per operation does much less, so it is recorded
 * beside them to say what bounds a figure.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { rowsOf, type Database } from '../../src/db/client.ts';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of a process, in ms; 0 when it cannot be read. */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
  } catch {
    return 0;
  }
}

async function backendPids(database: Database): Promise<number[]> {
  if (database.kind !== 'postgres') return [];
  const rows = rowsOf<{ pid: number }>(await database.db.execute(sql`select pid from pg_stat_activity where datname = current_database()`));
  return rows.map((r) => Number(r.pid));
}

export interface CpuUsed {
  selfMs: number;
  serverMs: number;
  totalMs: number;
  describe(): string;
}

export async function cpuSnapshot(database?: Database): Promise<{ since(): Promise<CpuUsed> }> {
  const self = process.cpuUsage();
  const before = new Map<number, number>();
  if (database) for (const pid of await backendPids(database)) before.set(pid, processCpuMs(pid));
  return {
    async since() {
      const used = process.cpuUsage(self);
      const selfMs = (used.user + used.system) / 1000;
      let serverMs = 0;
      if (database) for (const pid of await backendPids(database)) serverMs += processCpuMs(pid) - (before.get(pid) ?? 0);
      return {
        selfMs,
        serverMs,
        totalMs: selfMs + serverMs,
        describe: () => `CPU: this process ${selfMs.toFixed(0)} ms${database?.kind === 'postgres' ? `, PostgreSQL backends ${serverMs.toFixed(0)} ms` : ''}`,
      };
    },
  };
}
