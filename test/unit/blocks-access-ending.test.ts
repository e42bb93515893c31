import { describe, expect, it } from 'vitest';
import { accessEndingBlocks, extendModal } from '../../src/slack/blocks/access-ending.ts';
import { ACTIONS, EXTEND_FORM, VIEWS } from '../../src/slack/blocks/view-models.ts';
import { notificationMessage } from '../../src/slack/render.ts';

const MIN = 60_000;

describe('the reminder before access ends', () => {
  it('says when, with Extend carrying the request id and End now the grant id', () => {
    const message = notificationMessage({ kind: 'access_ending', requestId: 42, grantId: 7, resource: 'prod-db', endsAt: '2026-03-02T16:00:00.000Z' });
    expect(message.text).toMatch(/^:hourglass_flowing_sand: Your access to `prod-db` ends at <!date\^1772467200\^.*\|2026-03-02T16:00:00Z> \(request #42\)/);
    const actions = message.blocks!.find((b) => b.type === 'actions') as { elements: Array<{ action_id: string; value: string }> };
    expect(actions.elements.map((e) => [e.action_id, e.value])).toEqual([[ACTIONS.extendAccess, '42'], [ACTIONS.endGrant, '7']]);
    expect(accessEndingBlocks('x'.repeat(5_000), { requestId: 1, grantId: 1 })[0]).toMatchObject({ text: { text: expect.stringMatching(/^x{2999}…$/) } });
  });

  it('other notifications stay text only', () => {
    expect(notificationMessage({ kind: 'request_expired', requestId: 1, resource: 'prod-db' }).blocks).toBeUndefined();
  });

  it('the extension form offers durations up to the resource maximum and keeps the request id out of the form', () => {
    const view = extendModal({ requestId: 42, resource: 'prod-db', maxDurationMs: 90 * MIN });
    expect(view).toMatchObject({ callback_id: VIEWS.extendForm, private_metadata: '42' });
    const input = view.blocks.find((b) => b.block_id === EXTEND_FORM.block) as unknown as { element: { options: Array<{ value: string }> } };
    expect(input.element.options.map((o) => Number(o.value) / MIN)).toEqual([15, 30, 60, 90]);
  });
});
