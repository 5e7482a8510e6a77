import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import type { ChannelHealth } from '../channel.ts';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import { tlsMode } from './config.ts';
import type { MailAuth } from './credentials.ts';

/**
 * One new mail in the watched folder; `read` fetches its source (undefined
 * when it was deleted meanwhile; a dropped connection throws, and the mail is
 * tried again after the reconnect).
 */
export interface NewMail { uid: number; size: number; read(): Promise<Buffer | undefined> }

/** What the handler decides: mark the mail seen (it was taken), or leave it as it is for the person reading the mailbox. */
export type MailOutcome = 'seen' | 'leave';

/** Where the watcher stopped in the folder: a UID is only meaningful with its folder's UIDVALIDITY. */
interface Position { uidValidity: string; lastUid: number }

/**
 * Inactivity before the client enters IDLE. imapflow's default of 15 s
 * would leave new mail unnoticed that long after each command.
 */
const IDLE_AFTER_MS = 1000;
/** IDLE is renewed this often, so a connection that died silently is noticed (servers drop IDLE after 30 min). */
const IDLE_RENEW_MS = 4 * 60_000;

/**
 * Watches one IMAP folder: IDLE for new mail, each new UID handed to
 * `onMail` once, in order. Where it stopped (the last UID, with the folder's
 * UIDVALIDITY) is kept in the data folder, so a restart neither repeats nor
 * skips mail; on the very first start it begins at the mail that arrives from
 * then on, not the mailbox's history. A dropped connection is reopened with
 * a doubling wait; a refused login stops it with `failed` and what to do, as
 * trying again would only lock the account.
 *
 * No mailbox lock is held between scans (`mailboxOpen`, not
 * `getMailboxLock`): imapflow enters IDLE only while no lock is held, and
 * without IDLE no `exists` event would come.
 *
 *   const box = new MailboxWatcher({ config, auth: () => mailAuth(config, secrets), dataDir, log, onMail });
 *   box.start(); // box.health() says how the connection is
 */
export class MailboxWatcher {
  private client?: ImapFlow;
  private state: ChannelHealth = { state: 'starting', since: Date.now() };
  private stopped = false;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private scanning?: Promise<void>;
  private again = false;
  private position?: Position;
  private readonly positionFile: string;

  constructor(private readonly opts: {
    config: Config['channels']['email'];
    auth: () => MailAuth | { missing: string; fix: string };
    dataDir: string;
    log: Logger;
    onMail: (mail: NewMail) => Promise<MailOutcome>;
  }) {
    this.positionFile = join(opts.dataDir, 'position.json');
    if (existsSync(this.positionFile)) {
      try { this.position = JSON.parse(readFileSync(this.positionFile, 'utf8')) as Position; } catch { /* unreadable: start at new mail */ }
    }
  }

  health(): ChannelHealth { return this.state; }

  start(): void { void this.connect(); }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    if (client) await client.logout().catch(() => client.close());
    await this.scanning;
  }

  private setState(state: ChannelHealth['state'], detail?: string, action?: string): void {
    this.state = { state, since: Date.now(), ...(detail ? { detail } : {}), ...(action ? { action } : {}) };
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { config, log } = this.opts;
    const auth = this.opts.auth();
    if ('missing' in auth) {
      this.setState('failed', auth.missing, auth.fix);
      log.error(`email: ${auth.missing}; ${auth.fix}`);
      return;
    }
    const { secure, requireTLS } = tlsMode(config.imapHost, config.imapPort, config.imapTls, 993);
    const client = new ImapFlow({
      host: config.imapHost, port: config.imapPort, secure, doSTARTTLS: requireTLS || undefined,
      auth, logger: false, autoIdleDelay: IDLE_AFTER_MS, maxIdleTime: IDLE_RENEW_MS, connectionTimeout: 30_000,
    });
    this.client = client;
    // Without an 'error' listener a socket error would end the gateway.
    client.on('error', (err: Error) => log.warn(`email: IMAP ${config.imapHost}: ${err.message}`));
    client.on('close', () => { if (this.client === client) this.reconnect('the IMAP connection closed'); });
    client.on('exists', () => this.scan());
    try {
      await client.connect();
      const box = await client.mailboxOpen(config.mailbox);
      const validity = String(box.uidValidity);
      if (this.position?.uidValidity !== validity) {
        // First start, or the server renumbered the folder: begin at the mail that arrives next.
        if (this.position) log.warn(`email: ${config.mailbox} was renumbered by the server (UIDVALIDITY changed); watching new mail from here`);
        this.savePosition({ uidValidity: validity, lastUid: box.uidNext - 1 });
      }
      this.failures = 0;
      this.setState('connected');
      log.info(`email: watching ${config.mailbox} of ${config.user} on ${config.imapHost}:${config.imapPort}`);
      this.scan();
    } catch (err) {
      if (this.client !== client) return;
      this.client = undefined;
      client.close();
      const e = err as Error & { authenticationFailed?: boolean; serverResponseCode?: string; responseText?: string };
      if (e.authenticationFailed) {
        const detail = `the IMAP server ${config.imapHost} refused the login for ${config.user}${e.responseText ? `: ${e.responseText}` : ''}`;
        const action = config.auth === 'oauth2'
          ? 'put a fresh access token in EMAIL_OAUTH_TOKEN and restart the gateway'
          : 'run `nanoclaw setup email` with the right password (an app password where the provider requires one, e.g. with two-step verification)';
        this.setState('failed', detail, action);
        log.error(`email: ${detail}; ${action}`);
        return;
      }
      if (e.serverResponseCode === 'NONEXISTENT' || /doesn't exist|does not exist|not found/i.test(e.responseText ?? '')) {
        const detail = `the folder "${config.mailbox}" does not exist on ${config.imapHost}`;
        this.setState('failed', detail, 'set channels.email.mailbox to an existing folder (INBOX is always there) and restart the gateway');
        log.error(`email: ${detail}`);
        return;
      }
      this.reconnect(`could not connect to ${config.imapHost}:${config.imapPort}: ${e.responseText ?? e.message}`);
    }
  }

  /** Opens a new connection after a doubling wait (1 s, 2 s, … up to reconnectMaxDelayMs). */
  private reconnect(why: string): void {
    if (this.stopped) return;
    const old = this.client;
    this.client = undefined;
    old?.close();
    const delay = Math.min(1000 * 2 ** this.failures, this.opts.config.reconnectMaxDelayMs);
    this.failures++;
    this.setState('reconnecting', `${why}; trying again in ${Math.round(delay / 1000)} s`);
    this.opts.log.warn(`email: ${why}; reconnecting in ${delay} ms`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.connect(), delay);
  }

  /** Runs one scan at a time; an `exists` during a scan asks for another pass after it. */
  private scan(): void {
    if (this.scanning) { this.again = true; return; }
    this.scanning = (async () => {
      do {
        this.again = false;
        await this.scanOnce();
      } while (this.again && !this.stopped);
    })().catch((err: Error) => this.opts.log.warn(`email: reading new mail failed: ${err.message}`))
      .finally(() => { this.scanning = undefined; });
  }

  private async scanOnce(): Promise<void> {
    const client = this.client;
    const position = this.position;
    if (!client?.usable || !position) return;
    // "n:*" always names the newest mail, even below n: only UIDs above the position are new.
    const found = await client.search({ uid: `${position.lastUid + 1}:*` }, { uid: true });
    const uids = (found || []).filter((uid) => uid > position.lastUid).sort((a, b) => a - b);
    for (const uid of uids) {
      if (this.client !== client || this.stopped) return;
      const meta = await client.fetchOne(String(uid), { size: true }, { uid: true });
      if (meta) {
        const outcome = await this.opts.onMail({
          uid, size: meta.size ?? 0,
          read: async () => {
            const full = await client.fetchOne(String(uid), { source: true }, { uid: true });
            return full ? full.source : undefined;
          },
        });
        if (outcome === 'seen') await client.messageFlagsAdd(String(uid), ['\\Seen'], { uid: true });
      }
      this.savePosition({ uidValidity: position.uidValidity, lastUid: uid });
    }
  }

  private savePosition(position: Position): void {
    this.position = position;
    const tmp = `${this.positionFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(position), { mode: 0o600 });
    renameSync(tmp, this.positionFile);
  }
}
