import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import { userInfo } from 'node:os';
import { DeliveryError, type Channel, type ChannelCapabilities, type ChannelHost, type OutboundPayload, type SendResult, type TurnEvent } from '../channel.ts';
import type { Conversation, OutboundKind } from '../../store/store.ts';
import { LineReader } from '../../protocol/lines.ts';

export { TerminalChannelConfig } from './config.ts';

/** Messages on the terminal socket, one JSON object per line. */
export type TerminalClientLine = { type: 'message'; text: string; id?: string };
export type TerminalServerLine =
  | { type: 'ready'; conversation: string }
  | { type: 'accepted'; id: number }
  | { type: 'progress'; kind: string; tool?: string; text: string }
  | { type: 'message'; kind: OutboundKind; text: string; files?: Array<{ name: string; size: number; path: string }> }
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
  /** Files are shown as the path of the host's copy: the terminal's user is the owner, on this machine. */
  readonly capabilities: ChannelCapabilities = {
    maxMessageLength: 1_000_000, dialect: 'plain', files: { in: false, out: true, maxOutBytes: 100 * 1024 * 1024 },
    buttons: false, typing: false, edits: false, threads: false, reactions: false,
  };
  private server?: net.Server;
  private clients = new Set<net.Socket>();
  private host?: ChannelHost;

  constructor(private readonly socketPath: string) {}

  async start(host: ChannelHost): Promise<void> {
    this.host = host;
    rmSync(this.socketPath, { force: true });
    this.server = net.createServer((sock) => this.accept(sock));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.socketPath, () => resolve());
    });
    chmodSync(this.socketPath, 0o600);
  }

  private accept(sock: net.Socket): void {
    const host = this.host!;
    const key = { chat: userInfo().username, thread: '' };
    const write = (l: TerminalServerLine) => { if (!sock.destroyed) sock.write(JSON.stringify(l) + '\n'); };
    this.clients.add(sock);
    let convId = '';
    const off = host.onTurn((ev: TurnEvent) => {
      if (ev.conversationId !== convId) return;
      // The chat prints each step's whole text and tool calls, not the text as it streams.
      if (ev.type === 'progress' && ev.kind !== 'text_delta') write({ type: 'progress', kind: ev.kind, tool: ev.tool, text: ev.text });
      else if (ev.type === 'turn_end') write({ type: 'turn_end' });
    });
    sock.on('close', () => { this.clients.delete(sock); off(); });
    sock.on('error', () => {});
    convId = host.conversation(key).id;
    write({ type: 'ready', conversation: convId });
    host.redeliver();

    const reader = new LineReader(1_000_000);
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      const { lines, tooLong } = reader.push(chunk);
      for (const line of lines) {
        let msg: TerminalClientLine;
        try { msg = JSON.parse(line); } catch { write({ type: 'error', text: 'expected one JSON object per line' }); continue; }
        if (msg?.type !== 'message' || typeof msg.text !== 'string' || !msg.text.trim()) { write({ type: 'error', text: 'expected {"type":"message","text":"..."}' }); continue; }
        const received = host.receive(key, { sender: key.chat, text: msg.text, clientId: msg.id });
        if (received.accepted) {
          write({ type: 'accepted', id: received.message.id });
          // An answer to the agent's question starts no turn of its own: the waiting one goes on.
          if (received.answered) write({ type: 'turn_end' });
        }
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
  async send(_conversation: Conversation, message: OutboundPayload): Promise<SendResult> {
    if (this.clients.size === 0) throw new DeliveryError('offline', 'no terminal chat is connected');
    const line: TerminalServerLine = {
      type: 'message', kind: message.kind, text: message.text,
      ...(message.files.length ? { files: message.files.map((f) => ({ name: f.name, size: f.size, path: f.path })) } : {}),
    };
    for (const sock of this.clients) sock.write(JSON.stringify(line) + '\n');
    return { platformIds: [] };
  }

  async stop(): Promise<void> {
    for (const s of this.clients) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.socketPath, { force: true });
  }
}
