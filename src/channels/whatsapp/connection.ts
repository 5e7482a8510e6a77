import { DisconnectReason, makeWASocket, type ConnectionState, type UserFacingSocketConfig, type WAMessage, type WASocket } from 'baileys';
import type { ChannelHealth } from '../channel.ts';
import type { AuthStore } from './auth-store.ts';
import { baileysLogger } from './baileys-logger.ts';
import { statusOf } from './outbound.ts';

/** Builds the socket; tests pass one that records instead of sending. */
export type SocketFactory = (config: UserFacingSocketConfig) => WASocket;

export interface ConnectionOptions {
  url: string;
  store: AuthStore;
  watchdogMs: number;
  maxReconnectDelayMs: number;
  makeSocket: SocketFactory;
  log: { debug(msg: string): void; info(msg: string): void; warn(msg: string): void; error(msg: string): void };
  /** A socket was opened (connected or not yet): wire its messages. */
  attached(sock: WASocket): void;
  messages(messages: WAMessage[]): void;
  /** The connection opened: send what waited. */
  opened(): void;
  state(health: Omit<ChannelHealth, 'since'>): void;
}

/**
 * One WhatsApp Web connection over Baileys, kept up by disconnect reason:
 * - 515 restartRequired (normal right after linking): reconnect at once;
 * - 401 loggedOut, 403 forbidden, 411 multideviceMismatch: only the user can
 *   fix these (link again): reported as failed, logged once, no retry loop;
 * - 440 connectionReplaced (WhatsApp Web opened elsewhere with these keys):
 *   stop and report; retrying would take the session back and forth;
 * - anything else (428 closed, 408 lost, 503 unavailable, 500): reconnect
 *   with doubling backoff up to `maxReconnectDelayMs`.
 * A watchdog ends a socket that has had no frame from WhatsApp (its
 * keep-alive pings are answered every 30 s) for `watchdogMs`, and opens a new one.
 *
 *   const conn = new WhatsappConnection({ url, store, ..., messages: (m) => m.forEach(handle) });
 *   conn.start(); // never throws; progress comes through `state`
 */
export class WhatsappConnection {
  private sock?: WASocket;
  private open = false;
  private failures = 0;
  private stopped = false;
  private lastActivity = Date.now();
  private retryTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;

  constructor(private readonly opts: ConnectionOptions) {}

  /** The socket while the connection is open, for sending. */
  get connected(): WASocket | undefined {
    return this.open ? this.sock : undefined;
  }

  start(): void {
    this.connect();
    const every = Math.max(250, Math.min(this.opts.watchdogMs / 4, 30_000));
    this.watchdog = setInterval(() => this.checkStall(), every);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    await this.detach();
  }

  private connect(): void {
    if (this.stopped) return;
    const { store, log } = this.opts;
    const sock = this.opts.makeSocket({
      auth: store.state,
      waWebSocketUrl: this.opts.url,
      logger: baileysLogger(log),
      // Without this, events after the first connection are held back for up
      // to 20 s waiting for a history sync NanoClaw does not use.
      shouldSyncHistoryMessage: () => false,
      syncFullHistory: false,
      // The phone keeps notifying the person: the linked device stays "offline".
      markOnlineOnConnect: false,
      printQRInTerminal: false,
    });
    this.sock = sock;
    this.open = false;
    this.lastActivity = Date.now();
    sock.ws.on('frame', () => { this.lastActivity = Date.now(); });
    sock.ev.on('creds.update', () => {
      store.saveCreds().catch((err) => log.error(`whatsapp: the session could not be saved (${(err as Error).message}); the link may be lost at the next start: check the disk and permissions of ${store.dir}`));
    });
    sock.ev.on('connection.update', (update) => {
      if (sock !== this.sock) return; // an old socket's last words
      this.lastActivity = Date.now();
      this.onUpdate(sock, update);
    });
    sock.ev.on('messages.upsert', ({ messages, type }) => {
      if (sock !== this.sock) return;
      this.lastActivity = Date.now();
      if (type === 'notify') this.opts.messages(messages);
    });
    this.opts.attached(sock);
  }

  private onUpdate(sock: WASocket, update: Partial<ConnectionState>): void {
    const { log } = this.opts;
    if (update.qr) {
      // A QR code in the gateway means the keys are not (or no longer) linked.
      this.fail('WhatsApp asks to link this device again (it offered a QR code)', 'run `nanoclaw setup whatsapp` and scan the QR code with your phone, then restart the gateway');
      return;
    }
    if (update.connection === 'open') {
      this.open = true;
      this.failures = 0;
      this.opts.state({ state: 'connected' });
      log.info(`whatsapp: connected as ${this.opts.store.me ?? 'the linked device'}`);
      this.opts.opened();
      return;
    }
    if (update.connection !== 'close') return;
    this.sock = undefined;
    this.open = false;
    const err = update.lastDisconnect?.error;
    const code = statusOf(err);
    const why = `${(err as Error | undefined)?.message ?? 'closed'}${code ? ` (${code})` : ''}`;
    switch (code) {
      case DisconnectReason.loggedOut:
        return this.fail(`WhatsApp logged this device out (${code}): it was removed under Linked devices on the phone, or the session expired`, 're-link with `nanoclaw setup whatsapp`, then restart the gateway', sock);
      case DisconnectReason.connectionReplaced:
        return this.fail(`another WhatsApp Web session with this device's keys took over (${code}); NanoClaw stopped so the two do not push each other off`, 'stop the other copy (another NanoClaw gateway on the same session), then restart the gateway', sock);
      case DisconnectReason.forbidden:
        return this.fail(`WhatsApp refused this account (${code}): it may be banned or restricted`, 'check the WhatsApp app on the phone; once it works there, re-link with `nanoclaw setup whatsapp`', sock);
      case DisconnectReason.multideviceMismatch:
        return this.fail(`WhatsApp says this device does not match the account (${code})`, 're-link with `nanoclaw setup whatsapp`, then restart the gateway', sock);
      case DisconnectReason.restartRequired:
        log.info('whatsapp: WhatsApp asked for the usual restart after linking; reconnecting');
        return this.reconnect(0, why);
      default:
        this.failures++;
        return this.reconnect(Math.min(this.opts.maxReconnectDelayMs, 1000 * 2 ** (this.failures - 1)), why);
    }
  }

  private reconnect(delayMs: number, why: string): void {
    if (this.stopped) return;
    this.opts.state({ state: 'reconnecting', detail: `connection closed: ${why}; next attempt in ${Math.round(delayMs / 1000)} s` });
    this.opts.log.warn(`whatsapp: connection closed (${why}); reconnecting in ${delayMs} ms`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  /** Something only the user can fix: reported once, and no more connecting until the gateway restarts. */
  private fail(detail: string, action: string, closed?: WASocket): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    this.opts.log.error(`whatsapp: ${detail}; to fix: ${action}`);
    this.opts.state({ state: 'failed', detail, action });
    if (!closed) void this.detach();
    else void closed.end(undefined).catch(() => {});
  }

  private checkStall(): void {
    if (this.stopped || !this.sock || Date.now() - this.lastActivity < this.opts.watchdogMs) return;
    const silentSec = Math.round((Date.now() - this.lastActivity) / 1000);
    void this.detach();
    this.failures++;
    this.reconnect(Math.min(this.opts.maxReconnectDelayMs, 1000 * 2 ** (this.failures - 1)), `nothing from WhatsApp for ${silentSec} s (watchdog)`);
  }

  private async detach(): Promise<void> {
    const sock = this.sock;
    this.sock = undefined;
    this.open = false;
    if (sock) await sock.end(undefined).catch(() => {});
  }
}
