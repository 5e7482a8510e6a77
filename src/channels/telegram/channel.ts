import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Bot, GrammyError, InputFile } from 'grammy';
import type { Message } from 'grammy/types';
import { DeliveryError, type Channel, type ChannelCapabilities, type ChannelHealth, type ChannelHost, type OutboundPayload, type SendResult } from '../channel.ts';
import { formatForChannel } from '../format/index.ts';
import type { Conversation } from '../../store/store.ts';
import type { Logger } from '../../core/logger.ts';
import type { TelegramChannelConfig } from './config.ts';
import { deliveryError, describe, isHarmlessEditError, isParseError, needsUser, redactToken, retryDelayMs } from './errors.ts';
import { BOT_API_DOWNLOAD_LIMIT, TelegramInbound } from './inbound.ts';
import { Poller } from './polling.ts';
import { QuestionKeyboards } from './questions.ts';
import { listenForUpdates } from './webhook.ts';
import type { z } from 'zod';

/** Telegram's limit on one message's text, after entity parsing. */
const MAX_MESSAGE = 4096;
/** The Bot API's upload limit for sendDocument. */
const MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
/**
 * Update kinds asked for. Listed, never left empty: an empty list means
 * "whatever was set last", and a filter left over from another program can
 * silence a bot. No reactions: the channel does not use them.
 */
export const ALLOWED_UPDATES = ['message', 'callback_query'] as const;

export type TelegramConfig = z.output<typeof TelegramChannelConfig>;

/**
 * A Telegram bot as a NanoClaw channel, on grammY. A private chat, a group
 * or a forum topic of a group is one conversation (chat id; topic id as the
 * thread). Replies go out as Telegram HTML, split at 4096 characters, with a
 * plain-text retry when Telegram cannot parse the HTML; questions get inline
 * keyboards; files go out with sendDocument. Updates arrive by long polling
 * (works behind NAT) or, with `mode: "webhook"`, by Telegram's POSTs.
 *
 *   const channel = new TelegramChannel({ config, token, log });
 *   gateway.addChannel(channel); // start() connects in the background and never throws
 */
export class TelegramChannel implements Channel {
  readonly name = 'telegram';
  /** Anyone can write to a bot: senders go through pairing. */
  readonly trusted = false;
  readonly capabilities: ChannelCapabilities = {
    maxMessageLength: MAX_MESSAGE,
    dialect: 'telegram-html',
    files: { in: true, out: true, maxOutBytes: MAX_UPLOAD_BYTES },
    buttons: true,
    // sendChatAction shows "typing…" for about 5 s.
    typing: { lastsMs: 5000 },
    // Telegram allows about 20 messages a minute in a group, edits included: one edit every 3 s stays under it.
    edits: { minIntervalMs: 3000 },
    threads: true,
    reactions: false,
  };
  private readonly bot?: Bot;
  private state: ChannelHealth = { state: 'starting', since: Date.now() };
  private readonly questions = new QuestionKeyboards();
  private poller?: Poller;
  private webhook?: { close(): Promise<void> };
  private connecting?: Promise<void>;
  private readonly stopping = new AbortController();

  constructor(private readonly opts: { config: TelegramConfig; token: string | undefined; webhookSecret?: string; log: Logger }) {
    if (opts.token) this.bot = new Bot(opts.token, { client: { apiRoot: opts.config.apiBaseUrl.replace(/\/+$/, '') } });
  }

  health(): ChannelHealth {
    return this.state;
  }

  async start(host: ChannelHost): Promise<void> {
    if (!this.bot) {
      this.fail({ detail: 'TELEGRAM_BOT_TOKEN is not set', action: 'run `nanoclaw setup telegram` (it asks for the token @BotFather gave you), then restart the gateway' });
      return;
    }
    if (this.opts.config.mode === 'webhook' && !this.opts.config.webhook.url) {
      this.fail({ detail: 'channels.telegram.mode is "webhook" but channels.telegram.webhook.url is empty', action: 'set channels.telegram.webhook.url to the public HTTPS URL that reaches the listener, or use mode "polling"' });
      return;
    }
    // Connecting may wait long (no network at boot): the gateway starts meanwhile.
    this.connecting = this.connect(this.bot, host).catch((err) => {
      this.fail({ detail: `connecting failed: ${redactToken(String((err as Error).stack ?? err))}`, action: 'restart the gateway; if it fails again, report the log line' });
    });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.connecting;
    await this.poller?.stop();
    await this.webhook?.close();
  }

  /** getMe (retried while the network is down), then polling or the webhook. */
  private async connect(bot: Bot, host: ChannelHost): Promise<void> {
    const { config, log } = this.opts;
    const signal = this.stopping.signal as never;
    const me = await this.retrying('getMe', async () => {
      const me = await bot.api.getMe(signal);
      // A webhook left set makes every getUpdates fail with 409.
      if (config.mode === 'polling') await bot.api.deleteWebhook({}, signal);
      return me;
    });
    if (!me) return;
    const inbound = new TelegramInbound({
      api: bot.api, host, me,
      fileRoot: `${config.apiBaseUrl.replace(/\/+$/, '')}/file/bot${bot.token}`,
      downloadLimit: BOT_API_DOWNLOAD_LIMIT,
      questions: this.questions, log,
    });
    const handle = (update: Parameters<TelegramInbound['handle']>[0]) => inbound.handle(update);
    if (config.mode === 'webhook') {
      const secret = this.opts.webhookSecret || randomBytes(32).toString('base64url');
      const { host: address, port } = config.webhook;
      try {
        this.webhook = await listenForUpdates({ ...config.webhook, secret, handle, log });
      } catch (err) {
        return this.fail({ detail: `the webhook listener cannot listen on ${address}:${port}: ${(err as Error).message}`, action: 'free that port or set channels.telegram.webhook.port (and host) to one this machine can use, then restart the gateway' });
      }
      const set = await this.retrying('setWebhook', () => bot.api.setWebhook(config.webhook.url, { secret_token: secret, allowed_updates: [...ALLOWED_UPDATES] }, signal),
        'check channels.telegram.webhook.url (a public HTTPS URL on port 443, 80, 88 or 8443) and TELEGRAM_WEBHOOK_SECRET (1-256 of A-Z, a-z, 0-9, _ and -), then restart the gateway');
      if (!set) return;
      this.set({ state: 'connected' });
      log.info(`telegram: @${me.username} receives updates at ${config.webhook.url}`);
      return;
    }
    if (this.stopping.signal.aborted) return;
    this.poller = new Poller({
      api: bot.api, timeoutSec: config.pollTimeoutSec, allowedUpdates: ALLOWED_UPDATES, handle, log,
      connected: () => { if (this.state.state !== 'connected') this.set({ state: 'connected' }); },
      reconnecting: (detail) => this.set({ state: 'reconnecting', detail }),
      failed: (problem) => this.fail(problem),
    });
    this.poller.start();
    log.info(`telegram: @${me.username} is polling ${config.apiBaseUrl}`);
  }

  /**
   * Runs a set-up call until it works: network errors, 5xx and 429 are
   * retried with backoff (health "reconnecting"); an error only the user can
   * fix (401, 409, or a 4xx refusal with `action`) ends in "failed". Returns
   * undefined when it gave up or the channel stopped.
   */
  private async retrying<T>(what: string, call: () => Promise<T>, action?: string): Promise<T | undefined> {
    for (let failures = 1; ; failures++) {
      try {
        return await call();
      } catch (err) {
        if (this.stopping.signal.aborted) return undefined;
        const problem = needsUser(err, this.opts.config.mode)
          ?? (action && err instanceof GrammyError && err.error_code >= 400 && err.error_code < 500 && err.error_code !== 429 ? { detail: `${what} failed: ${describe(err)}`, action } : undefined);
        if (problem) { this.fail(problem); return undefined; }
        if (failures === 1) this.opts.log.warn(`telegram: ${what} failed (${describe(err)}); trying again`);
        this.set({ state: 'reconnecting', detail: `${what} failed: ${describe(err)}` });
        await sleep(retryDelayMs(err, failures), undefined, { signal: this.stopping.signal }).catch(() => {});
        if (this.stopping.signal.aborted) return undefined;
      }
    }
  }

  async send(conversation: Conversation, message: OutboundPayload): Promise<SendResult> {
    const api = this.api();
    const where = this.where(conversation);
    const parts = message.text.trim() ? formatForChannel(message.text, 'telegram-html', { maxLength: MAX_MESSAGE }) : [];
    const keyboard = message.buttons.length && message.questionId !== undefined ? this.questions.keyboard(message.questionId, message.buttons) : undefined;
    if (keyboard && parts.length === 0) parts.push('Choose:');
    // Parts an earlier attempt delivered (the core keeps their ids): skipped, in the same order.
    const skip = message.resumeAt ?? 0;
    const ids: string[] = [];
    try {
      for (let i = skip; i < parts.length; i++) {
        const last = i === parts.length - 1;
        const sent = await this.sendHtml(conversation.chat, parts[i], { ...where, ...(last && keyboard ? { reply_markup: keyboard } : {}) });
        ids.push(String(sent.message_id));
      }
      for (let i = Math.max(0, skip - parts.length); i < message.files.length; i++) {
        const f = message.files[i];
        const sent = await api.sendDocument(conversation.chat, new InputFile(f.path, f.name), where);
        ids.push(String(sent.message_id));
      }
    } catch (err) {
      const e = deliveryError(err, `a message to chat ${conversation.chat}`);
      throw new DeliveryError(e.kind, e.message, { retryAfterMs: e.retryAfterMs, cause: e.cause, delivered: ids });
    }
    if (keyboard) this.questions.sent(message.questionId!, conversation.chat, message.buttons);
    return { platformIds: ids };
  }

  async edit(conversation: Conversation, platformId: string, text: string): Promise<void> {
    const [html] = formatForChannel(text, 'telegram-html', { maxLength: MAX_MESSAGE });
    const api = this.api();
    try {
      try {
        await api.editMessageText(conversation.chat, Number(platformId), html || '…', { parse_mode: 'HTML' });
      } catch (err) {
        if (!isParseError(err)) throw err;
        await api.editMessageText(conversation.chat, Number(platformId), plainText(html) || '…');
      }
    } catch (err) {
      if (isHarmlessEditError(err)) return;
      throw deliveryError(err, `an edit in chat ${conversation.chat}`);
    }
  }

  async remove(conversation: Conversation, platformId: string): Promise<void> {
    try {
      await this.api().deleteMessage(conversation.chat, Number(platformId));
    } catch (err) {
      if (isHarmlessEditError(err)) return;
      throw deliveryError(err, `deleting a message in chat ${conversation.chat}`);
    }
  }

  async typing(conversation: Conversation): Promise<void> {
    try {
      await this.api().sendChatAction(conversation.chat, 'typing', this.where(conversation));
    } catch (err) {
      throw deliveryError(err, `typing in chat ${conversation.chat}`);
    }
  }

  /** sendMessage in HTML; when Telegram cannot parse it, the same text without markup. */
  private async sendHtml(chat: string, html: string, other: Record<string, unknown>): Promise<Message.TextMessage> {
    const api = this.api();
    try {
      return await api.sendMessage(chat, html, { ...other, parse_mode: 'HTML' });
    } catch (err) {
      if (!isParseError(err)) throw err;
      this.opts.log.warn(`telegram: chat ${chat}: Telegram could not parse a message's HTML (${describe(err)}); sent as plain text`);
      return await api.sendMessage(chat, plainText(html) || ' ', other);
    }
  }

  private where(conversation: Conversation): { message_thread_id?: number } {
    return conversation.thread ? { message_thread_id: Number(conversation.thread) } : {};
  }

  private api() {
    if (!this.bot) throw new DeliveryError('offline', 'TELEGRAM_BOT_TOKEN is not set; run `nanoclaw setup telegram`');
    return this.bot.api;
  }

  private set(next: Omit<ChannelHealth, 'since'>): void {
    this.state = { ...next, since: Date.now() };
  }

  /** An error only the user can fix: logged once, shown in `nanoclaw status`, never retried in a loop. */
  private fail(problem: { detail: string; action: string }): void {
    this.opts.log.error(`telegram: ${problem.detail}. To fix: ${problem.action}`);
    this.set({ state: 'failed', ...problem });
  }
}

/** Telegram HTML as the plain text it shows: tags dropped, entities decoded. */
export function plainText(html: string): string {
  return html.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}
