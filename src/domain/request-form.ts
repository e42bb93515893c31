import { MAX_REASON, TICKET } from './command.ts';

/** The steps the form offers, each within the longest a resource allows; the maximum itself is always offered. */
const STEPS_MS = [15, 30, 60, 120, 240, 480, 720, 1_440, 2_880, 4_320, 10_080].map((minutes) => minutes * 60_000);

export function durationSteps(maxMs: number): number[] {
  const steps = STEPS_MS.filter((ms) => ms < maxMs);
  return [...steps, maxMs];
}

/** The form's fields, named as the modal names its blocks, so a problem is shown on its field. */
export type FormField = 'resource' | 'duration' | 'reason' | 'ticket';

/** What the person filled in, as Slack hands it over (any field may be missing). */
export interface FormInput {
  resource?: string | undefined;
  duration?: string | undefined;
  reason?: string | undefined;
  ticket?: string | undefined;
}

export type FormAsk = { resource: string; durationMs: number; reason: string; ticket?: string };

export type FormReading = { ok: true; ask: FormAsk } | { ok: false; errors: Partial<Record<FormField, string>> };

/** The form's answers checked as the slash command checks its text; the policy is asked afterwards. */
export function readRequestForm(input: FormInput): FormReading {
  const errors: Partial<Record<FormField, string>> = {};
  const resource = input.resource?.trim() ?? '';
  if (resource === '') errors.resource = 'Choose what you need access to.';
  const durationMs = /^\d{1,12}$/.test(input.duration ?? '') ? Number(input.duration) : 0;
  if (durationMs <= 0) errors.duration = 'Choose for how long.';
  const reason = (input.reason ?? '').replace(/\s+/g, ' ').trim();
  if (reason === '') errors.reason = 'A reason is required: say what you will do, ideally with a ticket.';
  else if (reason.length > MAX_REASON) errors.reason = `The reason is ${reason.length} characters; keep it under ${MAX_REASON}.`;
  const typedTicket = input.ticket?.trim() ?? '';
  const ticket = typedTicket === '' ? TICKET.exec(reason)?.[1] : typedTicket;
  if (typedTicket !== '' && !new RegExp(`^${TICKET.source}$`).test(typedTicket)) errors.ticket = 'A ticket looks like INC-1234.';
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, ask: { resource, durationMs, reason, ...(ticket ? { ticket } : {}) } };
}
