import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** A message (or edit, deletion, ephemeral note) the bot sent through the Web API. */
export interface SlackPosted {
  method: 'chat.postMessage' | 'chat.update' | 'chat.delete' | 'chat.postEphemeral';
  channel: string;
  ts: string;
  text: string;
  thread_ts?: string;
  user?: string;
  blocks?: any[];
}

/** A file the bot uploaded (files.getUploadURLExternal, the upload, files.completeUploadExternal). */
export interface SlackUpload { id: string; filename: string; data: Buffer; channel?: string; thread_ts?: string }

/** A file shared by a user, as it appears in an event's `files`. */
export interface SlackFileObject { id: string; name: string; size: number; mimetype: string; mode: 'hosted'; url_private: string; url_private_download: string }

/** What the next call of a method answers instead of succeeding. */
export type SlackFailure = { status: 429; retryAfter: number } | { status: number } | { error: string };

/**
 * A local Slack for tests, speaking Slack's real wire protocols to the real SDK:
 * - the Web API under `/api/` (form-urlencoded POSTs, bearer tokens, JSON answers `{ok: ...}`,
 *   429 with Retry-After): auth.test, apps.connections.open, chat.postMessage/update/delete/
 *   postEphemeral, users.info, files.getUploadURLExternal/completeUploadExternal (plus the
 *   upload URL itself, multipart), and downloads of files users "shared" (`hostFile`), which
 *   need the bot token;
 * - Socket Mode: apps.connections.open hands out a ws:// URL; each socket gets `hello`, then the
 *   envelopes a test injects (`events_api`, `interactive`), and records the acks.
 * Point the channel at it with `channels.slack.apiBaseUrl: standin.apiUrl`.
 *
 *   const slack = await SlackStandIn.start();
 *   const { acked } = slack.userSays({ user: 'U1', channel: 'D1', text: 'hi' });
 *   const reply = await slack.nextMessage((m) => m.channel === 'D1'); await acked;
 */
export class SlackStandIn {
  static readonly BOT_USER = 'UBOT0001';
  static readonly BOT_ID = 'BBOT0001';
  /** Every Web API call, in order, with its form fields and the status it got. */
  readonly calls: Array<{ method: string; params: Record<string, string>; token?: string; status: number; at: number }> = [];
  readonly posted: SlackPosted[] = [];
  readonly uploads: SlackUpload[] = [];
  /** Downloads of hosted files, with the Authorization header they carried. */
  readonly downloads: Array<{ id: string; authorization?: string }> = [];
  /** Acknowledgements the bot sent, by envelope id. */
  readonly acks = new Map<string, unknown>();
  botToken = 'xoxb-test';
  appToken = 'xapp-test';
  readonly revoked = new Set<string>();
  readonly users = new Map<string, { name: string; real_name: string; display_name: string }>();
  private readonly files = new Map<string, { name: string; data: Buffer }>();
  private readonly pendingUploads = new Map<string, { filename: string; data?: Buffer }>();
  private readonly failures = new Map<string, SlackFailure[]>();
  private readonly sockets = new Set<WebSocket>();
  private readonly stalled = new Set<WebSocket>();
  private readonly waiters: Array<() => void> = [];
  private connectionCount = 0;
  private seq = 0;

  private constructor(private readonly server: http.Server, private readonly wss: WebSocketServer) {}

  static async start(): Promise<SlackStandIn> {
    const server = http.createServer();
    const wss = new WebSocketServer({ noServer: true });
    const standin = new SlackStandIn(server, wss);
    server.on('request', (req, res) => void standin.handle(req, res));
    server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/socket')) return socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => standin.accept(ws));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return standin;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** What `channels.slack.apiBaseUrl` is set to. */
  get apiUrl(): string {
    return `${this.origin}/api/`;
  }

  /** Socket Mode connections opened so far (a reconnect makes it grow). */
  get connections(): number {
    return this.connectionCount;
  }

  /** Sockets open now. */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** The next `method` call answers this instead (one per call, in order). */
  failNext(method: string, ...failures: SlackFailure[]): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...failures]);
  }

  /** A fresh message ts, as Slack writes them ("<seconds>.<micro>"). */
  nextTs(): string {
    this.seq += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.seq).padStart(6, '0')}`;
  }

  /** A file a user "uploaded": an event can carry the returned object, and the bot downloads it from here. */
  hostFile(name: string, data: Buffer, opts: { declaredSize?: number } = {}): SlackFileObject {
    const id = `F${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;
    this.files.set(id, { name, data });
    const url = `${this.origin}/files-pri/${id}/${encodeURIComponent(name)}`;
    return { id, name, size: opts.declaredSize ?? data.length, mimetype: 'application/octet-stream', mode: 'hosted', url_private: url, url_private_download: `${url}?download=1` };
  }

  /**
   * A user writes in Slack: a `message` event (an `app_mention` too with `alsoAppMention`) in an
   * events_api envelope on every open socket. `acked` resolves when the bot acknowledged it.
   */
  userSays(opts: { user: string; channel: string; text: string; ts?: string; thread_ts?: string; channel_type?: 'im' | 'channel' | 'group' | 'mpim'; files?: SlackFileObject[]; subtype?: string; bot_id?: string; alsoAppMention?: boolean }): { ts: string; acked: Promise<unknown> } {
    const ts = opts.ts ?? this.nextTs();
    const channel_type = opts.channel_type ?? (opts.channel.startsWith('D') ? 'im' : 'channel');
    const event: Record<string, unknown> = {
      type: 'message', user: opts.user, text: opts.text, ts, channel: opts.channel, channel_type, event_ts: ts,
      ...(opts.thread_ts ? { thread_ts: opts.thread_ts } : {}),
      ...(opts.files ? { files: opts.files, subtype: 'file_share' } : {}),
      ...(opts.subtype ? { subtype: opts.subtype } : {}),
      ...(opts.bot_id ? { bot_id: opts.bot_id } : {}),
    };
    const acked = this.injectEvent(event);
    if (opts.alsoAppMention) {
      const { channel_type: _, subtype: __, ...rest } = event;
      void this.injectEvent({ ...rest, type: 'app_mention' });
    }
    return { ts, acked };
  }

  /** Any Events API event in an envelope (also malformed ones); resolves with the ack's payload. */
  injectEvent(event: unknown): Promise<unknown> {
    return this.injectEnvelope({ type: 'events_api', accepts_response_payload: false, retry_attempt: 0, retry_reason: '', payload: { type: 'event_callback', team_id: 'T0TEAM', api_app_id: 'A0APP', event, event_id: `Ev${this.seq++}`, event_time: Math.floor(Date.now() / 1000) } });
  }

  /** A raw envelope (any type); an `envelope_id` is added. Resolves when the bot acknowledged it. */
  injectEnvelope(envelope: Record<string, unknown>): Promise<unknown> {
    const envelope_id = randomUUID();
    this.sendFrame(JSON.stringify({ envelope_id, ...envelope }));
    return this.until(() => this.acks.has(envelope_id), `envelope ${envelope_id} acknowledged`).then(() => this.acks.get(envelope_id));
  }

  /** A raw text frame on every open socket (say, something that is not JSON). */
  sendFrame(frame: string): void {
    if (this.sockets.size === 0) throw new Error('no Socket Mode connection is open');
    for (const ws of this.sockets) ws.send(frame);
  }

  /** A user taps button `index` of a message the bot posted with buttons (a block_actions payload over Socket Mode). */
  tap(message: SlackPosted, index: number, user: string): Promise<unknown> {
    const buttons = (message.blocks ?? []).filter((b) => b.type === 'actions').flatMap((b) => b.elements.map((e: any) => ({ ...e, block_id: b.block_id })));
    const button = buttons[index];
    if (!button) throw new Error(`message ${message.ts} has no button ${index}`);
    return this.injectEnvelope({
      type: 'interactive', accepts_response_payload: false,
      payload: {
        type: 'block_actions', user: { id: user, username: user, team_id: 'T0TEAM' }, api_app_id: 'A0APP', trigger_id: 'trig',
        container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false, ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}) },
        channel: { id: message.channel, name: 'chat' },
        message: { type: 'message', ts: message.ts, text: message.text, blocks: message.blocks, ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}) },
        actions: [{ type: 'button', action_id: button.action_id, block_id: button.block_id, text: button.text, value: button.value, action_ts: this.nextTs() }],
      },
    });
  }

  /** Closes every Socket Mode connection: with a `disconnect` envelope first (Slack's own way), or by just dropping the socket. */
  drop(how: 'disconnect' | 'terminate' = 'terminate'): void {
    for (const ws of this.sockets) {
      if (how === 'disconnect') ws.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'standin' } }));
      else ws.terminate();
    }
  }

  /** Stops reading every open socket, as a Slack that hangs would: no pongs, no acks, nothing closes. */
  stall(): void {
    for (const ws of this.sockets) { ws.pause(); this.stalled.add(ws); }
    this.sockets.clear();
  }

  /** Waits for the next posted message (chat.postMessage) matching `match`, counting from `from` (default: now). */
  async nextMessage(match: (m: SlackPosted) => boolean = () => true, opts: { from?: number; timeoutMs?: number; method?: SlackPosted['method'] } = {}): Promise<SlackPosted> {
    const from = opts.from ?? this.posted.length;
    const method = opts.method ?? 'chat.postMessage';
    const find = () => this.posted.slice(from).find((m) => m.method === method && match(m));
    await this.until(() => find() !== undefined, `a ${method} matching ${match}`, opts.timeoutMs ?? 60_000);
    return find()!;
  }

  /** Resolves once `check` holds (re-checked on every call and frame), or fails naming `what`. */
  until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { remove(); reject(new Error(`slack stand-in: timed out waiting for ${what}`)); }, timeoutMs);
      const waiter = () => { if (check()) { clearTimeout(timer); remove(); resolve(); } };
      const remove = () => { const i = this.waiters.indexOf(waiter); if (i >= 0) this.waiters.splice(i, 1); };
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    for (const ws of [...this.sockets, ...this.stalled]) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  private accept(ws: WebSocket): void {
    this.connectionCount += 1;
    this.sockets.add(ws);
    ws.on('message', (data) => {
      try {
        const msg = JSON.parse(String(data));
        if (typeof msg?.envelope_id === 'string') this.acks.set(msg.envelope_id, msg.payload);
      } catch { /* not an ack */ }
      this.notify();
    });
    ws.on('close', () => { this.sockets.delete(ws); this.notify(); });
    ws.on('error', () => {});
    ws.send(JSON.stringify({ type: 'hello', num_connections: this.sockets.size, debug_info: { host: 'standin', approximate_connection_time: 18060 }, connection_info: { app_id: 'A0APP' } }));
    this.notify();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const auth = req.headers.authorization;
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);

    if (req.method === 'GET' && url.pathname.startsWith('/files-pri/')) {
      const id = url.pathname.split('/')[2];
      this.downloads.push({ id, authorization: auth });
      this.notify();
      const file = this.files.get(id);
      if (!file || auth !== `Bearer ${this.botToken}`) return void res.writeHead(404).end('not found');
      return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(file.data.length) }).end(file.data);
    }
    if (req.method === 'POST' && url.pathname.startsWith('/upload/')) {
      const id = url.pathname.split('/')[2];
      const pending = this.pendingUploads.get(id);
      if (!pending) return void res.writeHead(404).end('no such upload');
      const form = await new Response(raw, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      const file = [...form.values()].find((v): v is File => typeof v !== 'string');
      pending.data = file ? Buffer.from(await file.arrayBuffer()) : raw;
      return void res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${pending.data.length}`);
    }
    if (req.method !== 'POST' || !url.pathname.startsWith('/api/')) return void res.writeHead(404).end('not found');

    const method = url.pathname.slice('/api/'.length);
    const type = req.headers['content-type'] ?? '';
    const params: Record<string, string> = type.startsWith('application/json')
      ? JSON.parse(raw.toString() || '{}')
      : Object.fromEntries(new URLSearchParams(raw.toString()));
    const token = auth?.replace(/^Bearer /, '') ?? params.token;
    const call = { method, params, token, status: 200, at: Date.now() };
    this.calls.push(call);
    const reply = (status: number, body: unknown, headers?: Record<string, string>) => { call.status = status; json(status, body, headers); this.notify(); };

    const failure = this.failures.get(method)?.shift();
    if (failure) {
      if ('error' in failure) return reply(200, { ok: false, error: failure.error });
      if ('retryAfter' in failure) return reply(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(failure.retryAfter) });
      return reply(failure.status, { ok: false, error: 'fatal_error' });
    }
    if (!token) return reply(200, { ok: false, error: 'not_authed' });
    if (this.revoked.has(token)) return reply(200, { ok: false, error: 'token_revoked' });
    if (method === 'apps.connections.open') {
      if (token !== this.appToken) return reply(200, { ok: false, error: token.startsWith('xoxb-') ? 'not_allowed_token_type' : 'invalid_auth' });
      return reply(200, { ok: true, url: `${this.origin.replace('http', 'ws')}/socket?ticket=${randomUUID()}&app_id=A0APP` });
    }
    if (token !== this.botToken) return reply(200, { ok: false, error: 'invalid_auth' });

    switch (method) {
      case 'auth.test':
        return reply(200, { ok: true, url: 'https://standin.slack.test/', team: 'Stand-in Team', user: 'nanoclaw', team_id: 'T0TEAM', user_id: SlackStandIn.BOT_USER, bot_id: SlackStandIn.BOT_ID, is_enterprise_install: false });
      case 'users.info': {
        const u = this.users.get(params.user);
        if (!u) return reply(200, { ok: false, error: 'user_not_found' });
        return reply(200, { ok: true, user: { id: params.user, team_id: 'T0TEAM', name: u.name, real_name: u.real_name, profile: { display_name: u.display_name, real_name: u.real_name } } });
      }
      case 'chat.postMessage':
      case 'chat.postEphemeral': {
        if (!params.channel) return reply(200, { ok: false, error: 'channel_not_found' });
        if (!params.text && !params.blocks) return reply(200, { ok: false, error: 'no_text' });
        if ((params.text ?? '').length > 40_000) return reply(200, { ok: false, error: 'msg_too_long' });
        const ts = this.nextTs();
        this.posted.push({ method, channel: params.channel, ts, text: params.text ?? '', ...(params.thread_ts ? { thread_ts: params.thread_ts } : {}), ...(params.user ? { user: params.user } : {}), ...(params.blocks ? { blocks: JSON.parse(params.blocks) } : {}) });
        return reply(200, method === 'chat.postMessage' ? { ok: true, channel: params.channel, ts, message: { type: 'message', text: params.text, user: SlackStandIn.BOT_USER, bot_id: SlackStandIn.BOT_ID, ts } } : { ok: true, message_ts: ts });
      }
      case 'chat.update':
      case 'chat.delete': {
        const original = this.posted.find((m) => m.method === 'chat.postMessage' && m.ts === params.ts && m.channel === params.channel);
        if (!original) return reply(200, { ok: false, error: 'message_not_found' });
        this.posted.push({ method, channel: params.channel, ts: params.ts, text: params.text ?? '', ...(original.thread_ts ? { thread_ts: original.thread_ts } : {}), ...(params.blocks ? { blocks: JSON.parse(params.blocks) } : {}) });
        return reply(200, { ok: true, channel: params.channel, ts: params.ts, text: params.text });
      }
      case 'files.getUploadURLExternal': {
        const id = `F${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`;
        this.pendingUploads.set(id, { filename: params.filename });
        return reply(200, { ok: true, upload_url: `${this.origin}/upload/${id}`, file_id: id });
      }
      case 'files.completeUploadExternal': {
        const files = JSON.parse(params.files ?? '[]') as Array<{ id: string; title?: string }>;
        const done = [];
        for (const f of files) {
          const pending = this.pendingUploads.get(f.id);
          if (!pending?.data) return reply(200, { ok: false, error: 'file_not_found' });
          this.pendingUploads.delete(f.id);
          this.uploads.push({ id: f.id, filename: pending.filename, data: pending.data, channel: params.channel_id, ...(params.thread_ts ? { thread_ts: params.thread_ts } : {}) });
          done.push({ id: f.id, name: pending.filename, title: f.title ?? pending.filename, size: pending.data.length });
        }
        return reply(200, { ok: true, files: done });
      }
      default:
        return reply(200, { ok: false, error: 'unknown_method' });
    }
  }
}
