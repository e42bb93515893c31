import { describe, expect, it } from 'vitest';
import { humanTaskCard, humanTaskModal } from '../../src/slack/blocks/human-task-card.ts';
import { ACTIONS, HUMAN_TASK_MODAL, VIEWS, type HumanTaskView } from '../../src/slack/blocks/view-models.ts';

const task: HumanTaskView = {
  taskId: 7,
  action: 'grant',
  system: 'Figma admin',
  person: 'U0ALICE',
  email: 'alice@example.com',
  resource: 'figma',
  endsAt: new Date('2026-03-02T16:00:00Z'),
  dueAt: new Date('2026-03-02T16:00:00Z'),
  withdrawn: false,
};

const visible = (blocks: unknown): string => JSON.stringify(blocks);
const doneButtons = (blocks: readonly unknown[]) =>
  blocks.flatMap((b: any) => (b.type === 'actions' ? b.elements : [])).filter((e: any) => e.action_id === ACTIONS.humanTaskDone);

describe('the owners’ task card', () => {
  it('says what to grant, to whom and until when, with a Done button carrying only the task id', () => {
    const card = humanTaskCard(task);
    expect(card.text).toBe('Grant Figma admin to alice@example.com (<@U0ALICE>) until <!date^1772467200^{date_short_pretty} {time}|2026-03-02T16:00:00Z>');
    expect(doneButtons(card.blocks)).toEqual([expect.objectContaining({ value: '7', style: 'primary' })]);
  });

  it('a removal says what to remove', () => {
    expect(humanTaskCard({ ...task, action: 'remove' }).text).toMatch(/^Remove Figma admin from alice@example.com/);
  });

  it('once done, shows who, when and the note, and offers no Done', () => {
    const card = humanTaskCard({ ...task, done: { by: 'U0CAROL', at: new Date('2026-03-02T14:05:00Z'), note: 'https://figma.example.com/audit/1' } });
    expect(doneButtons(card.blocks)).toEqual([]);
    expect(visible(card.blocks)).toContain('Done by <@U0CAROL>');
    expect(visible(card.blocks)).toContain('https://figma.example.com/audit/1');
  });

  it('a grant that ended before anyone pressed Done offers nothing more to do', () => {
    const card = humanTaskCard({ ...task, withdrawn: true });
    expect(doneButtons(card.blocks)).toEqual([]);
    expect(visible(card.blocks)).toContain('Nothing to do any more');
  });

  it('the Done modal asks for an optional note and carries the task id in private_metadata', () => {
    const modal = humanTaskModal(task);
    expect(modal).toMatchObject({ callback_id: VIEWS.humanTaskDone, private_metadata: '7' });
    expect(modal.blocks.find((b) => b.block_id === HUMAN_TASK_MODAL.block)).toMatchObject({ type: 'input', optional: true });
  });

  it('escapes a system name that looks like mrkdwn', () => {
    expect(humanTaskCard({ ...task, system: '<!channel> *x*' }).text).not.toContain('<!channel>');
  });
});
