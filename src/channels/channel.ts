import type { Gateway } from '../core/gateway.ts';
import type { Conversation, Outbound } from '../store/store.ts';

/**
 * A way in and out: a chat service, the terminal, the local HTTP API. The
 * gateway knows channels only through this interface.
 *
 *   gateway.addChannel(new HttpChannel({ ... }));
 *   // inbound:  gateway.receive({ channel: 'api', chat, thread: '' }, { sender, text })
 *   // outbound: the gateway calls channel.send(conversation, message)
 */
export interface Channel {
  /** Also the `channel` part of every conversation key it creates. */
  readonly name: string;
  /**
   * True when the channel itself authenticates the person (a token, a socket
   * only its owner can open): every sender on it is the owner. Chat services
   * are not trusted: their senders go through pairing (see core/access.ts).
   */
  readonly trusted: boolean;
  start(gateway: Gateway): Promise<void>;
  /** Delivers one stored outbound message; throwing leaves it queued for a retry. */
  send(conversation: Conversation, message: Outbound): Promise<void>;
  stop(): Promise<void>;
}
