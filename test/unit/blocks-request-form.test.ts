import { describe, expect, it } from 'vitest';
import { durationSteps, readRequestForm } from '../../src/domain/request-form.ts';
import { requestFormModal } from '../../src/slack/blocks/request-form.ts';
import { REQUEST_FORM, VIEWS } from '../../src/slack/blocks/view-models.ts';

const MIN = 60_000;
type Select = { options?: Array<{ value: string; text: { text: string }; description?: { text: string } }>; option_groups?: Array<{ label: { text: string }; options: unknown[] }> };
const element = (view: ReturnType<typeof requestFormModal>, blockId: string) => (view.blocks.find((b) => b.block_id === blockId) as unknown as { element: Select }).element;

describe('durationSteps', () => {
  it('offers the usual steps below the maximum and the maximum itself', () => {
    expect(durationSteps(4 * 60 * MIN).map((ms) => ms / MIN)).toEqual([15, 30, 60, 120, 240]);
    expect(durationSteps(90 * MIN).map((ms) => ms / MIN)).toEqual([15, 30, 60, 90]);
    expect(durationSteps(10 * MIN).map((ms) => ms / MIN)).toEqual([10]);
  });
});

describe('readRequestForm', () => {
  it('reads a complete form, taking a ticket from the reason when none is typed', () => {
    expect(readRequestForm({ resource: 'prod-db', duration: String(60 * MIN), reason: ' INC-9  lag ' })).toEqual({ ok: true, ask: { resource: 'prod-db', durationMs: 60 * MIN, reason: 'INC-9 lag', ticket: 'INC-9' } });
    expect(readRequestForm({ resource: 'prod-db', duration: String(60 * MIN), reason: 'lag', ticket: 'OPS-12' })).toMatchObject({ ask: { ticket: 'OPS-12' } });
  });

  it('names each wrong field', () => {
    expect(readRequestForm({ reason: '  ', ticket: 'soon' })).toEqual({
      ok: false,
      errors: { resource: expect.any(String), duration: expect.any(String), reason: expect.stringMatching(/reason is required/), ticket: expect.stringMatching(/INC-1234/) },
    });
    expect(readRequestForm({ resource: 'prod-db', duration: '-5', reason: 'x' })).toMatchObject({ ok: false, errors: { duration: expect.any(String) } });
    expect(readRequestForm({ resource: 'prod-db', duration: '60000', reason: 'x'.repeat(1_001) })).toMatchObject({ ok: false, errors: { reason: expect.stringMatching(/1001 characters/) } });
  });
});

describe('requestFormModal', () => {
  it('lists the resources with their limit and description, and durations up to the longest', () => {
    const view = requestFormModal({ resources: [{ name: 'prod-db', description: 'Production Postgres', maxDurationMs: 120 * MIN }, { name: 'staging', maxDurationMs: 30 * MIN }] });
    expect(view.callback_id).toBe(VIEWS.requestForm);
    const resources = element(view, REQUEST_FORM.resource.block).options!;
    expect(resources.map((o) => [o.value, o.description?.text])).toEqual([['prod-db', 'up to 2h · Production Postgres'], ['staging', 'up to 30m']]);
    expect(element(view, REQUEST_FORM.duration.block).options!.map((o) => o.text.text)).toEqual(['15m', '30m', '1h', '2h']);
    expect(view.blocks.find((b) => b.block_id === REQUEST_FORM.ticket.block)).toMatchObject({ optional: true });
  });

  it('keeps within Slack limits: more than 100 resources go in groups of at most 100, texts at most 75 characters', () => {
    const resources = Array.from({ length: 250 }, (_, i) => ({ name: `r${String(i).padStart(3, '0')}-${'x'.repeat(60)}`, description: 'd'.repeat(500), maxDurationMs: 60 * MIN }));
    const select = element(requestFormModal({ resources }), REQUEST_FORM.resource.block);
    expect(select.options).toBeUndefined();
    expect(select.option_groups!.map((g) => g.options.length)).toEqual([100, 100, 50]);
    for (const group of select.option_groups!) {
      expect(group.label.text.length).toBeLessThanOrEqual(75);
      for (const option of group.options as NonNullable<Select['options']>) {
        expect(option.text.text.length).toBeLessThanOrEqual(75);
        expect(option.description!.text.length).toBeLessThanOrEqual(75);
      }
    }
  });

  it('offers nothing to submit to someone who may request nothing', () => {
    const view = requestFormModal({ resources: [] });
    expect(view.submit).toBeUndefined();
    expect(JSON.stringify(view.blocks)).toMatch(/no resource you may request/);
  });
});
