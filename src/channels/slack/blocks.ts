/**
 * Block Kit for the agent's questions: the question as a section, its choices as buttons in
 * actions blocks. A button's `value` carries the question id and the choice, so a tap (a
 * `block_actions` payload) names exactly what it answers; nothing is kept on the host between
 * the question and the tap.
 */
import type { Button } from '../channel.ts';
import { toDialect } from '../format/index.ts';

/** Slack's limits: button text 75 characters, button value 2000, elements per actions block 25. */
const LABEL_MAX = 75;
const VALUE_MAX = 2000;
const PER_BLOCK = 25;

/** The blocks of a question message: `text` (already mrkdwn, at most 3000 characters) with the buttons under it. */
export function questionBlocks(text: string, buttons: Button[], questionId: number): object[] {
  const blocks: object[] = [];
  if (text.trim()) blocks.push({ type: 'section', text: { type: 'mrkdwn', text } });
  for (let i = 0; i < buttons.length; i += PER_BLOCK) {
    blocks.push({
      type: 'actions',
      block_id: `nanoclaw-q${questionId}-${i / PER_BLOCK}`,
      elements: buttons.slice(i, i + PER_BLOCK).map((b, j) => ({
        type: 'button',
        action_id: `answer-${i + j}`,
        text: { type: 'plain_text', text: truncate(b.label || b.value || '?', LABEL_MAX) },
        value: answerValue(questionId, b.value),
      })),
    });
  }
  return blocks;
}

/** `{"q":<question id>,"v":<choice>}`; a choice too long for a value is left out and the button's label answers. */
export function answerValue(questionId: number, value: string): string {
  const full = JSON.stringify({ q: questionId, v: value });
  return full.length <= VALUE_MAX ? full : JSON.stringify({ q: questionId });
}

/** The question and choice a button value carries, or null for a value that is not one of ours. */
export function parseAnswerValue(value: unknown): { questionId: number; value?: string } | null {
  if (typeof value !== 'string' || value.length > VALUE_MAX) return null;
  try {
    const v = JSON.parse(value) as { q?: unknown; v?: unknown };
    if (!Number.isSafeInteger(v?.q) || (v.q as number) <= 0) return null;
    return { questionId: v.q as number, ...(typeof v.v === 'string' ? { value: v.v } : {}) };
  } catch { return null; }
}

/** The line that replaces the buttons once a choice is made. */
export function answeredLine(choice: string, user: string): string {
  return `<@${user}> chose *${toDialect(choice, 'slack-mrkdwn').replace(/\*/g, '')}*`;
}

/** The question message after the tap: the question, and who chose what, without buttons. */
export function answeredBlocks(question: string, choice: string, user: string): object[] {
  const blocks: object[] = [];
  if (question.trim()) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(question, 3000) } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: answeredLine(choice, user) }] });
  return blocks;
}

function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}
