import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { TextDeltas } from '../src/core/text-deltas.ts';

describe('text as the model streams it, gathered before it crosses to the host', () => {
  const recorder = () => {
    const sent: string[] = [];
    return { sent, deltas: new TextDeltas((id, text) => sent.push(`${id}:${text}`), 30, 10) };
  };

  it('sends the deltas of a moment as one message, per turn', async () => {
    const { sent, deltas } = recorder();
    deltas.add('1', 'Hel');
    deltas.add('1', 'lo');
    deltas.add('2', 'Hi');
    assert.deepEqual(sent, [], 'nothing before the interval');
    await sleep(60);
    assert.deepEqual(sent, ['1:Hello', '2:Hi']);
    deltas.add('1', ' again');
    await sleep(60);
    assert.deepEqual(sent, ['1:Hello', '2:Hi', '1: again']);
  });

  it('sends at once what reaches the size bound, and a flush keeps the order before other progress', () => {
    const { sent, deltas } = recorder();
    deltas.add('1', '0123456789abc');
    assert.deepEqual(sent, ['1:0123456789abc']);
    deltas.add('1', 'tail');
    deltas.flush('1');
    assert.deepEqual(sent, ['1:0123456789abc', '1:tail']);
  });

  it('drops what the step\'s whole text (or the turn\'s end) replaces', async () => {
    const { sent, deltas } = recorder();
    deltas.add('1', 'partial');
    deltas.drop('1');
    await sleep(60);
    assert.deepEqual(sent, []);
  });
});
