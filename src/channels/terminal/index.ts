import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import { userInfo } from 'node:os';
import { DeliveryError, type Channel, type SendResult } from '../channel.ts';
import type { Gateway, GatewayEvent } from '../../core/gateway.ts';
import type { Conversation, Outbound } from '../../store/store.ts';
import { LineReader } from '../../protocol/lines.ts';

/** Messages on the terminal socket, one JSON object per line. */
export type TerminalClientLine = { type: 'message'; text: string; id?: string };
export type TerminalServerLine =
  | { type: 'ready'; conversation: string }
  | { type: 'accepted'; id: number }
  | { type: 'progress'; kind: string; tool?: string; text: string }
  | { type: 'message'; kind: Outbound['kind']; text: string }
  | { type: 'turn_end' }
  | { type: 'error'; text: string };

/**
 * The terminal chat: `nanoclaw chat` connects to a Unix socket in
 * NANOCLAW_HOME (mode 0600, so only the owner can use it; no token needed).
 * Each local user has one conversation. Replies that could not be shown
 * (nobody connected) are delivered when a chat connects again.
 */
export class TerminalChannel implements Channel {
  readonly name = 'terminal';
  /** Only the owner's user can open the socket (mode 0600). */
  readonly trusted = true;
  private server?: net.Server;
  private clients = new Set<net.Socket>();
  private gateway?: Gateway;

  constructor(private readonly socketPath: string) {}

  async start(gateway: Gateway): Promise<void> {
    this.gateway = gateway;
    rmSync(this.socketPath, { force: true });
    this.server = net.createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
  }

  private accept(sock: net.Socket): void {
    const gateway = this.gateway!;
    const key = { channel: this.name, chat: userInfo().username, thread: '' };
    const write = (l: TerminalServerLine) => { if (!sock.destroyed) sock.write(JSON.stringify(l) + '\n'); };
    this.clients.add(sock);
    let convId = '';
    const onEvent = (ev: GatewayEvent) => {
      if (ev.conversationId !== convId) return;
      if (ev.type === 'progress') write({ type: 'progress', kind: ev.kind, tool: ev.tool, text: ev.text });
      else if (ev.type === 'turn_end') write({ type: 'turn_end' });
    };
    gateway.on('event', onEvent);
    sock.on('close', () => { this.clients.delete(sock); gateway.off('event', onEvent); });
    sock.on('error', () => {});
    convId = gateway.conversationFor(key).id;
    write({ type: 'ready', conversation: convId });
    gateway.redeliver(this.name);

    const reader = new LineReader(1_000_000);
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      const { lines, tooLong } = reader.push(chunk);
      for (const line of lines) {
        let msg: TerminalClientLine;
        try { msg = JSON.parse(line); } catch { write({ type: 'error', text: 'expected one JSON object per line' }); continue; }
        if (msg?.type !== 'message' || typeof msg.text !== 'string' || !msg.text.trim()) { write({ type: 'error', text: 'expected {"type":"message","text":"..."}' }); continue; }
        const received = gateway.receive(key, { sender: key.chat, text: msg.text, clientId: msg.id });
        if (received.accepted) write({ type: 'accepted', id: received.message.id });
        else write({ type: 'error', text: `not accepted: ${received.reason}` });
      }
      if (tooLong) { write({ type: 'error', text: 'line too long' }); sock.destroy(); }
    });
  }

  /**
   * Writes the message to every connected chat. With none connected it waits
   * (offline) until a chat connects. A socket write has no receipt: after a
   * crash mid-send the message is shown again rather than perhaps not at all.
   */
  async send(_conversation: Conversation, message: Outbound): Promise<SendResult> {
    if (this.clients.size === 0) throw new DeliveryError('offline', 'no terminal chat is connected');
    for (const sock of this.clients) sock.write(JSON.stringify({ type: 'message', kind: message.kind, text: message.text } satisfies TerminalServerLine) + '\n');
    return { platformIds: [] };
  }

  async stop(): Promise<void> {
    for (const s of this.clients) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.socketPath, { force: true });
  }
}
