import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** A Discord user as the stand-in sends it in payloads. */
export interface StandinUser { id: string; username: string; globalName?: string; bot?: boolean }

/** A message the bot posted (POST /channels/:id/messages), with the files it uploaded. */
export interface BotMessage {
  id: string;
  channelId: string;
  content: string;
  files: Array<{ name: string; data: Buffer }>;
  components: Array<{ type: number; components: Array<{ type: number; custom_id: string; label: string; style: number }> }>;
  body: Record<string, any>;
  at: number;
}

/** A scripted REST answer for the next message POSTs: a status, an optional JSON body and headers. */
export interface StandinFailure { status: number; body?: unknown; headers?: Record<string, string> }

interface Session { id: string; seq: number; events: Array<{ s: number; payload: unknown }>; socket?: WebSocket }

/** Discord's epoch: snowflakes count milliseconds from 2015-01-01. */
const DISCORD_EPOCH = 1420070400000n;
/** The Message Content intent bit: privileged, refused with 4014 when the application does not have it. */
const MESSAGE_CONTENT_INTENT = 1 << 15;
const FLAG_MESSAGE_CONTENT = 1 << 19;

/**
 * A local Discord for tests, speaking the real wire protocol to the real
 * discord.js: REST under `/api/v10` (gateway/bot, users/@me,
 * applications/@me, channel messages as JSON or multipart with files, edits,
 * deletes, typing, interaction callbacks) and the gateway websocket (HELLO,
 * IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME → replay + RESUMED,
 * dispatches, close codes 4004 and 4014). Frames are plain JSON (no
 * zlib-sync installed). It records what the bot sent and lets a test play
 * users: messages in DMs, server channels and threads, with attachments, and
 * button taps.
 *
 *   const discord = await DiscordStandin.start();
 *   // config: channels.discord.apiBaseUrl = discord.apiBaseUrl; env DISCORD_BOT_TOKEN = discord.token
 *   discord.dm({ id: '111', username: 'ann' }, 'hello');
 *   const reply = await discord.nextMessage(discord.dmChannelOf('111'));  // { content: 'Echo: hello', … }
 */
export class DiscordStandin {
  /** The token the bot must present ("Bot <token>" on REST, in IDENTIFY and RESUME). */
  token = 'MTAwMDAwMDAwMDAwMDAwMDAx.GsTand.in0000000000000000000000000000000';
  /** The bot's own user (READY, users/@me). */
  readonly bot: StandinUser = { id: '1000000000000000001', username: 'nanoclaw', bot: true };
  readonly applicationId = '1000000000000000001';
  readonly guildId = '2000000000000000001';
  /** Whether the application has the Message Content intent enabled; false makes IDENTIFY with it close 4014. */
  messageContentEnabled = true;
  /** Heartbeat interval sent in HELLO: short, so a silent connection shows within seconds. */
  heartbeatIntervalMs = 1000;

  readonly sent: BotMessage[] = [];
  readonly edits: Array<{ channelId: string; messageId: string; content: string }> = [];
  readonly deletes: Array<{ channelId: string; messageId: string }> = [];
  readonly typing: string[] = [];
  readonly callbacks: Array<{ interactionId: string; token: string; body: any }> = [];
  /** Every message POST, including refused ones, with when it came. */
  readonly messageAttempts: Array<{ channelId: string; status: number; at: number }> = [];
  /** Attachment downloads served, by file name. */
  readonly downloads: string[] = [];
  /** Gateway counters: websocket connections, IDENTIFYs, RESUMEs, GET /gateway/bot. */
  readonly counts = { connections: 0, identifies: 0, resumes: 0, gatewayBot: 0 };

  private readonly channels = new Map<string, { id: string; type: number; parentId?: string }>();
  private readonly files = new Map<string, { name: string; data: Buffer }>();
  private readonly failures: StandinFailure[] = [];
  private readonly read = new Map<string, number>();
  private waiters: Array<() => void> = [];
  private session?: Session;
  private hangs = 0;
  private idCounter = 0n;
  private wss!: WebSocketServer;

  private constructor(private readonly server: Server) {}

  /** Starts the stand-in on a free loopback port. */
  static async start(): Promise<DiscordStandin> {
    const server = createServer();
    const standin = new DiscordStandin(server);
    standin.wss = new WebSocketServer({ noServer: true });
    server.on('request', (req, res) => { standin.rest(req, res).catch((err) => { res.statusCode = 500; res.end(String(err)); }); });
    server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/gateway')) { socket.destroy(); return; }
      standin.wss.handleUpgrade(req, socket, head, (ws) => standin.gateway(ws));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return standin;
  }

  get origin(): string { return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`; }
  /** What `channels.discord.apiBaseUrl` is set to. */
  get apiBaseUrl(): string { return `${this.origin}/api`; }

  /** A new snowflake, increasing with time as Discord's are. */
  snowflake(): string {
    return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) + (this.idCounter++ % 4096n)).toString();
  }

  /** A server text channel (type 0) of the stand-in's guild; announced to a connected bot with CHANNEL_CREATE. */
  addTextChannel(id: string): void {
    this.channels.set(id, { id, type: 0 });
    this.dispatch('CHANNEL_CREATE', this.channelPayload(id));
  }

  /** A public thread (type 11) under a text channel; announced with THREAD_CREATE. */
  addThread(id: string, parentId: string): void {
    this.channels.set(id, { id, type: 11, parentId });
    this.dispatch('THREAD_CREATE', { ...this.channelPayload(id), newly_created: true });
  }

  /** The DM channel between the bot and a user (one per user, as on Discord). */
  dmChannelOf(userId: string): string {
    return `3${userId.slice(1)}`;
  }

  /** Makes the next message POSTs answer these (a 429 with Retry-After, a 403 with a Discord code…), one each. */
  failNextSends(...failures: StandinFailure[]): void {
    this.failures.push(...failures);
  }

  /** Serves a file the way Discord's CDN does, and returns its attachment object for a message. */
  attachment(name: string, data: Buffer, announcedSize = data.length): Record<string, unknown> {
    const id = this.snowflake();
    this.files.set(id, { name, data });
    return { id, filename: name, size: announcedSize, url: `${this.origin}/attachments/${id}/${encodeURIComponent(name)}`, proxy_url: `${this.origin}/attachments/${id}/${encodeURIComponent(name)}`, content_type: 'application/octet-stream' };
  }

  /** A user writes to the bot in a DM; returns the message id. */
  dm(user: StandinUser, content: string, extra: { attachments?: unknown[] } = {}): string {
    return this.userMessage({ channelId: this.dmChannelOf(user.id), author: user, content, ...extra });
  }

  /**
   * A user writes in a channel: a DM (`channel_type` 1), or a server channel
   * or thread added with `addTextChannel`/`addThread`. `mentionBot` puts
   * `<@bot>` in front and lists the bot in `mentions`, as Discord does.
   */
  userMessage(m: { channelId: string; author: StandinUser; content: string; mentionBot?: boolean; nick?: string; attachments?: unknown[] }): string {
    const id = this.snowflake();
    const known = this.channels.get(m.channelId);
    const content = m.mentionBot ? `<@${this.bot.id}> ${m.content}` : m.content;
    this.dispatch('MESSAGE_CREATE', {
      id, channel_id: m.channelId, ...(known ? { guild_id: this.guildId, member: { nick: m.nick ?? null, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 } } : {}),
      channel_type: known ? known.type : 1,
      author: this.userPayload(m.author), content, timestamp: new Date().toISOString(), edited_timestamp: null, tts: false,
      mention_everyone: false, mentions: m.mentionBot ? [this.userPayload(this.bot)] : [], mention_roles: [], attachments: m.attachments ?? [],
      embeds: [], pinned: false, type: 0, flags: 0, components: [],
    });
    return id;
  }

  /** A user taps a button of a message the bot sent; returns the interaction id. */
  tap(message: BotMessage, customId: string, user: StandinUser): string {
    const id = this.snowflake();
    const known = this.channels.get(message.channelId);
    this.dispatch('INTERACTION_CREATE', {
      id, application_id: this.applicationId, type: 3, token: `itoken-${id}`, version: 1,
      data: { custom_id: customId, component_type: 2 },
      channel_id: message.channelId, channel: known ? this.channelPayload(message.channelId) : { id: message.channelId, type: 1 },
      ...(known ? { guild_id: this.guildId, member: { user: this.userPayload(user), roles: [], joined_at: new Date().toISOString(), permissions: '0', deaf: false, mute: false, flags: 0 } } : { user: this.userPayload(user) }),
      message: this.messagePayload(message), app_permissions: '0', locale: 'en-US', entitlements: [], authorizing_integration_owners: {}, context: known ? 0 : 1,
      attachment_size_limit: 10 * 1024 * 1024,
    });
    return id;
  }

  /** Sends any gateway dispatch as it is (for malformed or unknown events). */
  dispatch(t: string, d: unknown): void {
    const session = this.session;
    if (!session) return;
    const s = ++session.seq;
    const payload = { op: 0, t, s, d };
    session.events.push({ s, payload });
    if (session.socket?.readyState === 1) session.socket.send(JSON.stringify(payload));
  }

  /** Resolves with the next message the bot posts to `channelId` that this test has not read yet. */
  async nextMessage(channelId: string, timeoutMs = 60_000): Promise<BotMessage> {
    const index = this.read.get(channelId) ?? 0;
    const deadline = Date.now() + timeoutMs;
    while (this.sent.filter((m) => m.channelId === channelId).length <= index) {
      if (Date.now() > deadline) throw new Error(`the bot sent nothing to channel ${channelId} within ${timeoutMs} ms (sent so far: ${JSON.stringify(this.sent.map((m) => [m.channelId, m.content.slice(0, 60)]))})`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 200); });
    }
    this.read.set(channelId, index + 1);
    return this.sent.filter((m) => m.channelId === channelId)[index];
  }

  /** Resolves with the first message the bot posted (or posts) to `channelId` that matches. */
  async messageMatching(channelId: string, match: (m: BotMessage) => boolean, timeoutMs = 60_000): Promise<BotMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.sent.find((m) => m.channelId === channelId && match(m));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching message from the bot in channel ${channelId} within ${timeoutMs} ms (sent there: ${JSON.stringify(this.sent.filter((m) => m.channelId === channelId).map((m) => m.content.slice(0, 80)))})`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 200); });
    }
  }

  /** Resolves once the bot has a live gateway session (READY or RESUMED sent on an open socket). */
  async connected(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.session?.socket?.readyState === 1 && this.ready)) {
      if (Date.now() > deadline) throw new Error(`the bot did not connect to the gateway within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  private ready = false;

  /** Cuts the gateway connection without a close frame, as a network drop does (the bot should RESUME). */
  dropConnection(): void {
    this.ready = false;
    this.session?.socket?.terminate();
  }

  /** The next `n` websocket connections are accepted but get no HELLO: a gateway that stalls. */
  hangNext(n: number): void { this.hangs += n; }

  /** The token stops working: REST answers 401, IDENTIFY and RESUME close with 4004. */
  revokeToken(): void { this.token = `${this.token}-revoked`; }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- the gateway websocket ----

  private gateway(ws: WebSocket): void {
    this.counts.connections++;
    if (this.hangs > 0) { this.hangs--; return; }
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs }, s: null, t: null }));
    ws.on('message', (raw) => {
      let msg: { op: number; d: any };
      try { msg = JSON.parse(String(raw)); } catch { ws.close(4002, 'Error while decoding payload.'); return; }
      if (msg.op === 1) ws.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
      else if (msg.op === 2) this.identify(ws, msg.d);
      else if (msg.op === 6) this.resume(ws, msg.d);
    });
  }

  private identify(ws: WebSocket, d: { token?: string; intents?: number }): void {
    this.counts.identifies++;
    if (d?.token !== this.token) { ws.close(4004, 'Authentication failed.'); return; }
    if (((d.intents ?? 0) & MESSAGE_CONTENT_INTENT) && !this.messageContentEnabled) { ws.close(4014, 'Disallowed intent(s).'); return; }
    if (this.session?.socket && this.session.socket !== ws) this.session.socket.terminate();
    this.session = { id: `session-${this.snowflake()}`, seq: 0, events: [], socket: ws };
    this.ready = true;
    this.dispatch('READY', {
      v: 10, user: this.userPayload(this.bot), guilds: [{ id: this.guildId, unavailable: true }], session_id: this.session.id,
      resume_gateway_url: `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/gateway`, shard: [0, 1],
      application: { id: this.applicationId, flags: this.messageContentEnabled ? FLAG_MESSAGE_CONTENT : 0 },
    });
    this.dispatch('GUILD_CREATE', this.guildPayload());
  }

  private resume(ws: WebSocket, d: { token?: string; session_id?: string; seq?: number }): void {
    this.counts.resumes++;
    if (d?.token !== this.token) { ws.close(4004, 'Authentication failed.'); return; }
    const session = this.session;
    if (!session || session.id !== d.session_id) { ws.send(JSON.stringify({ op: 9, d: false, s: null, t: null })); return; }
    session.socket = ws;
    for (const e of session.events) if (e.s > (d.seq ?? 0)) ws.send(JSON.stringify(e.payload));
    this.ready = true;
    this.dispatch('RESUMED', {});
  }

  // ---- REST ----

  private async rest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const body = await new Promise<Buffer>((resolve) => { const parts: Buffer[] = []; req.on('data', (c) => parts.push(c)); req.on('end', () => resolve(Buffer.concat(parts))); });
    const json = (status: number, value?: unknown, headers: Record<string, string> = {}) => {
      // Like Discord: a 204 carries no body and no content type (a client that parsed it as JSON would fail).
      res.writeHead(status, { ...(status === 204 ? {} : { 'content-type': 'application/json' }), ...headers });
      res.end(value === undefined ? undefined : JSON.stringify(value));
    };
    const file = /^\/attachments\/(\d+)\/[^/]+$/.exec(url.pathname);
    if (file && req.method === 'GET') {
      const f = this.files.get(file[1]);
      if (!f) return json(404, { message: 'Not Found' });
      this.downloads.push(f.name);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(f.data);
      return;
    }
    if (!url.pathname.startsWith('/api/v10/')) return json(404, { message: '404: Not Found', code: 0 });
    const route = url.pathname.slice('/api/v10'.length);
    const callback = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(route);
    if (callback && req.method === 'POST') {
      this.callbacks.push({ interactionId: callback[1], token: callback[2], body: JSON.parse(body.toString() || '{}') });
      return json(204);
    }
    if (req.headers.authorization !== `Bot ${this.token}`) return json(401, { message: '401: Unauthorized', code: 0 });
    if (route === '/gateway/bot' && req.method === 'GET') {
      this.counts.gatewayBot++;
      return json(200, { url: `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/gateway`, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 86_400_000, max_concurrency: 1 } });
    }
    if (route === '/users/@me' && req.method === 'GET') return json(200, { ...this.userPayload(this.bot), verified: true, mfa_enabled: false, flags: 0 });
    if (route === '/applications/@me' && req.method === 'GET') return json(200, { id: this.applicationId, name: 'NanoClaw test', flags: this.messageContentEnabled ? FLAG_MESSAGE_CONTENT : 0, bot_public: false });
    const messages = /^\/channels\/(\d+)\/messages$/.exec(route);
    if (messages && req.method === 'POST') return this.postMessage(messages[1], req, body, json);
    const one = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(route);
    if (one && req.method === 'PATCH') {
      this.edits.push({ channelId: one[1], messageId: one[2], content: JSON.parse(body.toString()).content });
      return json(200, { id: one[2], channel_id: one[1], content: JSON.parse(body.toString()).content });
    }
    if (one && req.method === 'DELETE') { this.deletes.push({ channelId: one[1], messageId: one[2] }); return json(204); }
    const typing = /^\/channels\/(\d+)\/typing$/.exec(route);
    if (typing && req.method === 'POST') { this.typing.push(typing[1]); return json(204); }
    return json(404, { message: `no route ${req.method} ${route} in the stand-in`, code: 0 });
  }

  private async postMessage(channelId: string, req: IncomingMessage, body: Buffer, json: (status: number, value?: unknown, headers?: Record<string, string>) => void): Promise<void> {
    const failure = this.failures.shift();
    this.messageAttempts.push({ channelId, status: failure?.status ?? 200, at: Date.now() });
    if (failure) return json(failure.status, failure.body ?? { message: 'failed', code: 0 }, failure.headers);
    let payload: Record<string, any>;
    const files: BotMessage['files'] = [];
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) {
      const form = await new Request('http://standin/', { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(body) }).formData();
      payload = JSON.parse(String(form.get('payload_json') ?? '{}'));
      for (const [key, value] of form.entries()) {
        if (key.startsWith('files[') && typeof value !== 'string') files.push({ name: value.name, data: Buffer.from(await value.arrayBuffer()) });
      }
    } else {
      payload = JSON.parse(body.toString() || '{}');
    }
    if (typeof payload.content === 'string' && payload.content.length > 2000) {
      return json(400, { message: 'Invalid Form Body', code: 50035, errors: { content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] } } });
    }
    const message: BotMessage = { id: this.snowflake(), channelId, content: payload.content ?? '', files, components: payload.components ?? [], body: payload, at: Date.now() };
    this.sent.push(message);
    for (const w of this.waiters.splice(0)) w();
    json(200, this.messagePayload(message));
  }

  // ---- payloads ----

  private userPayload(u: StandinUser) {
    return { id: u.id, username: u.username, global_name: u.globalName ?? null, discriminator: '0', avatar: null, ...(u.bot ? { bot: true } : {}) };
  }

  private channelPayload(id: string) {
    const c = this.channels.get(id)!;
    return c.type === 11
      ? { id, type: 11, guild_id: this.guildId, parent_id: c.parentId, name: `thread-${id.slice(-4)}`, owner_id: '1', message_count: 0, member_count: 1, rate_limit_per_user: 0, thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false } }
      : { id, type: 0, guild_id: this.guildId, name: `channel-${id.slice(-4)}`, position: 0, permission_overwrites: [], nsfw: false, parent_id: null, rate_limit_per_user: 0 };
  }

  private guildPayload() {
    const all = [...this.channels.keys()];
    return {
      id: this.guildId, name: 'Stand-in server', icon: null, owner_id: '1', afk_timeout: 300, verification_level: 0, default_message_notifications: 0,
      explicit_content_filter: 0, roles: [{ id: this.guildId, name: '@everyone', permissions: '68608', position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 }],
      emojis: [], stickers: [], features: [], mfa_level: 0, system_channel_flags: 0, premium_tier: 0, preferred_locale: 'en-US', nsfw_level: 0,
      joined_at: new Date().toISOString(), large: false, unavailable: false, member_count: 2, voice_states: [], members: [], presences: [], stage_instances: [], guild_scheduled_events: [],
      channels: all.filter((id) => this.channels.get(id)!.type !== 11).map((id) => this.channelPayload(id)),
      threads: all.filter((id) => this.channels.get(id)!.type === 11).map((id) => this.channelPayload(id)),
    };
  }

  private messagePayload(m: BotMessage) {
    return {
      id: m.id, channel_id: m.channelId, author: this.userPayload(this.bot), content: m.content, timestamp: new Date(m.at).toISOString(), edited_timestamp: null,
      tts: false, mention_everyone: false, mentions: [], mention_roles: [], embeds: [], pinned: false, type: 0, flags: 0, components: m.components,
      attachments: m.files.map((f, i) => ({ id: `${m.id.slice(0, -2)}${i}`, filename: f.name, size: f.data.length, url: `${this.origin}/x`, proxy_url: `${this.origin}/x` })),
    };
  }
}
