import assert from 'node:assert/strict';
import type { GatewayEvent } from '../../src/core/gateway.ts';
import { conversationId } from '../../src/store/store.ts';
import type { Harness } from './harness.ts';

/** The store's id for an HTTP API conversation (`/api/v1/conversations/{chat}`). */
export function apiConversationId(chat: string): string {
  return conversationId({ channel: 'api', chat, thread: '' });
}

/**
 * The container each turn of a conversation ran in, in order, filled in as
 * turns start (for the harness's lifetime). Two equal entries mean one live
 * session; different ones mean the conversation got a new container.
 *
 *   const turns = turnContainers(h, 'chat-1'); await h.ask('chat-1', 'hi'); turns[0] // 'nanoclaw-...'
 */
export function turnContainers(h: Harness, chat: string): string[] {
  const id = apiConversationId(chat);
  const seen: string[] = [];
  h.app.gateway.on('event', (ev: GatewayEvent) => { if (ev.type === 'turn_start' && ev.conversationId === id) seen.push(ev.container); });
  return seen;
}

/**
 * Asks `slowly: <sentence>` (the stand-in model streams it a delta every
 * 100 ms) and checks what live views get: text_delta progress that adds up to
 * the start of the sentence, then the step's whole text after the last delta.
 *
 *   await assertTextStreams(h, 'e2e-deltas');
 */
export async function assertTextStreams(h: Harness, chat: string): Promise<void> {
  const sentence = 'The quick brown fox jumps over the lazy dog while a live view watches each word arrive.';
  const conv = apiConversationId(chat);
  const seen: Array<{ kind: string; text: string }> = [];
  const onEvent = (ev: any) => { if (ev.type === 'progress' && ev.conversationId === conv) seen.push({ kind: ev.kind, text: ev.text }); };
  h.app.gateway.on('event', onEvent);
  try {
    assert.equal(await h.ask(chat, `slowly: ${sentence}`), sentence);
  } finally {
    h.app.gateway.off('event', onEvent);
  }
  const deltas = seen.filter((s) => s.kind === 'text_delta');
  assert.ok(deltas.length >= 2, `the text came in pieces as it was written: ${JSON.stringify(seen)}`);
  assert.ok(sentence.startsWith(deltas.map((d) => d.text).join('')), JSON.stringify(deltas));
  const lastDelta = seen.findLastIndex((s) => s.kind === 'text_delta');
  const whole = seen.findIndex((s) => s.kind === 'text' && s.text === sentence);
  assert.ok(whole > lastDelta, `the whole text follows its deltas: ${JSON.stringify(seen)}`);
}
