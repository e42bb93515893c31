import type { OnCallDirectory, OnCallShift } from '../ports.ts';

/** PagerDuty could not say who is on call (unreachable, timeout, 5xx, refused key, unreadable answer). */
export class OnCallUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnCallUnavailable';
  }
}

export interface PagerDutyOptions {
  token: string;
  /** https://api.pagerduty.com, or the EU region's, or a test server. */
  baseUrl: string;
  /** Per call: a request waits on this, so PagerDuty being slow must not hold it for long. */
  timeoutMs?: number;
}

interface Page {
  more?: boolean;
  offset?: number;
  limit?: number;
}

/** Enough pages for any real on-call answer; a runaway `more: true` must not loop forever. */
const MAX_PAGES = 10;
const PAGE_SIZE = 100;

/** PagerDuty's REST API v2 (GET /users, GET /oncalls) over fetch: no SDK, two read-only calls. */
export class PagerDutyOnCall implements OnCallDirectory {
  private readonly timeoutMs: number;

  constructor(private readonly options: PagerDutyOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  async onCallNow(email: string, scheduleIds: readonly string[]): Promise<{ userId: string; shifts: OnCallShift[] } | undefined> {
    const userId = await this.userIdOf(email);
    if (!userId) return undefined;
    const shifts: OnCallShift[] = [];
    for (let offset = 0, page = 0; page < MAX_PAGES; page++) {
      const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
      for (const id of scheduleIds) params.append('schedule_ids[]', id);
      params.append('user_ids[]', userId);
      const body = await this.get<Page & { oncalls?: unknown }>('/oncalls', params);
      if (!Array.isArray(body.oncalls)) throw new OnCallUnavailable('GET /oncalls answered without an oncalls list');
      shifts.push(...body.oncalls.flatMap((o) => shiftOf(o, userId)));
      if (!body.more || body.oncalls.length === 0) break;
      offset += body.oncalls.length;
    }
    return { userId, shifts };
  }

  /** `query` matches names and emails by substring: only an exact (case-blind) email counts. */
  private async userIdOf(email: string): Promise<string | undefined> {
    const wanted = email.toLowerCase();
    for (let offset = 0, page = 0; page < MAX_PAGES; page++) {
      const body = await this.get<Page & { users?: unknown }>('/users', new URLSearchParams({ query: email, limit: String(PAGE_SIZE), offset: String(offset) }));
      if (!Array.isArray(body.users)) throw new OnCallUnavailable('GET /users answered without a users list');
      const match = (body.users as Array<{ id?: unknown; email?: unknown }>).find((u) => typeof u.email === 'string' && u.email.toLowerCase() === wanted);
      if (match && typeof match.id === 'string') return match.id;
      if (!body.more || body.users.length === 0) return undefined;
      offset += body.users.length;
    }
    return undefined;
  }

  private async get<T>(path: string, params: URLSearchParams): Promise<T> {
    const url = `${this.options.baseUrl.replace(/\/+$/, '')}${path}?${params.toString()}`;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: {
          Authorization: `Token token=${this.options.token}`,
          Accept: 'application/vnd.pagerduty+json;version=2',
          'Content-Type': 'application/json',
        },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      // fetch says only "fetch failed"; the cause (ECONNREFUSED, ENOTFOUND, …) is what an operator needs.
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : (error as Error).message;
      throw new OnCallUnavailable(timedOut ? `GET ${path} timed out after ${this.timeoutMs} ms` : `GET ${path} failed: ${why}`);
    }
    if (!response.ok) throw new OnCallUnavailable(`GET ${path} answered ${response.status}${await errorText(response)}`);
    try {
      return (await response.json()) as T;
    } catch {
      throw new OnCallUnavailable(`GET ${path} answered a body that is not JSON`);
    }
  }
}

/** PagerDuty's error object ({ error: { message, errors } }), for the log; never the request's headers. */
async function errorText(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: unknown; errors?: unknown } };
    const message = typeof body.error?.message === 'string' ? body.error.message : undefined;
    const details = Array.isArray(body.error?.errors) ? body.error.errors.filter((e) => typeof e === 'string').join('; ') : '';
    return message ? `: ${message}${details ? ` (${details})` : ''}` : '';
  } catch {
    return '';
  }
}

/** An oncall object, kept only when it is this user's and names a schedule (direct escalation targets have none). */
function shiftOf(raw: unknown, userId: string): OnCallShift[] {
  const o = raw as { user?: { id?: unknown }; schedule?: { id?: unknown } | null; escalation_policy?: { id?: unknown }; escalation_level?: unknown; start?: unknown; end?: unknown };
  if (o.user?.id !== userId || typeof o.schedule?.id !== 'string' || typeof o.escalation_level !== 'number') return [];
  return [
    {
      scheduleId: o.schedule.id,
      escalationPolicyId: typeof o.escalation_policy?.id === 'string' ? o.escalation_policy.id : '',
      escalationLevel: o.escalation_level,
      start: typeof o.start === 'string' ? o.start : null,
      end: typeof o.end === 'string' ? o.end : null,
    },
  ];
}
