import type { Gateway } from '../core/gateway.ts';
import type { Conversation, Outbound } from '../store/store.ts';

/** What a channel's `send` returns: the ids the platform gave the message (none where nothing is sent). */
export interface SendResult {
  platformIds: string[];
}

/**
 * Why a send failed, as the delivery worker (core/delivery.ts) needs to know it:
 * - `transient`: worth another try (a timeout, a 5xx, a 429); `retryAfterMs`
 *   is the platform's own wait, honoured over the backoff;
 * - `permanent`: no try will succeed (403 bot blocked, chat deleted): the
 *   message fails at once;
 * - `offline`: the recipient is not connected (the terminal with no chat
 *   open): the message waits, without using up attempts, until the channel
 *   calls `gateway.redeliver`.
 * Any other error a `send` throws counts as transient.
 *
 *   throw new DeliveryError('transient', 'Telegram answered 429', { retryAfterMs: 3000, cause: err });
 */
export class DeliveryError extends Error {
  readonly retryAfterMs?: number;
  constructor(readonly kind: 'transient' | 'permanent' | 'offline', message: string, opts: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'DeliveryError';
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/**
 * A way in and out: a chat service, the terminal, the local HTTP API. The
 * gateway knows channels only through this interface.
 *
 *   gateway.addChannel(new HttpChannel({ ... }));
 *   // inbound:  gateway.receive({ channel: 'api', chat, thread: '' }, { sender, text })
 *   // outbound: the delivery worker calls channel.send(conversation, message)
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
  /**
   * Delivers one stored outbound message and returns the platform's ids for
   * it. Failures throw, best as a `DeliveryError` saying whether to retry.
   * Called once at a time per conversation, in the order the rows were stored.
   */
  send(conversation: Conversation, message: Outbound): Promise<SendResult>;
  /**
   * After a crash between handing a message to `send` and recording the
   * outcome: did it reach the platform? Channels whose platform can answer
   * (a message carrying our id, a search of recent messages) implement it so
   * the message is not sent twice; without it the message is sent again.
   */
  wasDelivered?(conversation: Conversation, message: Outbound): Promise<boolean>;
  stop(): Promise<void>;
}
