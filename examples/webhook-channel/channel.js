import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { z } from 'zod';
// The helpers and the error class come from the NanoClaw install the plugin
// runs in (its compiled files), so `instanceof DeliveryError` holds in the core.
import { DeliveryError } from '../../dist/src/channels/channel.js';
import { formatForChannel } from '../../dist/src/channels/format/index.js';

/** What a POST to the listener carries. `id` (optional) lets a retried POST be recognised and not run twice. */
const Inbound = z.strictObject({
  chat: z.string().min(1).max(256),
  sender: z.string().min(1).max(256),
  text: z.string().max(64 * 1024),
  id: z.string().min(1).max(256).optional(),
  senderName: z.string().max(128).optional(),
});

/**
 * A webhook as a channel: `POST <path>` with `Authorization: Bearer <secret>`
 * and `{chat, sender, text}` files a message (answered 202 once it is stored,
 * so the caller may forget it); each reply part is POSTed to `callbackUrl`
 * as `{chat, kind, text, part, parts, outboundId}` with the same bearer.
 * Senders are not trusted: they go through pairing like any chat service's.
 *
 *   const ch = new WebhookChannel({ name: 'webhook', host: '127.0.0.1', port: 8787, path: '/webhook', callbackUrl, secret, ... });
 */
export class WebhookChannel {
  trusted = false;

  /** @param {{ name: string, host: string, port: number, path: string, callbackUrl: string, secret: string, maxBodyBytes: number, maxMessageLength: number, timeoutMs: number, log: { info(m: string): void, warn(m: string): void } }} opts */
  constructor(opts) {
    this.opts = opts;
    this.name = opts.name;
    this.capabilities = {
      maxMessageLength: opts.maxMessageLength, dialect: 'plain', files: { in: false, out: false, maxOutBytes: 0 },
      buttons: false, typing: false, edits: false, threads: false, reactions: false,
    };
    // Compared as digests: equal lengths for timingSafeEqual, and nothing learnt from the time a wrong guess takes.
    this.secretDigest = createHash('sha256').update(opts.secret).digest();
    this.server = undefined;
    this.state = { state: 'starting', since: Date.now() };
  }

  /** @param {import('../../src/channels/channel.ts').ChannelHost} host */
  async start(host) {
    this.host = host;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.opts.log.warn(`${this.name}: request failed: ${err?.message ?? err}`);
        if (!res.headersSent) reply(res, 500, { error: 'internal error' });
      });
    });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => { this.server.off('error', reject); resolve(); });
    });
    const { port } = this.server.address();
    this.state = { state: 'connected', detail: `listening on http://${this.opts.host}:${port}${this.opts.path}`, since: Date.now() };
    this.opts.log.info(`${this.name}: ${this.state.detail}`);
  }

  health() {
    return this.state;
  }

  async stop() {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async handle(req, res) {
    if ((req.url ?? '').split('?')[0] !== this.opts.path) return reply(res, 404, { error: 'not found' });
    if (req.method !== 'POST') return reply(res, 405, { error: 'POST only' });
    if (!this.authorized(req.headers.authorization)) {
      this.host.audit({ type: `${this.name}.refused`, data: { reason: 'bad secret', from: req.socket.remoteAddress ?? '' } });
      return reply(res, 401, { error: 'missing or wrong secret' });
    }
    const body = await readBody(req, this.opts.maxBodyBytes);
    if (body === undefined) {
      res.setHeader('connection', 'close');
      return reply(res, 413, { error: `body over ${this.opts.maxBodyBytes} bytes` });
    }
    let parsed;
    try { parsed = Inbound.safeParse(JSON.parse(body.toString('utf8'))); } catch { return reply(res, 400, { error: 'body is not JSON' }); }
    if (!parsed.success) return reply(res, 400, { error: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
    const m = parsed.data;
    const result = this.host.receive({ chat: m.chat, thread: '' }, { clientId: m.id, sender: m.sender, senderName: m.senderName, text: m.text });
    if (!result.accepted) return reply(res, 200, { accepted: false, reason: result.reason });
    reply(res, 202, { accepted: true, conversation: result.conversation.id, message: result.message.id, duplicate: result.duplicate });
  }

  /** @param {string | undefined} header */
  authorized(header) {
    const given = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
    return timingSafeEqual(createHash('sha256').update(given).digest(), this.secretDigest);
  }

  /**
   * One POST per part of the reply, in order; an earlier attempt's parts
   * (`resumeAt`) are not sent again.
   * @param {import('../../src/store/store.ts').Conversation} conversation
   * @param {import('../../src/channels/channel.ts').OutboundPayload} payload
   */
  async send(conversation, payload) {
    const parts = payload.text ? formatForChannel(payload.text, 'plain', { maxLength: this.opts.maxMessageLength }) : [];
    const ids = [];
    for (let i = payload.resumeAt ?? 0; i < parts.length; i++) {
      try {
        ids.push(await this.post({ chat: conversation.chat, kind: payload.kind, text: parts[i], part: i + 1, parts: parts.length, outboundId: payload.outboundId ?? null }));
      } catch (err) {
        if (err instanceof DeliveryError) throw new DeliveryError(err.kind, err.message, { retryAfterMs: err.retryAfterMs, cause: err.cause, delivered: ids });
        throw err;
      }
    }
    return { platformIds: ids };
  }

  /** @param {Record<string, unknown>} body @returns {Promise<string>} the id the other side gave, or a made-up one */
  async post(body) {
    let res;
    try {
      res = await fetch(this.opts.callbackUrl, {
        method: 'POST', redirect: 'error', signal: AbortSignal.timeout(this.opts.timeoutMs),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.secret}` },
        body: JSON.stringify(body),
      });
    } catch (err) {
      throw new DeliveryError('transient', `the callback ${this.opts.callbackUrl} could not be reached: ${err?.cause?.code ?? err?.name}`, { cause: err });
    }
    const text = await res.text().catch(() => '');
    if (res.status === 429) throw new DeliveryError('transient', 'the callback answered 429', { retryAfterMs: Number(res.headers.get('retry-after')) * 1000 || undefined });
    if (res.status >= 500) throw new DeliveryError('transient', `the callback answered ${res.status}`);
    if (!res.ok) throw new DeliveryError('permanent', `the callback answered ${res.status}: ${text.slice(0, 200)}`);
    let id;
    try { id = JSON.parse(text)?.id; } catch { /* an empty or non-JSON answer is fine */ }
    return typeof id === 'string' || typeof id === 'number' ? String(id) : `${body.outboundId ?? 'x'}-${body.part}`;
  }
}

/** The body, or undefined once it is over `max` bytes (the rest is not read; the connection closes after the answer). */
function readBody(req, max) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        req.removeAllListeners('data');
        resolve(undefined);
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
