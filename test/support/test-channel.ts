import { readFileSync } from 'node:fs';
import type { Channel, ChannelCapabilities, ChannelHost, OutboundPayload, SendResult } from '../../src/channels/channel.ts';
import type { MessageContext } from '../../src/core/access.ts';
import type { Conversation, Outbound } from '../../src/store/store.ts';

/**
 * A chat-service-like channel for tests: senders are not authenticated by
 * the channel (trusted = false), so the gateway's access policy applies,
 * exactly as it will for Telegram or WhatsApp. It records what the gateway
 * sends and can wait for it. `failNext` makes its next sends throw, as a
 * platform's outage, rate limit or refusal would; `wasDelivered` given to the
 * constructor plays a platform that can say whether a message arrived.
 */
export class TestChatChannel implements Channel {
  readonly trusted = false;
  readonly capabilities: ChannelCapabilities;
  /** What was sent; files with the bytes the channel read from the host's copy. */
  readonly sent: Array<{ chat: string; kind: string; text: string; files: Array<{ name: string; data: Buffer }>; buttons: string[] }> = [];
  /** Every call of `send`, in order, with what it did. */
  readonly calls: Array<{ id: number; text: string; at: number; result: 'sent' | 'threw' }> = [];
  readonly wasDelivered?: (conversation: Conversation, message: Outbound) => Promise<boolean>;
  private readonly failures: unknown[] = [];
  private waiters: Array<() => void> = [];
  host!: ChannelHost;

  constructor(readonly name = 'testchat', opts: { wasDelivered?: (message: Outbound) => boolean; capabilities?: Partial<ChannelCapabilities> } = {}) {
    this.capabilities = {
      maxMessageLength: 4096, dialect: 'plain', files: { in: true, out: true, maxOutBytes: 1024 * 1024 },
      buttons: false, typing: false, edits: false, threads: false, reactions: false, ...opts.capabilities,
    };
    const check = opts.wasDelivered;
    if (check) this.wasDelivered = async (_conv, message) => check(message);
  }

  async start(host: ChannelHost): Promise<void> { this.host = host; }
  async stop(): Promise<void> {}

  /** The next `errors.length` sends throw these, one each, in order. */
  failNext(...errors: unknown[]): void {
    this.failures.push(...errors);
  }

  async send(conversation: Conversation, message: OutboundPayload): Promise<SendResult> {
    const id = message.outboundId ?? 0;
    if (this.failures.length) {
      this.calls.push({ id, text: message.text, at: Date.now(), result: 'threw' });
      throw this.failures.shift();
    }
    this.calls.push({ id, text: message.text, at: Date.now(), result: 'sent' });
    this.sent.push({
      chat: conversation.chat, kind: message.kind, text: message.text,
      files: message.files.map((f) => ({ name: f.name, data: readFileSync(f.path) })), buttons: message.buttons.map((b) => b.label),
    });
    for (const w of this.waiters.splice(0)) w();
    return { platformIds: [`${conversation.chat}:${this.sent.length}`] };
  }

  /** Sends a message as `sender` (with a display name, if given) in `chat`, and returns the gateway's verdict. */
  say(chat: string, sender: string, text: string, ctx: MessageContext = {}, senderName?: string) {
    return this.host.receive({ chat, thread: '' }, { sender, senderName, text }, ctx);
  }

  private read = new Map<string, number>();

  /** Resolves with the next message sent to `chat` that this test has not read yet. */
  async nextTo(chat: string, timeoutMs = 60_000): Promise<TestChatChannel['sent'][number]> {
    const index = this.read.get(chat) ?? 0;
    const deadline = Date.now() + timeoutMs;
    while (this.sent.filter((m) => m.chat === chat).length <= index) {
      if (Date.now() > deadline) throw new Error(`nothing sent to ${chat} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 200); });
    }
    this.read.set(chat, index + 1);
    return this.sent.filter((m) => m.chat === chat)[index];
  }
}
