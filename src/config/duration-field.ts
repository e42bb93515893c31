import { z } from 'zod';
import { parseDuration } from '../domain/duration.ts';

/** A duration as people write it (`2h`, `1h30m`, `PT2H`), kept as milliseconds. */
export const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration; write it like 30m, 2h, 1h30m, 1d or PT2H (no fractions)` });
    return z.NEVER;
  }
  return ms;
});
