import type { Dialect } from './format/index.ts';
import type { AuditEvent } from '../audit/audit-log.ts';
import type { MessageContext } from '../core/access.ts';
import type { Conversation, Inbound, Outbound, OutboundKind } from '../store/store.ts';

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
 *   calls `host.redeliver()`.
 * Any other error a `send` throws counts as transient.
 *
 *   throw new DeliveryError('transient', 'Telegram answered 429', { retryAfterMs: 3000, cause: err });
 */
export class DeliveryError extends Error {
  readonly retryAfterMs?: number;
  /**
   * The platform ids of the parts that did go out before the failure (a long
   * reply sent as several messages): kept with the row, and the next attempt
   * gets `payload.resumeAt` so it sends only the rest.
   */
  readonly delivered: string[];
  constructor(readonly kind: 'transient' | 'permanent' | 'offline', message: string, opts: { retryAfterMs?: number; cause?: unknown; delivered?: string[] } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'DeliveryError';
    this.retryAfterMs = opts.retryAfterMs;
    this.delivered = opts.delivered ?? [];
  }
}

/**
 * What a channel can do, declared once: the core and the shared helpers
 * (formatting, splitting, typing, the progress message) read it instead of
 * knowing any platform.
 */
export interface ChannelCapabilities {
  /** Longest message the platform takes, in its own unit (Telegram: UTF-16 units after entity parsing; Discord: characters). */
  maxMessageLength: number;
  /** How the agent's Markdown is written for it (channels/format). */
  dialect: Dialect;
  /** Files in (attachments reach the agent's inbox) and out (the agent's files are sent), and the largest file it sends. */
  files: { in: boolean; out: boolean; maxOutBytes: number };
  /** Buttons under a message; a tap comes back as an answer (`host.answer`). Without them choices are listed in the text. */
  buttons: boolean;
  /** A typing indicator (`typing()`), and how long one call of it shows (it is refreshed before that runs out). */
  typing: false | { lastsMs: number };
  /** Messages can be edited (`edit()`) and removed (`remove()`), and how often one message may be edited. */
  edits: false | { minIntervalMs: number };
  /** Threads are conversations of their own. */
  threads: boolean;
  /** Reactions on messages. */
  reactions: boolean;
}

/** A button under an outbound message: `value` comes back through `host.answer` when it is tapped. */
export interface Button { label: string; value: string }

/** A file to send: a host-owned copy (never the agent's own path), read by the channel when it sends. */
export interface OutboundFile { name: string; size: number; path: string }

/**
 * What `send` delivers: text in the agent's Markdown (the channel writes it
 * in its dialect and splits it, channels/format), files, and buttons when the
 * agent asks the user to choose. `outboundId` is the stored row's id; it is
 * absent for messages that are not stored (the progress message).
 */
export interface OutboundPayload {
  kind: OutboundKind;
  text: string;
  files: OutboundFile[];
  buttons: Button[];
  /** The question the buttons answer: a tap calls `host.answer(questionId, button.value, sender)`. */
  questionId?: number;
  outboundId?: number;
  /**
   * Parts an earlier attempt already delivered (it threw a `DeliveryError`
   * with their ids in `delivered`): the channel skips that many of its parts,
   * in its own order (text parts, then files), and returns the ids of the rest.
   * 0 or absent: send everything.
   */
  resumeAt?: number;
}

/**
 * What a channel may ask of the core, and nothing more. Each channel gets
 * its own: `receive` files messages under the channel's own name only, and
 * `onTurn` hears of its own conversations only.
 *
 *   async start(host: ChannelHost) {
 *     bot.on('message', (m) => host.receive({ chat: m.chat, thread: '' }, { sender: m.from, text: m.text }));
 *   }
 */
export interface ChannelHost {
  /**
   * Accepts a message: durable once this returns, so the channel may then
   * acknowledge it to the platform. A repeated `clientId` (the platform's
   * message id) returns the first message and runs nothing again.
   */
  receive(where: { chat: string; thread: string }, msg: InboundMessage, ctx?: MessageContext): ReceiveResult;
  /** The answer to a question the agent asked (a tapped button), by the question's id. */
  answer(questionId: number, answer: string, sender: string): AnswerResult;
  /** Finds or creates a conversation without sending anything. */
  conversation(where: { chat: string; thread: string }): Conversation;
  /** Sends again what waited for this channel (`DeliveryError('offline')`), for example when its client reconnects. */
  redeliver(): void;
  /** The largest attachment one inbound message may carry on this channel, in bytes. */
  readonly attachmentLimit: number;
  /** Turn events of this channel's conversations, for live views; returns the unsubscribe. */
  onTurn(listener: (ev: TurnEvent) => void): () => void;
  /** Security events (refused logins and the like) for the audit log. */
  audit(event: AuditEvent): void;
  /**
   * Tells the owner, in their own conversations on the other channels (the
   * terminal, owners' direct chats), about a failure only they can fix: the
   * channel logged out, another client took over. Once per failure, not in a loop.
   */
  alertOwner(text: string): void;
  /** Files this channel may keep (a download cache, a session): `NANOCLAW_HOME/channels/<name>`, made 0700 on first use. */
  readonly dataDir: string;
  log: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

export interface InboundMessage {
  /** The platform's id for the message: a redelivered update is recognised by it. */
  clientId?: string;
  sender: string;
  senderName?: string;
  text: string;
  /**
   * Files the message carries. `voice: true` marks a voice note (recorded
   * speech, not a music file): when the turn starts the gateway has it
   * transcribed (transcription.*) and the agent reads the transcript.
   */
  attachments?: Array<{ name: string; data: Buffer; voice?: true }>;
}

export type ReceiveResult =
  | { accepted: true; conversation: Conversation; message: Inbound; duplicate: boolean; answered?: number }
  | { accepted: false; reason: string };

export type AnswerResult = { ok: true } | { ok: false; reason: string };

/** What channels see of a turn as it runs (the HTTP API's event stream, typing, the progress message). */
export type TurnEvent =
  | { type: 'accepted'; conversationId: string; inboundId: number }
  | { type: 'turn_start'; conversationId: string; inboundId: number; container: string }
  | { type: 'progress'; conversationId: string; inboundId: number; kind: string; tool?: string; text: string }
  | { type: 'outbound'; conversationId: string; message: Outbound }
  | { type: 'question'; conversationId: string; inboundId: number; questionId: number; question: string; choices: string[] }
  | { type: 'turn_end'; conversationId: string; inboundId: number; replies: Outbound[] }
  | { type: 'container'; conversationId: string; container: string; state: 'started' | 'destroyed'; reason?: string };

/**
 * A way in and out: a chat service, the terminal, the local HTTP API. The
 * core knows channels only through this interface and their capabilities;
 * a channel knows the core only through its `ChannelHost`.
 *
 *   gateway.addChannel(new TerminalChannel(socketPath));
 *   // inbound:  host.receive({ chat, thread: '' }, { sender, text })
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
  readonly capabilities: ChannelCapabilities;
  start(host: ChannelHost): Promise<void>;
  /**
   * Delivers one stored outbound message (text, files, buttons) and returns
   * the platform's ids for it. Failures throw, best as a `DeliveryError`
   * saying whether to retry. The delivery worker calls it once at a time per
   * conversation, in the order the rows were stored; the progress message
   * (core/turn-indicators.ts, no `outboundId`) may be sent beside it.
   */
  send(conversation: Conversation, message: OutboundPayload): Promise<SendResult>;
  /** Replaces the text (Markdown, as `send` takes it) of a message it sent (the progress message); only with `capabilities.edits`. */
  edit?(conversation: Conversation, platformId: string, text: string): Promise<void>;
  /** Removes a message it sent (the progress message once the answer is there); only with `capabilities.edits`. */
  remove?(conversation: Conversation, platformId: string): Promise<void>;
  /** Shows the typing indicator once (the core refreshes it while a turn runs); only with `capabilities.typing`. */
  typing?(conversation: Conversation): Promise<void>;
  /**
   * After a crash between handing a message to `send` and recording the
   * outcome: did it reach the platform? Channels whose platform can answer
   * (a message carrying our id, a search of recent messages) implement it so
   * the message is not sent twice; without it the message is sent again.
   */
  wasDelivered?(conversation: Conversation, message: Outbound): Promise<boolean>;
  /**
   * Sends a new message that answers nothing: a mail to `to` (addresses)
   * with `subject`, `text` in the agent's Markdown, from the channel's own
   * account, in a thread of its own. Only mail channels implement it; the
   * core calls it for the `compose_mail` host tool and only after an owner
   * confirmed the draft (core/host-tools.ts), so a channel need not check
   * who asked. Failures throw with a message the agent can read.
   *
   *   const { platformIds } = await channel.compose(['bob@example.com'], 'Lunch', 'Are you free on Friday?');
   */
  compose?(to: string[], subject: string, text: string): Promise<SendResult>;
  /**
   * How its connection is, for `nanoclaw status` and the log. A channel whose
   * start fails for a reason only the user can fix (a revoked token, another
   * poller on the token, a missing intent) does not throw from `start` and
   * does not retry in a loop: it reports `failed` with what to do.
   */
  health?(): ChannelHealth;
  stop(): Promise<void>;
}

/** A channel's connection as `nanoclaw status` shows it. */
export interface ChannelHealth {
  state: 'starting' | 'connected' | 'reconnecting' | 'failed';
  /** What happened, e.g. "Telegram answered 401 Unauthorized". */
  detail?: string;
  /** What the user should do, e.g. "run `nanoclaw setup telegram` with a new token". */
  action?: string;
  /** When the state began (ms since the epoch). */
  since: number;
}
