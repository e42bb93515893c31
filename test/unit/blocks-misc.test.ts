import { describe, expect, it } from 'vitest';
import { denyModal } from '../../src/slack/blocks/deny-modal.ts';
import { emergencyReviewCard } from '../../src/slack/blocks/emergency-review-card.ts';
import { escapeMrkdwn, slackDate, timeLeft, truncate, user, userText } from '../../src/slack/blocks/format.ts';
import { listText } from '../../src/slack/blocks/list.ts';
import { securityAlert } from '../../src/slack/blocks/security-alert.ts';
import { ACTIONS, DENY_MODAL, VIEWS, type HomeView, type RequestSummary } from '../../src/slack/blocks/view-models.ts';

const now = new Date('2025-03-01T12:00:00Z');
const request: RequestSummary = {
  id: 12,
  requester: 'UREQ',
  resource: 'prod-db',
  duration: '2h',
  reason: 'INC-1234 replication lag',
  ticket: 'INC-1234',
  kind: 'emergency',
  createdAt: new Date('2025-03-01T11:00:00Z'),
};

function visible(blocks: unknown): string {
  return JSON.stringify(blocks).match(/"text":"(?:[^"\\]|\\.)*"/g)?.map((t) => JSON.parse(t.slice(7)) as string).join('\n') ?? '';
}

function buttons(blocks: readonly unknown[]): Array<{ action_id: string; value: string; style?: string; text: { text: string } }> {
  return blocks.flatMap((b: any) => (b.type === 'actions' ? b.elements : b.accessory ? [b.accessory] : [])).filter((e: any) => e.type === 'button');
}

/** Walks any Block Kit payload and lists what Slack would reject or mis-render. */
function slackLimitProblems(blocks: readonly unknown[], surface: 'message' | 'view'): string[] {
  const problems: string[] = [];
  const max = surface === 'message' ? 50 : 100;
  if (blocks.length > max) problems.push(`${blocks.length} blocks > ${max}`);
  const long = (where: string, text: unknown, limit: number) => {
    if (typeof text === 'string' && text.length > limit) problems.push(`${where}: ${text.length} > ${limit}`);
  };
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
    if (typeof node !== 'object' || node === null) return;
    const o = node as Record<string, any>;
    long(`${path}.block_id`, o.block_id, 255);
    long(`${path}.action_id`, o.action_id, 255);
    if (o.type === 'section') {
      long(`${path}.text`, o.text?.text, 3_000);
      (o.fields ?? []).forEach((f: any, i: number) => long(`${path}.fields[${i}]`, f.text, 2_000));
      if ((o.fields ?? []).length > 10) problems.push(`${path}: more than 10 fields`);
    }
    if (o.type === 'context' && o.elements.length > 10) problems.push(`${path}: more than 10 elements`);
    if (o.type === 'header') long(`${path}.text`, o.text.text, 150);
    if (o.type === 'actions' && o.elements.length > 25) problems.push(`${path}: more than 25 elements`);
    if (o.type === 'button') {
      long(`${path}.text`, o.text.text, 75);
      long(`${path}.value`, o.value, 2_000);
    }
    if (o.type === 'mrkdwn') {
      long(`${path}.text`, o.text, 3_000);
      // Only our own tokens may open with `<`: mentions and date tokens. Anything else is unescaped user text.
      if (/<(?!@[A-Z0-9]+>|!date\^\d+\^[^|>]+\|[^<>]+>)/.test(o.text)) problems.push(`${path}: unescaped < in ${JSON.stringify(o.text.slice(0, 80))}`);
    }
    for (const [key, value] of Object.entries(o)) walk(value, `${path}.${key}`);
  };
  walk(blocks, 'blocks');
  return problems;
}

describe('format helpers', () => {
  it('escapes exactly the three characters Slack asks for', () => {
    expect(escapeMrkdwn('<!channel> *bold* & `x` >quote')).toBe('&lt;!channel&gt; *bold* &amp; `x` &gt;quote');
  });

  it('truncates to the limit with an ellipsis, never splitting an emoji or an entity', () => {
    expect(truncate('short', 10)).toBe('short');
    expect(truncate('abcdefghij', 5)).toBe('abcd…');
    expect(truncate('ab😀cd', 4)).toBe('ab…');
    expect(userText('a&b', 4)).toBe('a…');
    expect(userText('x'.repeat(5_000), 3_000)).toHaveLength(3_000);
    expect(truncate('see <@U123> and <!date^1^{time}|x>', 20)).toBe('see <@U123> and …');
  });

  it('writes dates as Slack date tokens with a UTC ISO fallback', () => {
    expect(slackDate(now)).toBe(`<!date^${now.getTime() / 1000}^{date_short_pretty} {time}|2025-03-01T12:00:00Z>`);
    expect(slackDate(now, '{date_short}')).toBe(`<!date^${now.getTime() / 1000}^{date_short}|2025-03-01T12:00:00Z>`);
  });

  it('says how long is left, rounded down', () => {
    expect(timeLeft(new Date('2025-03-01T13:20:59Z'), now)).toBe('1h 20m left');
    expect(timeLeft(new Date('2025-03-02T13:00:00Z'), now)).toBe('1d 1h left');
    expect(timeLeft(new Date('2025-03-01T12:00:30Z'), now)).toBe('less than a minute left');
    expect(timeLeft(new Date('2025-03-01T11:00:00Z'), now)).toBe('ending now');
  });

  it('mentions a user', () => {
    expect(user('U123ABC')).toBe('<@U123ABC>');
    expect(user('U1>|<!channel')).toBe('<@U1channel>');
  });
});

describe('deny modal', () => {
  it('asks for a required reason of at most 500 characters, with the request id in private_metadata', () => {
    const modal = denyModal(1_234_567_890, { ...request, kind: 'standard', reason: `<!channel> ${'x'.repeat(5_000)}` });
    expect(modal).toMatchObject({ type: 'modal', callback_id: VIEWS.denyReason, private_metadata: '1234567890' });
    expect(modal.title.text.length).toBeLessThanOrEqual(24);
    expect(modal.title.text).toContain('Deny');
    expect(modal.submit?.text).toBe('Deny');
    expect(modal.close?.text).toBe('Cancel');
    const input = modal.blocks.find((b) => b.type === 'input') as any;
    expect(input.block_id).toBe(DENY_MODAL.block);
    expect(input.optional ?? false).toBe(false);
    expect(input.element).toMatchObject({ type: 'plain_text_input', action_id: DENY_MODAL.action, multiline: true, max_length: 500 });
    expect(visible(modal.blocks)).not.toContain('<!channel>');
    expect(slackLimitProblems(modal.blocks, 'view')).toEqual([]);
  });
});

describe('emergency review card', () => {
  const view = { request, grantId: 77, endsAt: new Date('2025-03-01T13:00:00Z') };

  it('says who self-granted what, why and until when, with Mark reviewed carrying the grant id', () => {
    const { blocks, text } = emergencyReviewCard(view);
    const seen = visible(blocks);
    expect(seen).toContain('<@UREQ> granted themselves `prod-db`');
    expect(seen).toContain('INC-1234 replication lag');
    expect(seen).toContain('|2025-03-01T13:00:00Z>');
    expect(buttons(blocks)).toEqual([expect.objectContaining({ action_id: ACTIONS.reviewEmergency, value: '77', text: expect.objectContaining({ text: 'Mark reviewed' }) })]);
    expect(text).toContain('Emergency access #12');
    expect(slackLimitProblems(blocks, 'message')).toEqual([]);
  });

  it('drops the button once reviewed and says by whom and when', () => {
    const { blocks } = emergencyReviewCard({ ...view, reviewed: { by: 'USEC', at: new Date('2025-03-01T14:00:00Z') } });
    expect(buttons(blocks)).toEqual([]);
    expect(visible(blocks)).toMatch(/Reviewed by <@USEC> at <!date\^\d+\^[^|]+\|2025-03-01T14:00:00Z>/);
  });
});

describe('security alert', () => {
  it('carries Acknowledge (until acknowledged, then who and when) and Respond buttons with the alert id', () => {
    const open = securityAlert({ alertId: 9, text: '<@UREQ> self-granted `prod-db`' });
    expect(visible(open.blocks)).toContain('<@UREQ> self-granted `prod-db`');
    expect(buttons(open.blocks)).toEqual([
      expect.objectContaining({ action_id: ACTIONS.acknowledgeAlert, value: '9' }),
      expect.objectContaining({ action_id: ACTIONS.respondAlert, value: '9' }),
    ]);
    expect(open.text).toContain('Security alert');

    const acked = securityAlert({ alertId: 9, text: 'x'.repeat(5_000), acknowledged: { by: 'USEC', at: now } });
    expect(buttons(acked.blocks)).toEqual([expect.objectContaining({ action_id: ACTIONS.respondAlert, value: '9' })]);
    expect(visible(acked.blocks)).toContain('Acknowledged by <@USEC> at <!date^');
    expect(slackLimitProblems(acked.blocks, 'message')).toEqual([]);
  });

  it("shows management's responses, their text escaped, and names a CLI responder as text", () => {
    const responded = securityAlert({
      alertId: 9,
      text: 'drift',
      responses: [
        { by: 'USEC', at: now, text: 'Removed by hand <!channel> & ticketed' },
        { by: 'cli:alice', at: now, text: 'x'.repeat(3_000) },
      ],
    });
    const shown = visible(responded.blocks);
    expect(shown).toContain('Response by <@USEC> at <!date^');
    expect(shown).toContain('Removed by hand &lt;!channel&gt; &amp; ticketed');
    expect(shown).toContain('Response by `cli:alice`');
    expect(slackLimitProblems(responded.blocks, 'message')).toEqual([]);
  });
});

describe('/breakglass list', () => {
  const grant: HomeView['activeGrants'][number] = { grantId: 501, requestId: 42, resource: 'prod-db', endsAt: new Date('2025-03-01T13:20:00Z'), state: 'active' };
  const pending: HomeView['myPending'][number] = { request: { ...request, id: 43, kind: 'standard' }, approvals: ['UAPP'], approvalsRequired: 2 };

  it('numbers everything by request id, the id people type into end and extend', () => {
    const text = listText({ activeGrants: [grant], myPending: [pending] }, now);
    expect(text).toContain('*42*: `prod-db`, 1h 20m left');
    expect(text).toContain('*43*: `prod-db` for 2h, 1 of 2 approvals, approved by <@UAPP>');
    expect(text).not.toContain('501');
    expect(text).toContain('/breakglass end 42');
    expect(text).toContain('/breakglass extend 42 1h');
    expect(text).toContain('request id');
  });

  it('never shows access whose revoke the provider refuses as gone', () => {
    const ended = { ...grant, endsAt: new Date(now.getTime() - 60_000) };
    expect(listText({ activeGrants: [{ ...ended, state: 'revoking' }], myPending: [] }, now)).toContain('*42*: `prod-db`, ending now, until');
    expect(listText({ activeGrants: [{ ...ended, state: 'revoke_retrying' }], myPending: [] }, now)).toContain('(still active: the provider refused to remove it, and breakglass keeps retrying)');
  });

  it('says when there is nothing, and shortens long lists', () => {
    expect(listText({ activeGrants: [], myPending: [] }, now)).toBe('*Your active access*\n_None._\n\n*Your pending requests*\n_None._');
    const long = listText({ activeGrants: Array.from({ length: 100 }, (_, i) => ({ ...grant, requestId: i + 1 })), myPending: [] }, now);
    expect(long).toContain('…and 75 more');
    expect(long.length).toBeLessThan(40_000);
  });
});
