import { describe, expect, it } from 'vitest';
import { approvalCard } from '../../src/slack/blocks/approval-card.ts';
import { ACTIONS, type ApprovalCardView, type CardStatus, type HistoryItem, type RequestSummary } from '../../src/slack/blocks/view-models.ts';

const created = new Date('2025-03-01T10:00:00Z');
const request: RequestSummary = {
  id: 12,
  requester: 'UREQ',
  resource: 'prod-db',
  resourceDescription: 'Primary Postgres, read-write',
  duration: '2h',
  reason: 'INC-1234 replication lag',
  ticket: 'INC-1234',
  kind: 'standard',
  createdAt: created,
};
const pending: CardStatus = { state: 'pending', approvals: ['UAPP1'], approvalsRequired: 2, pendingUntil: new Date('2025-03-01T11:00:00Z') };

function card(status: CardStatus, overrides: Partial<RequestSummary> = {}, history: HistoryItem[] = []) {
  const view: ApprovalCardView = { request: { ...request, ...overrides }, status, history };
  return approvalCard(view);
}

/** Everything a reader could see: every text in the blocks, joined. */
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

describe('approval card', () => {
  it('while pending, offers Approve and Deny carrying only the request id, and says how far approval has got', () => {
    const { blocks, text } = card(pending);
    const [approve, deny, ...rest] = buttons(blocks);
    expect(rest).toEqual([]);
    expect(approve).toMatchObject({ action_id: ACTIONS.approve, value: '12', style: 'primary', text: { text: 'Approve' } });
    expect(deny).toMatchObject({ action_id: ACTIONS.deny, value: '12', style: 'danger', text: { text: 'Deny' } });
    const seen = visible(blocks);
    expect(seen).toContain('Access request #12');
    expect(seen).toContain('<@UREQ>');
    expect(seen).toContain('`prod-db`');
    expect(seen).toContain('Primary Postgres, read-write');
    expect(seen).toContain('2h');
    expect(seen).toContain('INC-1234 replication lag');
    expect(seen).toContain('1 of 2 approvals');
    expect(seen).toContain('approved so far by <@UAPP1>');
    // The expiry is a Slack date token so each approver reads it in their own time zone.
    expect(seen).toContain(`<!date^${Date.parse('2025-03-01T11:00:00Z') / 1000}^`);
    expect(seen).toContain('|2025-03-01T11:00:00Z>');
    expect(text).toContain('Access request #12');
    expect(text).toContain('<@UREQ>');
    expect(slackLimitProblems(blocks, 'message')).toEqual([]);
  });

  it('shows no buttons once decided, and a clear line for each outcome', () => {
    const outcomes: Array<[CardStatus, string[]]> = [
      [{ state: 'approved', approvals: ['UAPP1', 'UAPP2'] }, ['Approved', '<@UAPP1> and <@UAPP2>']],
      [{ state: 'active', approvals: ['UAPP1'], endsAt: new Date('2025-03-01T14:00:00Z') }, ['Approved', 'active until', '|2025-03-01T14:00:00Z>']],
      [{ state: 'ended', approvals: ['UAPP1'], endedAt: new Date('2025-03-01T13:00:00Z') }, ['Access ended', '|2025-03-01T13:00:00Z>']],
      [{ state: 'denied', by: 'UDENY', reason: 'Use the read replica' }, ['Denied', '<@UDENY>', 'Use the read replica']],
      [{ state: 'expired' }, ['Expired', 'Nothing was granted']],
      [{ state: 'cancelled', by: 'breakglass', reason: 'the requester was offboarded (Okta status DEPROVISIONED)' }, ['Cancelled', 'the requester was offboarded (Okta status DEPROVISIONED)', 'Nothing was granted']],
      [{ state: 'failed', error: 'Okta said 403: missing scope' }, ['could not be granted', 'Okta said 403: missing scope']],
    ];
    for (const [status, phrases] of outcomes) {
      const { blocks, text } = card(status);
      expect(buttons(blocks), status.state).toEqual([]);
      expect(blocks.some((b) => b.type === 'actions'), status.state).toBe(false);
      const seen = visible(blocks);
      for (const phrase of phrases) expect(seen, status.state).toContain(phrase);
      expect(seen).not.toContain('approvals*');
      expect(text).toContain('#12');
      expect(slackLimitProblems(blocks, 'message')).toEqual([]);
    }
  });

  it('an extension says what became of it: being extended, not extended and why, or cancelled because its access ended', () => {
    const extension = { kind: 'extension' as const, extendsGrantId: 3 };
    const outcomes: Array<[CardStatus, string[], string[]]> = [
      [{ state: 'approved', approvals: ['UAPP1'] }, ['Approved', 'The access is being extended'], ['being set up']],
      [{ state: 'failed', error: 'the access was ended while it was being extended' }, ['could not be extended', 'the access was ended while it was being extended'], ['could not be granted', 'Nothing was left behind']],
      [{ state: 'cancelled', by: 'breakglass', reason: 'the access it extends has ended' }, ['Cancelled', 'the access it extends has ended', 'Nothing was granted'], ['<@breakglass>']],
    ];
    for (const [status, phrases, absent] of outcomes) {
      const { blocks, text } = card(status, extension);
      expect(buttons(blocks), status.state).toEqual([]);
      const seen = visible(blocks);
      for (const phrase of phrases) expect(seen, status.state).toContain(phrase);
      for (const phrase of absent) expect(seen, status.state).not.toContain(phrase);
      expect(text).toContain('Extension request #12');
    }
  });

  it('escapes and shortens a hostile reason so it cannot ping anyone, reformat the card or exceed a limit', () => {
    const reason = `<!channel> *bold* & <https://evil.example|your bank> ${'x'.repeat(5_000)}`;
    const { blocks, text } = card(
      { state: 'denied', by: 'UDENY', reason },
      { reason, resourceDescription: `<!here> ${'d'.repeat(3_000)}`, ticket: '<!everyone>' },
    );
    const seen = visible(blocks) + text;
    for (const broadcast of ['<!channel>', '<!here>', '<!everyone>', '<https://evil']) expect(seen).not.toContain(broadcast);
    expect(seen).toContain('&lt;!channel&gt;');
    expect(seen).toContain(' &amp; ');
    expect(seen).toContain('…');
    expect(slackLimitProblems(blocks, 'message')).toEqual([]);
    // The requester's `*bold*` stays inside the quoted reason: it is alone in its text object, after our label.
    const reasonTexts = visible(blocks).split('\n').filter((line) => line.includes('*bold*'));
    expect(reasonTexts.length).toBeGreaterThan(0);
    for (const line of reasonTexts) expect(line.startsWith('>')).toBe(true);
  });

  it('does not cut an escaped character in half when truncating', () => {
    const { blocks } = card(pending, { reason: '&'.repeat(5_000) });
    const reasonText = visible(blocks).split('\n').find((line) => line.startsWith('>&amp;'))!;
    expect(reasonText).toMatch(/^>(&amp;)+…$/);
  });

  it("shows the requester's recent history, at most five, compactly", () => {
    const history: HistoryItem[] = Array.from({ length: 8 }, (_, i) => ({
      id: 100 + i,
      resource: 'prod-db',
      duration: '1h',
      state: i % 2 ? 'denied' : 'ended',
      createdAt: new Date(created.getTime() - (i + 1) * 86_400_000),
    }));
    const { blocks } = card(pending, {}, history);
    const historyBlock = blocks.find((b) => b.type === 'context' && visible(b).includes('Recent requests')) as any;
    expect(historyBlock.elements).toHaveLength(6);
    expect(visible(historyBlock)).toContain('5 of 8');
    expect(visible(historyBlock)).toContain('#100');
    expect(visible(historyBlock)).not.toContain('#105');

    expect(visible(card(pending).blocks)).toContain('No earlier requests from <@UREQ>');
  });

  it('names emergency and extension requests in the header', () => {
    expect(visible(card(pending, { kind: 'emergency' }).blocks)).toContain('Emergency access #12');
    const extension = card(pending, { kind: 'extension', extendsGrantId: 7 });
    expect(visible(extension.blocks)).toContain('Extension request #12');
    expect(extension.text).toContain('Extension request #12');
  });

  it('uses only action ids from ACTIONS', () => {
    const known = new Set<string>(Object.values(ACTIONS));
    for (const b of buttons(card(pending).blocks)) expect(known.has(b.action_id)).toBe(true);
  });
});
