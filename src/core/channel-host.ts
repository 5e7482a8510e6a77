import type { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AnswerResult, Channel, ChannelHost, InboundMessage, ReceiveResult, TurnEvent } from '../channels/channel.ts';
import type { AuditEvent } from '../audit/audit-log.ts';
import type { MessageContext } from './access.ts';
import type { Logger } from './logger.ts';
import type { Conversation, ConversationKey } from '../store/store.ts';

/** What the gateway lends the channel hosts: its own operations, each taking the channel's name. */
export interface ChannelHostDeps {
  receive(key: ConversationKey, msg: InboundMessage, ctx?: MessageContext): ReceiveResult;
  answer(channel: string, questionId: number, answer: string, sender: string): AnswerResult;
  conversation(key: ConversationKey): Conversation;
  redeliver(channel: string): void;
  attachmentLimit(channel: string): number;
  /** The gateway, emitting its turn events as 'event'. */
  events: EventEmitter;
  /** The conversation's channel, for filtering events (looked up once per conversation). */
  channelOf(conversationId: string): string | undefined;
  audit(event: AuditEvent): void;
  /** A notice in the owner's conversations on every channel but `channel`. */
  alertOwner(channel: string, text: string): void;
  log: Logger;
  /** NANOCLAW_HOME/channels. */
  channelsDir: string;
}

/**
 * The narrow host one channel is started with (channels/channel.ts): every
 * operation is bound to the channel's own name, so a channel can only file
 * messages, answer questions and hear events of its own conversations.
 *
 *   await channel.start(channelHost(channel, deps));
 */
export function channelHost(channel: Channel, deps: ChannelHostDeps): ChannelHost {
  const name = channel.name;
  const key = (where: { chat: string; thread: string }) => ({ channel: name, chat: where.chat, thread: where.thread });
  // Events come for every conversation; whether one is this channel's is asked of the store once.
  const mineById = new Map<string, boolean>();
  const isMine = (id: string) => {
    let mine = mineById.get(id);
    if (mine === undefined) {
      mine = deps.channelOf(id) === name;
      mineById.set(id, mine);
    }
    return mine;
  };
  return {
    receive: (where, msg, ctx) => deps.receive(key(where), msg, ctx),
    answer: (questionId, answer, sender) => deps.answer(name, questionId, answer, sender),
    conversation: (where) => deps.conversation(key(where)),
    redeliver: () => deps.redeliver(name),
    attachmentLimit: deps.attachmentLimit(name),
    onTurn: (listener) => {
      const mine = (ev: TurnEvent) => { if (isMine(ev.conversationId)) listener(ev); };
      deps.events.on('event', mine);
      return () => { deps.events.off('event', mine); };
    },
    audit: (event) => deps.audit(event),
    alertOwner: (text) => deps.alertOwner(name, text),
    log: deps.log,
    get dataDir() {
      const dir = join(deps.channelsDir, name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      return dir;
    },
  };
}
