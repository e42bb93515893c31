import { describe, expect, it } from 'vitest';
import { HOME_SHOWN, homeView } from '../../src/slack/blocks/home.ts';
import { ACTIONS, type HomeView, type RequestSummary } from '../../src/slack/blocks/view-models.ts';

const now = new Date('2025-03-01T12:00:00Z');
const empty: HomeView = { user: 'UME', activeGrants: [], waitingOnMe: [], myPending: [], reviewsDue: [] };

function summary(id: number, requester = 'UOTHER'): RequestSummary {
  return { id, requester, resource: 'prod-db', duration: '2h', reason: `INC-${id} looking at lag`, kind: 'standard', createdAt: new Date('2025-03-01T11:00:00Z') };
}

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

describe('App Home', () => {
  it('says kindly when there is nothing, and leaves out reviews when none are due', () => {
    const home = homeView(empty, now);
    expect(home.type).toBe('home');
    const seen = visible(home.blocks);
    for (const heading of ['Your active access', 'Waiting on your approval', 'Your pending requests']) expect(seen).toContain(heading);
    expect(seen).toContain('You have no active access');
    expect(seen).toContain('Nothing is waiting on your approval');
    expect(seen).toContain('You have no requests waiting for approval');
    expect(seen).not.toContain('Access reviews due');
    expect(buttons(home.blocks)).toEqual([]);
  });

  it('shows each active grant with time left, its request id, and an End now button carrying the grant id', () => {
    const home = homeView(
      {
        ...empty,
        activeGrants: [
          { grantId: 501, requestId: 42, resource: 'prod-db', endsAt: new Date('2025-03-01T13:20:00Z'), state: 'active' },
          { grantId: 502, requestId: 43, resource: 'aws-prod', endsAt: new Date('2025-03-01T12:30:00Z'), state: 'revoking' },
        ],
      },
      now,
    );
    const seen = visible(home.blocks);
    expect(seen).toContain('`prod-db`');
    expect(seen).toContain('1h 20m left');
    expect(seen).toContain('Request #42');
    expect(seen).toContain('|2025-03-01T13:20:00Z>');
    expect(seen).toContain('ending');
    const ends = buttons(home.blocks);
    // Access already on its way out has nothing to end.
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ action_id: ACTIONS.endGrant, value: '501', text: { text: 'End now' } });
  });

  it('offers Approve and Deny on each request waiting on me, carrying the request id, and lists my own pending requests', () => {
    const home = homeView(
      {
        ...empty,
        waitingOnMe: [{ request: summary(7), approvals: [], approvalsRequired: 1 }],
        myPending: [{ request: summary(8, 'UME'), approvals: ['UAPP'], approvalsRequired: 2 }],
        reviewsDue: [{ campaignId: 3, items: 12, dueAt: new Date('2025-03-08T17:00:00Z') }],
      },
      now,
    );
    expect(buttons(home.blocks).map((b) => [b.action_id, b.value])).toEqual([
      [ACTIONS.approve, '7'],
      [ACTIONS.deny, '7'],
    ]);
    const seen = visible(home.blocks);
    expect(seen).toContain('<@UOTHER> asks for `prod-db`');
    expect(seen).toContain('INC-7 looking at lag');
    expect(seen).toContain('*#8*');
    expect(seen).toContain('1 of 2 approvals (<@UAPP>)');
    expect(seen).toContain('Access reviews due');
    expect(seen).toContain('12 to review');
  });

  it('stays within 100 blocks however long the lists are, and says how many more there are', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    const home = homeView(
      {
        user: 'UME',
        activeGrants: many(300).map((i) => ({ grantId: 1_000 + i, requestId: i, resource: `res-${i}`, endsAt: new Date(now.getTime() + i * 60_000), state: 'active' })),
        waitingOnMe: many(300).map((i) => ({ request: { ...summary(i), reason: `<!channel> ${'x'.repeat(5_000)}` }, approvals: [], approvalsRequired: 2 })),
        myPending: many(300).map((i) => ({ request: summary(i, 'UME'), approvals: [], approvalsRequired: 1 })),
        reviewsDue: many(300).map((i) => ({ campaignId: i, items: 3, dueAt: now })),
      },
      now,
    );
    expect(home.blocks.length).toBeLessThanOrEqual(100);
    expect(slackLimitProblems(home.blocks, 'view')).toEqual([]);
    const seen = visible(home.blocks);
    expect(seen).toContain(`…and ${300 - HOME_SHOWN.active} more active grants`);
    expect(seen).toContain(`…and ${300 - HOME_SHOWN.waiting} more requests waiting on you`);
    expect(seen).toContain(`…and ${300 - HOME_SHOWN.pending} more pending requests`);
    expect(seen).toContain(`…and ${300 - HOME_SHOWN.reviews} more reviews`);
    expect(seen).not.toContain('<!channel>');
    const known = new Set<string>(Object.values(ACTIONS));
    for (const b of buttons(home.blocks)) expect(known.has(b.action_id)).toBe(true);
  });
});
