import { z } from 'zod';
import { parseDuration } from '../domain/duration.ts';
import { duration } from './duration-field.ts';
import { isTimeZone, minutesOfDay, WEEKDAYS } from '../domain/monitors.ts';

const timeOfDay = z.string().transform((text, ctx) => {
  const minutes = minutesOfDay(text);
  if (minutes === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a time of day; write it like 08:00 or 18:30` });
    return z.NEVER;
  }
  return minutes;
});

/**
 * A monitor is on with its defaults when absent, off with `false` (null once parsed), and its
 * settings otherwise; `off` says what absent means. Errors inside the settings keep their own words.
 */
const switchable = <T extends z.ZodType>(settings: T, whenAbsent: 'on' | 'off' = 'on') =>
  z.preprocess((input) => (input === false ? null : input === undefined ? (whenAbsent === 'on' ? {} : null) : input), settings.nullable());

const ms = (text: string) => parseDuration(text)!;

const workingHours = z
  .strictObject({
    time_zone: z.string().refine(isTimeZone, 'not a time zone; use an IANA name like Europe/Berlin or America/New_York'),
    days: z.array(z.enum(WEEKDAYS)).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']),
    from: timeOfDay,
    to: timeOfDay,
  })
  .refine((hours) => hours.from < hours.to, { message: '`from` must be before `to` (working hours cannot cross midnight)', path: ['to'] });

const emergency = z.strictObject({ max: z.int().min(1).default(2), within: duration.default(() => ms('7d')) });
const reasked = z.strictObject({ within: duration.default(() => ms('1d')) });
const hasty = z.strictObject({ seconds_per_line: z.number().positive().default(3), min_lines: z.int().min(1).default(5) });
const approver = z.strictObject({ max: z.int().min(1).default(10), within: duration.default(() => ms('30d')) });
const largeExport = z.strictObject({ max_events: z.int().min(1).default(10_000) });

export const monitorsSchema = z
  .strictObject({
    emergency_self_grants: switchable(emergency),
    working_hours: switchable(workingHours, 'off'),
    reasked_after_denial: switchable(reasked),
    hasty_sign_off: switchable(hasty),
    repeated_approver: switchable(approver),
    large_log_export: switchable(largeExport),
  })
  .default(() => ({
    emergency_self_grants: { max: 2, within: ms('7d') },
    working_hours: null,
    reasked_after_denial: { within: ms('1d') },
    hasty_sign_off: { seconds_per_line: 3, min_lines: 5 },
    repeated_approver: { max: 10, within: ms('30d') },
    large_log_export: { max_events: 10_000 },
  }));

export type MonitorsConfig = z.output<typeof monitorsSchema>;
