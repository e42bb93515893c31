import { DateTime } from 'luxon';

/** The weekdays `monitors.working_hours.days` names, Monday first as luxon numbers them (1–7). */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface WorkingHours {
  time_zone: string;
  days: Weekday[];
  /** Minutes after midnight, local time: the first minute inside and the first minute outside. */
  from: number;
  to: number;
}

/** "08:30" → 510; undefined when it is not a time of day. */
export function minutesOfDay(text: string): number | undefined {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}

export function isTimeZone(name: string): boolean {
  return DateTime.now().setZone(name).isValid;
}

/** Whether an instant falls outside the working hours, read on the wall clock of their time zone. */
export function outsideWorkingHours(at: Date, hours: WorkingHours): boolean {
  const local = DateTime.fromJSDate(at).setZone(hours.time_zone);
  const day = WEEKDAYS[local.weekday - 1]!;
  const minute = local.hour * 60 + local.minute;
  return !hours.days.includes(day) || minute < hours.from || minute >= hours.to;
}

/**
 * A sign-off keeping every line faster than they could be read: the time from when the reviewer
 * had the card to the sign-off is under `secondsPerLine` for each line. Small cards are left
 * alone (`minLines`): keeping three lines in ten seconds is plausible reading.
 */
export function signedOffTooFast(signOff: { lines: number; kept: number; elapsedMs: number }, limits: { seconds_per_line: number; min_lines: number }): boolean {
  if (signOff.lines < limits.min_lines || signOff.kept !== signOff.lines) return false;
  return signOff.elapsedMs < signOff.lines * limits.seconds_per_line * 1000;
}
