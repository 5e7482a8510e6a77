import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { initAuthCreds, makeWASocket, proto, type AnyMessageContent, type WAMessage, type WASocket } from 'baileys';
import { WebSocketServer, type WebSocket } from 'ws';
import { AuthStore } from '../../src/channels/whatsapp/auth-store.ts';
import type { ILogger } from '../../src/channels/whatsapp/baileys-logger.ts';
import type { SocketFactory } from '../../src/channels/whatsapp/connection.ts';
import { socketLink, type WhatsappLink } from '../../src/channels/whatsapp/link.ts';

/** The account the tests link: its phone-number jid and LID. */
export const OWN = { pn: '15550001111:7@s.whatsapp.net', lid: '99887766554433:7@lid', number: '15550001111' };

export interface SentMessage { jid: string; content: AnyMessageContent & { text?: string } }

/**
 * What can stand in for WhatsApp, and no more. WhatsApp's servers cannot be
 * imitated: the Noise handshake checks the server's certificate against a
 * key pinned in Baileys. So this is two things:
 * - a local websocket server that the real Baileys socket connects to
 *   (`waWebSocketUrl`): it receives the real client hello and can drop the
 *   connection, which runs the channel's real reconnect paths;
 * - a `makeSocket` that builds the real Baileys socket with `sendMessage`
 *   and `sendPresenceUpdate` replaced by recorders, and a `link` whose
 *   downloads return recorded bytes. Inbound messages go through the real
 *   socket's own event emitter (`sock.ev.emit('messages.upsert', ...)`),
 *   built with Baileys' `proto.WebMessageInfo.fromObject` in the shapes
 *   WhatsApp sends.
 *
 *   const wa = await WhatsappStandIn.start();
 *   const channel = new WhatsappChannel({ config: { ...config, apiBaseUrl: wa.url }, log, makeSocket: wa.makeSocket, link: wa.link });
 *   wa.open(); wa.sendText({ from: '15552223333', text: 'hi' }); const reply = await wa.nextSent();
 */
export class WhatsappStandIn {
  /** Every socket the channel built, newest last. */
  readonly sockets: WASocket[] = [];
  /** The first frame of each connection (the client hello). */
  readonly hellos: Buffer[] = [];
  readonly sent: SentMessage[] = [];
  readonly presences: Array<{ jid: string; presence: string }> = [];
  /** Media bytes by message id, returned by the link's download. */
  readonly media = new Map<string, Buffer>();
  private readonly clients = new Set<WebSocket>();
  private readonly waiters: Array<{ jid?: string; resolve: (m: SentMessage) => void }> = [];
  private readonly unread: SentMessage[] = [];
  private seq = 0;
  connections = 0;

  private constructor(private readonly wss: WebSocketServer, readonly url: string) {
    wss.on('connection', (ws) => {
      this.connections++;
      this.clients.add(ws);
      ws.once('message', (data) => this.hellos.push(Buffer.from(data as Buffer)));
      ws.on('close', () => this.clients.delete(ws));
    });
  }

  static async start(): Promise<WhatsappStandIn> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws/chat' });
    await once(wss, 'listening');
    return new WhatsappStandIn(wss, `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws/chat`);
  }

  /** Writes a session as if a phone had linked it (the account OWN). */
  static async linkSession(dir: string): Promise<void> {
    const store = await AuthStore.open(dir);
    Object.assign(store.state.creds, initAuthCreds(), { me: { id: OWN.pn, lid: OWN.lid, name: 'Owner' }, registered: true });
    await store.saveCreds();
  }

  /** The real socket, its sending methods recorded instead of sent, and its connect timeout long enough for a test. */
  readonly makeSocket: SocketFactory = (config) => {
    const sock = makeWASocket({ ...config, connectTimeoutMs: 10 * 60_000 });
    sock.sendMessage = (async (jid: string, content: AnyMessageContent) => {
      const id = `3EB0${String(++this.seq).padStart(8, '0')}`;
      this.record({ jid, content });
      return proto.WebMessageInfo.fromObject({ key: { remoteJid: jid, fromMe: true, id } });
    }) as WASocket['sendMessage'];
    sock.sendPresenceUpdate = async (presence, jid) => { this.presences.push({ jid: jid ?? '', presence }); };
    this.sockets.push(sock);
    return sock;
  };

  /** The channel's own link over the socket, with downloads answered from `media`. */
  readonly link = (sock: WASocket, logger: ILogger): WhatsappLink => ({
    ...socketLink(sock, logger),
    download: async (m) => {
      const data = this.media.get(m.key.id ?? '');
      if (!data) throw new Error(`no recorded media for ${m.key.id}`);
      return data;
    },
  });

  get socket(): WASocket {
    const s = this.sockets.at(-1);
    if (!s) throw new Error('the channel has not built a socket yet');
    return s;
  }

  /** Waits until the stand-in has seen `n` connections in all. */
  async waitForConnections(n: number): Promise<void> {
    while (this.connections < n) await new Promise((r) => setTimeout(r, 20));
  }

  /** What WhatsApp's server says once the handshake is done and the backlog delivered. */
  open(): void {
    this.socket.ev.emit('connection.update', { connection: 'open' });
    this.socket.ev.emit('connection.update', { receivedPendingNotifications: true });
  }

  /** A close with WhatsApp's reason code (401 logged out, 440 replaced, ...), as Baileys reports it. */
  disconnect(statusCode: number, message = 'Stream Errored'): void {
    const error = Object.assign(new Error(message), { output: { statusCode } });
    this.socket.ev.emit('connection.update', { connection: 'close', lastDisconnect: { error, date: new Date() } });
  }

  /** Closes every connection from the server side (a network drop). */
  dropAll(): void {
    for (const ws of this.clients) ws.terminate();
  }

  /** True while some client keeps a connection open. */
  get connected(): number {
    return this.clients.size;
  }

  /** Delivers a message as WhatsApp would (`messages.upsert`, type notify); returns it. */
  deliver(msg: { chat: string; participant?: string; fromMe?: boolean; message: object; pushName?: string; id?: string; key?: Record<string, string> }): WAMessage {
    const info = proto.WebMessageInfo.fromObject({
      key: { remoteJid: msg.chat, fromMe: !!msg.fromMe, id: msg.id ?? `ABCD${String(++this.seq).padStart(12, '0')}`, ...(msg.participant ? { participant: msg.participant } : {}) },
      message: msg.message,
      messageTimestamp: Math.floor(Date.now() / 1000),
      pushName: msg.pushName ?? 'Tester',
    }) as WAMessage;
    // The "Alt" addresses (remoteJidAlt, participantAlt) are Baileys' own, not
    // protobuf fields: it sets them on the decoded key, and so does this.
    Object.assign(info.key, msg.key);
    this.socket.ev.emit('messages.upsert', { type: 'notify', messages: [info] });
    return info;
  }

  /** A text from a user: a plain "conversation" in a direct chat, an extended text (with mentions) in a group. */
  sendText(opts: { from: string; text: string; group?: string; mentions?: string[]; fromMe?: boolean }): WAMessage {
    const sender = `${opts.from}@s.whatsapp.net`;
    const message = opts.mentions || opts.group
      ? { extendedTextMessage: { text: opts.text, contextInfo: { mentionedJid: opts.mentions ?? [] } } }
      : { conversation: opts.text };
    return this.deliver({ chat: opts.group ?? sender, participant: opts.group ? sender : undefined, fromMe: opts.fromMe, message });
  }

  /** An image, document or voice note (ptt audio) in the shapes WhatsApp sends, its bytes kept for the download. */
  sendMedia(opts: { from: string; kind: 'image' | 'document' | 'voice'; data: Buffer; caption?: string; fileName?: string; group?: string; size?: number }): WAMessage {
    const id = `MEDIA${String(++this.seq).padStart(10, '0')}`;
    this.media.set(id, opts.data);
    const common = {
      url: `https://mmg.whatsapp.net/v/t62.7118-24/${id}.enc`, directPath: `/v/t62.7118-24/${id}.enc`,
      mediaKey: Buffer.alloc(32, 7).toString('base64'), fileSha256: Buffer.alloc(32, 1).toString('base64'),
      fileEncSha256: Buffer.alloc(32, 2).toString('base64'), fileLength: opts.size ?? opts.data.length, mediaKeyTimestamp: Math.floor(Date.now() / 1000),
    };
    const message = opts.kind === 'image'
      ? { imageMessage: { ...common, mimetype: 'image/jpeg', caption: opts.caption, height: 853, width: 1280 } }
      : opts.kind === 'document'
        ? { documentMessage: { ...common, mimetype: 'application/pdf', fileName: opts.fileName ?? 'report.pdf', title: opts.fileName ?? 'report.pdf', caption: opts.caption, pageCount: 1 } }
        : { audioMessage: { ...common, mimetype: 'audio/ogg; codecs=opus', seconds: 3, ptt: true, waveform: Buffer.alloc(64, 5).toString('base64') } };
    const sender = `${opts.from}@s.whatsapp.net`;
    return this.deliver({ chat: opts.group ?? sender, participant: opts.group ? sender : undefined, message, id });
  }

  /** The next message the channel sends (to `jid`, if given) that no earlier call took. */
  nextSent(jid?: string): Promise<SentMessage> {
    const i = this.unread.findIndex((m) => !jid || m.jid === jid);
    if (i >= 0) return Promise.resolve(this.unread.splice(i, 1)[0]);
    return new Promise((resolve) => this.waiters.push({ jid, resolve }));
  }

  async close(): Promise<void> {
    for (const ws of this.clients) ws.terminate();
    // Baileys' own timers outlive a socket it ended before the handshake (its
    // connect timeout listens for a close it has already unhooked): settle
    // them, or the test process waits out the connect timeout.
    for (const sock of this.sockets) {
      sock.ws.emit('error', Object.assign(new Error('the stand-in closed'), { code: 'ECONNRESET' }));
      sock.ev.flush();
    }
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  private record(m: SentMessage): void {
    this.sent.push(m);
    const w = this.waiters.findIndex((x) => !x.jid || x.jid === m.jid);
    if (w >= 0) this.waiters.splice(w, 1)[0].resolve(m);
    else this.unread.push(m);
  }
}
