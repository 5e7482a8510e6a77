import { join } from 'node:path';
import { makeWASocket, type WASocket } from 'baileys';
import type { z } from 'zod';
import { DeliveryError, type Channel, type ChannelCapabilities, type ChannelHealth, type ChannelHost, type OutboundPayload, type SendResult } from '../channel.ts';
import type { Conversation } from '../../store/store.ts';
import type { Logger } from '../../core/logger.ts';
import { AuthStore } from './auth-store.ts';
import { baileysLogger, type ILogger } from './baileys-logger.ts';
import type { WhatsappChannelConfig } from './config.ts';
import { WhatsappConnection, type SocketFactory } from './connection.ts';
import { WhatsappInbound } from './inbound.ts';
import { socketLink, type WhatsappLink } from './link.ts';
import { MAX_MESSAGE, MAX_UPLOAD_BYTES, sendPayload } from './outbound.ts';

export type WhatsappConfig = z.output<typeof WhatsappChannelConfig>;

/** The session's folder under the channel's data dir (NANOCLAW_HOME/channels/whatsapp). */
export const sessionDir = (dataDir: string) => join(dataDir, 'session');

/** How many of our own message ids are remembered, to skip their echoes and see replies to them. */
const REMEMBERED_IDS = 2000;

/**
 * The owner's WhatsApp account as a NanoClaw channel, a linked device over
 * Baileys (`nanoclaw setup whatsapp` links it). A direct chat or a group is
 * one conversation (its jid); groups answer only when allowed and mentioned
 * (or addressed with the trigger word). Replies use WhatsApp's markers
 * (*bold*, _italic_, ~strike~, ```mono```), split at 4000 characters; files
 * go both ways; "typing…" shows while a turn runs. No buttons (choices are
 * listed in the text) and no edits.
 *
 *   const channel = new WhatsappChannel({ config, log });
 *   await gateway.startChannel(channel); // never throws; see health()
 */
export class WhatsappChannel implements Channel {
  readonly name = 'whatsapp';
  /** Anyone can write to the account: strangers are ignored (or paired, with `pairStrangers`), never trusted. */
  readonly trusted = false;
  readonly capabilities: ChannelCapabilities = {
    maxMessageLength: MAX_MESSAGE,
    dialect: 'whatsapp',
    files: { in: true, out: true, maxOutBytes: MAX_UPLOAD_BYTES },
    buttons: false,
    // "composing" shows for about 10 s unless renewed.
    typing: { lastsMs: 10_000 },
    edits: false,
    threads: false,
    reactions: false,
  };
  private state: ChannelHealth = { state: 'starting', since: Date.now() };
  private connection?: WhatsappConnection;
  private link?: WhatsappLink;
  private readonly sentIds = new Set<string>();
  private readonly baileysLog: ILogger;
  /** Inbound messages, handled one at a time in the order WhatsApp gave them. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: {
    config: WhatsappConfig;
    log: Logger;
    /** Builds the Baileys socket (default: `makeWASocket`). */
    makeSocket?: SocketFactory;
    /** Wraps a socket in the channel's link (default: `socketLink`). */
    link?: (sock: WASocket, logger: ILogger) => WhatsappLink;
  }) {
    this.baileysLog = baileysLogger(opts.log);
  }

  health(): ChannelHealth {
    return this.state;
  }

  async start(host: ChannelHost): Promise<void> {
    const { config, log } = this.opts;
    const dir = sessionDir(host.dataDir);
    if (!await AuthStore.linkedAccount(dir)) {
      this.set({ state: 'failed', detail: `no linked WhatsApp session in ${dir}`, action: 'run `nanoclaw setup whatsapp` and scan the QR code with your phone (WhatsApp, Settings, Linked devices), then restart the gateway' });
      log.error(`whatsapp: ${this.state.detail}; to fix: ${this.state.action}`);
      return;
    }
    let store: AuthStore;
    try {
      store = await AuthStore.open(dir);
    } catch (err) {
      this.set({ state: 'failed', detail: (err as Error).message, action: 'run `nanoclaw setup whatsapp` to link again' });
      log.error(`whatsapp: ${this.state.detail}`);
      return;
    }
    const inbound = new WhatsappInbound({
      host,
      link: () => this.link,
      me: () => store.state.creds.me ? { pn: store.state.creds.me.id, lid: store.state.creds.me.lid ?? undefined } : undefined,
      sentByUs: (id) => this.sentIds.has(id),
      pairStrangers: config.pairStrangers,
    });
    this.connection = new WhatsappConnection({
      url: config.apiBaseUrl,
      store,
      watchdogMs: config.watchdogSec * 1000,
      maxReconnectDelayMs: config.maxReconnectDelaySec * 1000,
      makeSocket: this.opts.makeSocket ?? makeWASocket,
      log,
      attached: (sock) => { this.link = (this.opts.link ?? socketLink)(sock, this.baileysLog); },
      // One at a time, in order: host.receive is synchronous, downloads are not.
      messages: (messages) => { this.queue = this.queue.then(async () => { for (const m of messages) await inbound.handle(m); }); },
      opened: () => host.redeliver(),
      state: (h) => {
        this.set(h);
        // Logged out, replaced, refused: the owner hears of it on their other channels, once.
        if (h.state === 'failed') host.alertOwner(`WhatsApp stopped: ${h.detail}. To fix: ${h.action}.`);
      },
    });
    this.connection.start();
  }

  async stop(): Promise<void> {
    await this.connection?.stop();
    await this.queue;
  }

  async send(conversation: Conversation, payload: OutboundPayload): Promise<SendResult> {
    return sendPayload(this.connectedLink(), conversation.chat, payload, (id) => this.remember(id));
  }

  async typing(conversation: Conversation): Promise<void> {
    try {
      await this.connectedLink().sendPresence(conversation.chat, 'composing');
    } catch (err) {
      this.opts.log.debug(`whatsapp: typing in ${conversation.chat} not shown: ${(err as Error).message}`);
    }
  }

  /**
   * The link while connected. Otherwise the message waits ('offline', no
   * attempt used up) until the connection opens again and asks for
   * redelivery: a long outage or a re-link must not use up its retries.
   */
  private connectedLink(): WhatsappLink {
    if (!this.connection?.connected || !this.link) {
      throw new DeliveryError('offline', `WhatsApp is not connected (${this.state.state}${this.state.detail ? `: ${this.state.detail}` : ''})`);
    }
    return this.link;
  }

  private remember(id: string): void {
    this.sentIds.add(id);
    if (this.sentIds.size > REMEMBERED_IDS) this.sentIds.delete(this.sentIds.values().next().value!);
  }

  private set(h: Omit<ChannelHealth, 'since'>): void {
    this.state = { ...h, since: Date.now() };
  }
}
