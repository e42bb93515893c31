import { Duration } from 'luxon';

const COMPACT = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/i;

/**
 * Parses the durations people type in Slack and in access.yml: `30m`, `2h`, `1h30m`, `1d`, and
 * ISO-8601 (`PT2H`, `P1D`, `PT40S` for drills and tests). Returns milliseconds, or undefined when
 * the text is not a duration of whole seconds (at least one).
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const compact = COMPACT.exec(trimmed);
  if (compact && (compact[1] ?? compact[2] ?? compact[3]) !== undefined) {
    const [days, hours, minutes] = [compact[1], compact[2], compact[3]].map((n) => Number(n ?? 0));
    const ms = (((days ?? 0) * 24 + (hours ?? 0)) * 60 + (minutes ?? 0)) * 60_000;
    // Hundreds of digits overflow to Infinity, which is no duration (and formats as "NaNh").
    return ms > 0 && Number.isFinite(ms) ? ms : undefined;
  }
  if (/^P/i.test(trimmed)) {
    const iso = Duration.fromISO(trimmed.toUpperCase());
    if (!iso.isValid) return undefined;
    const ms = iso.as('milliseconds');
    // Whole seconds only: `PT0.5S` was a half-second grant shown as "0m".
    return ms > 0 && Number.isFinite(ms) && ms % 1_000 === 0 ? ms : undefined;
  }
  return undefined;
}

/** `5400000` → `1h30m`, `40000` → `40s`: exactly what parseDuration read, never rounded to a minute. */
export function formatDuration(ms: number): string {
  const totalSeconds = Math.round(ms / 1_000);
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3_600);
  const minutes = Math.floor((totalSeconds % 3_600) / 60);
  const seconds = totalSeconds % 60;
  const parts = [days ? `${days}d` : '', hours ? `${hours}h` : '', minutes ? `${minutes}m` : '', seconds ? `${seconds}s` : ''].join('');
  return parts === '' ? '0m' : parts;
}
