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
