import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A message the bot sent (sendMessage, sendDocument), as the stand-in stored it. */
export interface SentMessage {
  method: string;
  message_id: number;
  chat_id: string;
  text: string;
  parse_mode?: string;
  message_thread_id?: number;
  reply_markup?: { inline_keyboard: Array<Array<{ text: string; callback_data?: string }>> };
  /** sendDocument: the uploaded file's name and bytes. */
  document?: { name: string; data: Buffer };
  /** Changed by editMessageText; true once deleteMessage removed it. */
  deleted?: boolean;
  edits: string[];
}

/** A failure the stand-in answers instead of the next call of a method, in the Bot API's shape. */
export interface ApiFailure { error_code: number; description: string; retry_after?: number }

type Json = Record<string, any>;

/**
 * A local Telegram Bot API server for tests: the real grammY client talks to
 * it through `channels.telegram.apiBaseUrl`, over the real wire protocol (POST
 * `/bot<token>/<method>` with JSON or multipart bodies, `{ok, result}` or
 * `{ok: false, error_code, description, parameters}` answers, long-polled
 * getUpdates, file downloads at `/file/bot<token>/<file_path>`). It records
 * every call and what the bot sent, and lets a test play the users and the
 * service: inject messages and taps, serve files, fail calls, drop or stall
 * the poll, revoke the token.
 *
 *   const tg = await TelegramStandIn.start();
 *   // config: { channels: { telegram: { enabled: true, apiBaseUrl: tg.url, pollTimeoutSec: 1 } } }, env: { TELEGRAM_BOT_TOKEN: tg.token }
 *   tg.sendText({ chat: 42, from: 42, text: 'hello' });
 *   const reply = await tg.nextSent(42);   // { text: 'Echo: hello', ... }
 */
export class TelegramStandIn {
  /** The bot getMe describes; mentions of `@nanoclaw_test_bot` address it. */
  readonly me = { id: 7000001, is_bot: true, first_name: 'NanoClaw', username: 'nanoclaw_test_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };
  /** Every API call, in order: the method and its parameters (files as `{ name, size }`). */
  readonly calls: Array<{ method: string; body: Json; at: number }> = [];
  /** Everything the bot sent, in order. */
  readonly sent: SentMessage[] = [];
  /** The webhook as the bot registered it (setWebhook), or undefined. */
  webhook?: { url: string; secret_token?: string; allowed_updates?: string[] };

  private readonly updates: Json[] = [];
  private nextUpdateId = 1;
  private nextMessageId = 1000;
  private readonly files = new Map<string, { path: string; data: Buffer }>();
  private readonly failures = new Map<string, ApiFailure[]>();
  private readonly polls = new Set<{ res: ServerResponse; socket: Socket; flush(): void }>();
  private readonly read = new Map<string, number>();
  private waiters: Array<() => void> = [];
  private revoked = false;
  private conflicting = false;
  private stalled = false;

  private constructor(private readonly server: Server, readonly url: string, readonly token: string) {}

  /** Starts the stand-in on a free loopback port. The token is any string the bot is configured with. */
  static async start(opts: { token?: string } = {}): Promise<TelegramStandIn> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const standIn = new TelegramStandIn(server, `http://127.0.0.1:${port}`, opts.token ?? '123456:test-token');
    server.on('request', (req, res) => { standIn.serve(req, res).catch((err) => { if (!res.headersSent) res.writeHead(500).end(String(err)); }); });
    return standIn;
  }

  async close(): Promise<void> {
    for (const p of this.polls) p.socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- playing the users ----

  /**
   * A text message from a user, as Telegram would deliver it: a private chat
   * when `chat` equals `from` (the default), else a group (`chatType`). A
   * leading `/command` and `@username` mentions get their entities, as a real
   * client sends them. Returns the message.
   */
  sendText(opts: { chat?: number; from?: number; text: string; chatType?: 'private' | 'group' | 'supergroup'; threadId?: number; firstName?: string; replyTo?: SentMessage; extra?: Json }): Json {
    const from = opts.from ?? 4242;
    const chat = opts.chat ?? from;
    const type = opts.chatType ?? (chat === from ? 'private' : 'supergroup');
    const message: Json = {
      message_id: this.nextMessageId++,
      date: Math.floor(Date.now() / 1000),
      chat: type === 'private' ? { id: chat, type, first_name: opts.firstName ?? `User${from}` } : { id: chat, type, title: `Group ${chat}`, ...(opts.threadId ? { is_forum: true } : {}) },
      from: { id: from, is_bot: false, first_name: opts.firstName ?? `User${from}` },
      ...(opts.threadId ? { message_thread_id: opts.threadId, is_topic_message: true } : {}),
      ...(opts.replyTo ? { reply_to_message: { message_id: opts.replyTo.message_id, chat: { id: chat, type }, from: this.me, date: 0, text: opts.replyTo.text } } : {}),
      ...opts.extra,
    };
    if (opts.text !== '') {
      message[message.photo || message.document || message.voice || message.audio ? 'caption' : 'text'] = opts.text;
      const entities = entitiesOf(opts.text);
      if (entities.length) message[message.text !== undefined ? 'entities' : 'caption_entities'] = entities;
    }
    this.inject({ message });
    return message;
  }

  /** A file Telegram stores, for a message to carry: its file_id, size and path. */
  addFile(data: Buffer, path = `documents/file_${this.files.size}.bin`): { file_id: string; file_unique_id: string; file_size: number; file_path: string } {
    const file_id = `file-${this.files.size + 1}-${Math.random().toString(36).slice(2)}`;
    this.files.set(file_id, { path, data });
    return { file_id, file_unique_id: `u${this.files.size}`, file_size: data.length, file_path: path };
  }

  /** A user taps button `index` under a message the bot sent; returns the callback query's id. */
  tap(message: SentMessage, index: number, from = Number(message.chat_id)): string {
    const button = message.reply_markup?.inline_keyboard.flat()[index];
    if (!button) throw new Error(`message ${message.message_id} has no button ${index}`);
    const id = `cb-${this.nextUpdateId}`;
    const chatId = Number(message.chat_id);
    this.inject({
      callback_query: {
        id, from: { id: from, is_bot: false, first_name: `User${from}` }, chat_instance: 'ci', data: button.callback_data,
        message: { message_id: message.message_id, date: 0, chat: { id: chatId, type: chatId < 0 ? 'supergroup' : 'private' }, from: this.me, text: message.text, reply_markup: message.reply_markup },
      },
    });
    return id;
  }

  /** Queues any update (given an update_id if it has none): for odd or malformed payloads. */
  inject(update: Json): void {
    this.updates.push({ update_id: this.nextUpdateId++, ...update });
    for (const p of this.polls) p.flush();
  }

  // ---- playing the service ----

  /** The next `n` calls of `method` answer this failure (e.g. 429 with retry_after). */
  failNext(method: string, failure: ApiFailure, n = 1): void {
    const list = this.failures.get(method) ?? [];
    for (let i = 0; i < n; i++) list.push(failure);
    this.failures.set(method, list);
  }

  /** Every call now answers 401 Unauthorized, as after the token was revoked in BotFather. */
  revoke(): void {
    this.revoked = true;
    for (const p of this.polls) p.flush();
  }

  /** getUpdates now answers 409 Conflict, as when another program polls with the same token. */
  conflict(): void {
    this.conflicting = true;
    for (const p of this.polls) p.flush();
  }

  /** While stalled, getUpdates calls are accepted but never answered (a half-open connection). */
  stall(on: boolean): void {
    this.stalled = on;
    if (!on) for (const p of this.polls) p.flush();
  }

  /** Cuts the connections of the getUpdates calls now waiting, as a network drop would. */
  dropPolls(): number {
    const n = this.polls.size;
    for (const p of [...this.polls]) { this.polls.delete(p); p.socket.destroy(); }
    return n;
  }

  /** How many calls of `method` were made so far. */
  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  /** Resolves with the next message sent to `chat` that the test has not read yet. */
  async nextSent(chat: number | string, timeoutMs = 60_000): Promise<SentMessage> {
    const key = String(chat);
    const index = this.read.get(key) ?? 0;
    const mine = () => this.sent.filter((m) => m.chat_id === key);
    await this.until(() => mine().length > index, timeoutMs, `nothing sent to chat ${key}`);
    this.read.set(key, index + 1);
    return mine()[index];
  }

  /** Waits until `check` holds (re-checked on every call the bot makes, and every 100 ms). */
  async until(check: () => boolean, timeoutMs = 60_000, what = 'the condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 100); });
    }
  }

  // ---- the wire ----

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]);
    const prefix = `/bot${this.token}/`;
    if (req.method === 'GET' && path.startsWith(`/file/bot${this.token}/`)) {
      const file = [...this.files.values()].find((f) => f.path === path.slice(`/file/bot${this.token}/`.length));
      if (!file) return void res.writeHead(404).end('Not Found');
      return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.data.length }).end(file.data);
    }
    if (!path.startsWith('/bot')) return this.answer(res, { ok: false, error_code: 404, description: 'Not Found' });
    if (!path.startsWith(prefix)) return this.answer(res, { ok: false, error_code: 401, description: 'Unauthorized' });
    const method = path.slice(prefix.length);
    const body = await this.body(req);
    this.calls.push({ method, body: summarize(body), at: Date.now() });
    for (const w of this.waiters.splice(0)) w();
    if (this.revoked) return this.answer(res, { ok: false, error_code: 401, description: 'Unauthorized' });
    const failure = this.failures.get(method)?.shift();
    if (failure) {
      const { retry_after, ...rest } = failure;
      return this.answer(res, { ok: false, ...rest, ...(retry_after !== undefined ? { parameters: { retry_after } } : {}) });
    }
    switch (method) {
      case 'getMe': return this.answer(res, { ok: true, result: this.me });
      case 'deleteWebhook': this.webhook = undefined; return this.answer(res, { ok: true, result: true });
      case 'setWebhook': this.webhook = { url: body.url, secret_token: body.secret_token, allowed_updates: body.allowed_updates }; return this.answer(res, { ok: true, result: true });
      case 'getUpdates': return this.getUpdates(req, res, body);
      case 'sendMessage': return this.answer(res, { ok: true, result: this.store(method, body, String(body.text ?? '')) });
      case 'sendDocument': {
        const file = body.document as { name: string; data: Buffer } | undefined;
        if (!file?.data) return this.answer(res, { ok: false, error_code: 400, description: 'Bad Request: there is no document in the request' });
        return this.answer(res, { ok: true, result: this.store(method, body, String(body.caption ?? ''), file) });
      }
      case 'editMessageText': {
        const m = this.sent.find((s) => s.message_id === Number(body.message_id) && s.chat_id === String(body.chat_id));
        if (!m || m.deleted) return this.answer(res, { ok: false, error_code: 400, description: 'Bad Request: message to edit not found' });
        if (m.text === body.text && !body.reply_markup === !m.reply_markup) return this.answer(res, { ok: false, error_code: 400, description: 'Bad Request: message is not modified' });
        m.text = String(body.text);
        m.parse_mode = body.parse_mode;
        m.reply_markup = body.reply_markup;
        m.edits.push(m.text);
        return this.answer(res, { ok: true, result: this.asMessage(m) });
      }
      case 'deleteMessage': {
        const m = this.sent.find((s) => s.message_id === Number(body.message_id) && s.chat_id === String(body.chat_id));
        if (!m || m.deleted) return this.answer(res, { ok: false, error_code: 400, description: 'Bad Request: message to delete not found' });
        m.deleted = true;
        return this.answer(res, { ok: true, result: true });
      }
      case 'sendChatAction': case 'answerCallbackQuery': return this.answer(res, { ok: true, result: true });
      case 'getFile': {
        const file = this.files.get(String(body.file_id));
        if (!file) return this.answer(res, { ok: false, error_code: 400, description: 'Bad Request: invalid file_id' });
        return this.answer(res, { ok: true, result: { file_id: body.file_id, file_unique_id: 'u', file_size: file.data.length, file_path: file.path } });
      }
      default: return this.answer(res, { ok: false, error_code: 404, description: 'Not Found: method not found' });
    }
  }

  private getUpdates(req: IncomingMessage, res: ServerResponse, body: Json): void {
    const offset = Number(body.offset ?? 0);
    // Updates below the offset are confirmed: Telegram forgets them.
    while (this.updates.length && this.updates[0].update_id < offset) this.updates.shift();
    const poll = {
      res, socket: req.socket,
      flush: () => {
        if (res.writableEnded || res.destroyed) return;
        if (this.revoked) return finish({ ok: false, error_code: 401, description: 'Unauthorized' });
        if (this.conflicting) return finish({ ok: false, error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
        if (this.stalled) return;
        const batch = this.updates.filter((u) => u.update_id >= offset).slice(0, Number(body.limit ?? 100));
        if (batch.length) finish({ ok: true, result: batch });
      },
    };
    const timer = setTimeout(() => { if (!this.stalled) finish({ ok: true, result: [] }); }, Math.max(0, Number(body.timeout ?? 0)) * 1000);
    const finish = (payload: Json) => {
      clearTimeout(timer);
      this.polls.delete(poll);
      this.answer(res, payload);
    };
    res.on('close', () => { clearTimeout(timer); this.polls.delete(poll); });
    this.polls.add(poll);
    poll.flush();
  }

  private store(method: string, body: Json, text: string, document?: { name: string; data: Buffer }): Json {
    const m: SentMessage = {
      method, message_id: this.nextMessageId++, chat_id: String(body.chat_id), text, parse_mode: body.parse_mode,
      message_thread_id: body.message_thread_id !== undefined ? Number(body.message_thread_id) : undefined,
      reply_markup: body.reply_markup, document, edits: [],
    };
    this.sent.push(m);
    for (const w of this.waiters.splice(0)) w();
    return this.asMessage(m);
  }

  private asMessage(m: SentMessage): Json {
    const chatId = Number(m.chat_id);
    return {
      message_id: m.message_id, date: Math.floor(Date.now() / 1000), from: this.me,
      chat: chatId < 0 ? { id: chatId, type: 'supergroup', title: 'Group' } : { id: chatId, type: 'private', first_name: 'User' },
      ...(m.message_thread_id ? { message_thread_id: m.message_thread_id } : {}),
      ...(m.document ? { document: { file_id: 'sent', file_unique_id: 'sent', file_name: m.document.name, file_size: m.document.data.length }, caption: m.text } : { text: m.text }),
    };
  }

  private answer(res: ServerResponse, payload: Json): void {
    if (res.writableEnded || res.destroyed) return;
    const status = payload.ok ? 200 : payload.error_code;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  }

  /** The call's parameters: JSON, or multipart/form-data (how grammY sends files). */
  private async body(req: IncomingMessage): Promise<Json> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const type = String(req.headers['content-type'] ?? '');
    if (type.startsWith('multipart/form-data')) return parseMultipart(raw, /boundary=(.+)$/.exec(type)![1]);
    if (!raw.length) return {};
    return JSON.parse(raw.toString('utf8'));
  }
}

/** Entities a Telegram client adds: a leading bot command and @mentions. */
function entitiesOf(text: string): Json[] {
  const entities: Json[] = [];
  const command = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
  if (command) entities.push({ type: 'bot_command', offset: 0, length: command[0].length });
  for (const m of text.matchAll(/(^|\s)(@[A-Za-z0-9_]{5,32})/g)) entities.push({ type: 'mention', offset: m.index! + m[1].length, length: m[2].length });
  return entities;
}

/**
 * grammY's multipart body: fields as JSON text, files as parts named by the
 * `attach://<id>` the field points to (`filename=` unquoted).
 */
function parseMultipart(raw: Buffer, boundary: string): Json {
  const fields: Json = {};
  const parts: Array<{ name: string; filename?: string; data: Buffer }> = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = raw.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (raw.subarray(start, start + 2).toString() === '--') break;
    const next = raw.indexOf(delimiter, start);
    if (next < 0) break;
    const part = raw.subarray(start + 2, next - 2); // skip \r\n after the delimiter, before the next
    const split = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, split).toString('utf8');
    const data = part.subarray(split + 4);
    const name = /name="([^"]+)"/.exec(head)?.[1] ?? '';
    const filename = /filename=("?)([^\r\n"]*)\1/.exec(head)?.[2];
    parts.push({ name, filename, data });
    pos = next;
  }
  for (const p of parts) {
    if (p.filename !== undefined) continue;
    const text = p.data.toString('utf8');
    try { fields[p.name] = JSON.parse(text); } catch { fields[p.name] = text; }
  }
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value !== 'string' || !value.startsWith('attach://')) continue;
    const file = parts.find((p) => p.name === value.slice('attach://'.length));
    if (file) fields[key] = { name: file.filename ?? '', data: file.data };
  }
  return fields;
}

/** A call's parameters for `calls`: file bytes replaced by their size. */
function summarize(body: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(body)) out[k] = v && typeof v === 'object' && Buffer.isBuffer(v.data) ? { name: v.name, size: v.data.length } : v;
  return out;
}
