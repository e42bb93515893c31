import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REVIEW_LINES_PER_PAGE } from '../../src/domain/review.ts';
import { lineText, reviewCard } from '../../src/slack/blocks/review-card.ts';
import { ACTIONS, type ReviewCardView, type ReviewLineView } from '../../src/slack/blocks/view-models.ts';

const now = new Date('2026-04-02T10:00:00Z');
const dueAt = new Date('2026-04-15T09:00:00Z');

function line(i: number, overrides: Partial<ReviewLineView> = {}): ReviewLineView {
  return {
    itemId: 1000 + i,
    person: `Person ${i}`,
    email: `p${i}@example.com`,
    resource: 'prod-db',
    since: new Date('2026-01-05T00:00:00Z'),
    sinceSource: 'first_seen',
    isNew: false,
    route: 'manager',
    ...overrides,
  };
}

function view(overrides: Partial<ReviewCardView> = {}, lines: ReviewLineView[] = [line(1)]): ReviewCardView {
  const decided = lines.filter((l) => l.decision).length;
  return {
    campaign: { id: 3, period: '2026-Q2', dueAt, state: 'open' },
    cardId: 77,
    audience: 'manager',
    recipient: 'U0BOB',
    page: 0,
    pages: 1,
    totals: { lines: lines.length, decided, kept: lines.filter((l) => l.decision?.kind === 'keep').length, revoked: lines.filter((l) => l.decision?.kind === 'revoke').length, people: lines.length },
    escalated: false,
    lines,
    ...overrides,
  };
}

const visible = (blocks: unknown) => JSON.stringify(blocks).match(/"text":"(?:[^"\\]|\\.)*"/g)?.map((t) => JSON.parse(t.slice(7)) as string).join('\n') ?? '';
const buttons = (blocks: readonly unknown[]) =>
  blocks.flatMap((b: any) => (b.type === 'actions' ? b.elements : [])).filter((e: any) => e.type === 'button') as Array<{ action_id: string; value: string; text: { text: string }; confirm?: unknown }>;

describe('review card', () => {
  it('says a line granted by hand is breakglass’s record, and that a Revoke waits for an owner’s Done', () => {
    const revoke = (state: 'pending' | 'revoked') => ({ decision: { kind: 'revoke' as const, by: 'U0BOB', at: now }, revoke: { state, verified: false } });
    const pending = lineText(line(1, { requestId: 7, byHand: true, ...revoke('pending') }));
    expect(pending).toContain('breakglass request #7, granted by hand and confirmed by its owners (this system cannot be listed: the line is breakglass’s record)');
    expect(pending).toContain(':no_entry: *Revoked* by <@U0BOB>');
    expect(pending).toContain('its owners are asked to remove it by hand');
    expect(pending).not.toContain('being removed');
    expect(lineText(line(1, { requestId: 7, byHand: true, ...revoke('revoked') }))).toContain('removed by hand (an owner confirmed it with Done)');
  });

  it('shows each line with person, resource, how and since when it was granted, and whether it is new', () => {
    const { blocks, text } = reviewCard(
      view({}, [
        line(1, { person: 'Alice Able', slackId: 'U0ALICE', requestId: 12, sinceSource: 'grant', isNew: true }),
        line(2, { person: 'Dave Doe', isNew: null }),
        line(3, { person: 'Bob Admin', route: 'skip_level', routeNote: 'their manager Bob is the same person' }),
      ]),
      now,
    );
    const shown = visible(blocks);
    expect(shown).toContain('Access review #3 · 2026-Q2');
    expect(shown).toMatch(/\*Alice Able\* <@U0ALICE> \(p1@example\.com\) · `prod-db`\nbreakglass request #12 · since <!date\^\d+\^\{date_short\}\|2026-01-05T00:00:00Z> · :new: new since the last review/);
    expect(shown).toContain('*unmanaged*: not granted through breakglass · seen since');
    expect(shown).toContain('first review of this resource');
    expect(shown).toContain('_↪ their manager Bob is the same person_');
    expect(shown).toContain('*0 of 3* line(s) decided');
    expect(text).toBe('Access review #3 (2026-Q2): 0 of 3 decided, due 2026-04-15');
  });

  it('offers Keep and Revoke per undecided line, carrying only the line id; Keep all remaining and no Sign off until all are decided', () => {
    const { blocks } = reviewCard(view({}, [line(1), line(2, { decision: { kind: 'keep', by: 'U0BOB', at: now } })]), now);
    const b = buttons(blocks);
    expect(b.filter((x) => x.action_id === ACTIONS.reviewKeep).map((x) => x.value)).toEqual(['1001']);
    expect(b.filter((x) => x.action_id === ACTIONS.reviewRevoke).map((x) => x.value)).toEqual(['1001']);
    expect(b.find((x) => x.action_id === ACTIONS.reviewKeepAll)).toMatchObject({ value: '77', text: { text: 'Keep all remaining (1)' }, confirm: expect.anything() });
    expect(b.find((x) => x.action_id === ACTIONS.reviewSignOff)).toBeUndefined();
    // Revoke needs no modal and no confirmation dialog.
    expect(b.find((x) => x.action_id === ACTIONS.reviewRevoke)!.confirm).toBeUndefined();
    expect(visible(blocks)).toContain('*Sign off* appears once every line is decided (1 left)');
    expect(visible(blocks)).toContain(':white_check_mark: *Kept* by <@U0BOB>');
  });

  it('offers Sign off once every line is decided, and shows revocations and their verification', () => {
    const { blocks } = reviewCard(
      view({}, [
        line(1, { decision: { kind: 'revoke', by: 'U0BOB', at: now }, revoke: { state: 'revoked', verified: true } }),
        line(2, { decision: { kind: 'revoke', by: 'U0BOB', at: now }, revoke: { state: 'pending', verified: false, error: 'okta 503 <!channel>' } }),
      ]),
      now,
    );
    const b = buttons(blocks);
    expect(b.map((x) => x.action_id)).toEqual([ACTIONS.reviewSignOff]);
    expect(b[0]).toMatchObject({ value: '77', style: 'primary' });
    const shown = visible(blocks);
    expect(shown).toContain('removed at the provider (verified)');
    expect(shown).toContain('being removed — the provider refused for now (okta 503 &lt;!channel&gt;)');
  });

  it('once signed off, shows who signed and offers no decisions', () => {
    const decided = { decision: { kind: 'keep' as const, by: 'U0BOB', at: now } };
    const { blocks, text } = reviewCard(view({ signedOff: { by: 'U0BOB', at: now } }, [line(1, decided)]), now);
    expect(buttons(blocks)).toEqual([]);
    expect(visible(blocks)).toContain(':white_check_mark: *Signed off* by <@U0BOB>');
    expect(text).toContain('signed off');
  });

  it('speaks to the security team on the security channel\'s card, and marks an overdue review', () => {
    const { blocks } = reviewCard(view({ audience: 'security', recipient: 'C0SEC' }), new Date(dueAt.getTime() + 1));
    const shown = visible(blocks);
    expect(shown).toContain('have no manager who can review them');
    expect(shown).toContain(':warning: *overdue*');
  });

  it('pages: Previous and Next carry the card id and appear only where there is a page to go to', () => {
    const lines = Array.from({ length: REVIEW_LINES_PER_PAGE }, (_, i) => line(i));
    const middle = buttons(reviewCard(view({ page: 3, pages: 10, totals: { lines: 200, decided: 0, kept: 0, revoked: 0, people: 200 } }, lines), now).blocks);
    expect(middle.filter((b) => b.action_id === ACTIONS.reviewPrevPage || b.action_id === ACTIONS.reviewNextPage).map((b) => [b.action_id, b.value])).toEqual([
      [ACTIONS.reviewPrevPage, '77'],
      [ACTIONS.reviewNextPage, '77'],
    ]);
    const firstPage = reviewCard(view({ page: 0, pages: 10, totals: { lines: 200, decided: 0, kept: 0, revoked: 0, people: 200 } }, lines), now);
    expect(buttons(firstPage.blocks).some((b) => b.action_id === ACTIONS.reviewPrevPage)).toBe(false);
    expect(visible(firstPage.blocks)).toContain('page 1 of 10');
  });

  it('stays within Slack\'s limits whatever the lines hold: ≤ 50 blocks, ≤ 3,000 characters a text, unique block ids', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 400 });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ person: text, email: text, resource: fc.string({ maxLength: 200 }), note: text, error: text, decided: fc.constantFrom('no', 'keep', 'revoke'), isNew: fc.constantFrom(true, false, null) }),
          { minLength: 0, maxLength: REVIEW_LINES_PER_PAGE },
        ),
        fc.boolean(),
        (raw, signed) => {
          const lines = raw.map((r, i) =>
            line(i, {
              person: r.person,
              email: r.email,
              resource: r.resource,
              route: 'skip_level',
              routeNote: r.note,
              isNew: r.isNew,
              ...(r.decided === 'no' ? {} : { decision: { kind: r.decided as 'keep' | 'revoke', by: 'U0X', at: now }, revoke: { state: 'pending' as const, verified: false, error: r.error } }),
            }),
          );
          const { blocks, text: fallback } = reviewCard(view({ pages: 12, page: 5, signedOff: signed ? { by: 'U0X', at: now } : undefined }, lines), now);
          expect(blocks.length).toBeLessThanOrEqual(50);
          expect(fallback.length).toBeLessThanOrEqual(300);
          for (const b of blocks as any[]) {
            if (b.type === 'section') expect(b.text.text.length).toBeLessThanOrEqual(3000);
            if (b.type === 'header') expect(b.text.text.length).toBeLessThanOrEqual(150);
            if (b.type === 'actions') for (const e of b.elements) expect(e.text.text.length).toBeLessThanOrEqual(75);
          }
          const ids = (blocks as any[]).map((b) => b.block_id).filter(Boolean);
          expect(new Set(ids).size).toBe(ids.length);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('escapes what people typed into their directory profile', () => {
    expect(lineText(line(1, { person: '<!channel> *boss*', email: 'x@y' }))).toContain('&lt;!channel&gt;');
  });
});
