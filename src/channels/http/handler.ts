import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { streamSSE } from 'hono/streaming';
import type { ChannelHealth, ChannelHost, TurnEvent } from '../channel.ts';
import { AttachmentError } from '../../inbox/attachments.ts';
import { Outbox } from '../../store/outbox.ts';
import { conversationId, type Outbound, type Store } from '../../store/store.ts';
import type { OpResult } from '../../core/ops.ts';

/** The conversation key every API conversation id maps to. */
export const apiConversation = (id: string) => ({ channel: 'api', chat: id, thread: '' });

/** Conversation ids are chosen by clients: letters, digits and `._:-`, so no id can name a path. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_TEXT = 100_000;

/**
 * What the API may do beyond a channel's own host: the owner's view of the
 * gateway (status, pairing, the files of sent messages). Given by the one
 * place that wires channels (app.ts).
 */
export interface ApiAdmin {
  status(): {
    pool: number;
    channels: Array<{ name: string; health: ChannelHealth | null }>;
    conversations: Array<{ id: string; channel: string; chat: string; container: string | null; busy: boolean; memory: boolean; lastActiveAt: number; usage: unknown }>;
  };
  approvePairing(code: string, actor: string): { channel: string; sender: string } | undefined;
  openQuestion(conversationId: string): { id: number; question: string; choices: string[]; inboundId: number } | undefined;
  /** Where outbound files are kept (the attachments folder). */
  attachmentRoot: string;
  /** Runs a management operation (`tasks`, `skills`) as the owner; undefined for an unknown area (core/ops.ts). */
  manage(area: string, op: string, args: unknown, actor: string): OpResult | undefined;
}

/**
 * `attachments: [{ "name": "report.pdf", "data": "<base64>" }]`. Names are
 * kept as given here and sanitised when written into the inbox; each file
 * must fit the API channel's attachment limit (checked on the base64 length,
 * before it is decoded). Returns an error message for malformed input.
 */
function parseAttachments(raw: unknown, maxBytes: number): Array<{ name: string; data: Buffer }> | string | { tooLarge: string } {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.length > 20) return '"attachments" must be an array of at most 20 {"name", "data"} objects.';
  const out: Array<{ name: string; data: Buffer }> = [];
  for (const a of raw) {
    if (typeof a !== 'object' || a === null || typeof a.name !== 'string' || typeof a.data !== 'string' || !a.name || a.name.length > 1000) {
      return 'Each attachment needs a "name" (1-1000 characters) and "data" (base64).';
    }
    const bytes = Math.floor(a.data.length / 4) * 3 - (a.data.endsWith('==') ? 2 : a.data.endsWith('=') ? 1 : 0);
    if (bytes > maxBytes) return { tooLarge: `The attachment "${a.name.slice(0, 100)}" is about ${bytes} bytes, over the api channel's limit of ${maxBytes} bytes (attachments.maxBytes); the message was not stored. Send a smaller file, or raise the limit.` };
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(a.data)) return `Attachment "${a.name.slice(0, 100)}": "data" is not base64.`;
    out.push({ name: a.name, data: Buffer.from(a.data, 'base64') });
  }
  return out;
}

function problem(c: Context, status: 400 | 401 | 404 | 413 | 415, message: string) {
  return c.json({ error: { status, message } }, status);
}

/**
 * The local HTTP API's routes. Every route but /health needs the bearer
 * token; a request without it is answered 401 before anything is read.
 *
 *   POST /api/v1/conversations/{id}/messages  {"text": "..."}  -> replies, when the turn ends
 *
 * The message route reads up to channels.api.maxBodyBytes plus one attachment of the
 * API's attachment limit in base64; all but the attachments' data must still
 * fit channels.api.maxBodyBytes, as every other route's body does.
 *   GET  /api/v1/conversations/{id}/events                        -> server-sent events
 */
export function createApi(opts: { host: ChannelHost; admin: ApiAdmin; store: Store; token: string; maxBodyBytes: number; routes?: Hono<any> }): Hono {
  const { host, admin, store } = opts;
  const outbox = new Outbox(store.db);
  const publicMessage = (m: Outbound) => ({
    id: m.id, kind: m.kind, text: m.text, createdAt: new Date(m.createdAt).toISOString(),
    ...(m.questionId ? { question: m.questionId, choices: m.buttons.map((b) => b.value) } : {}),
    files: outbox.files(m.id, admin.attachmentRoot).map((f, i) => ({ name: f.name, size: f.size, removed: f.removedAt !== null, path: `files/${m.id}/${i + 1}` })),
  });
  const app = new Hono();
  const expected = Buffer.from(opts.token);

  app.get('/api/v1/health', (c) => c.json({ ok: true }));
  app.use('/api/*', async (c, next) => {
    await next();
    if (c.res.status === 401) {
      host.audit({ type: 'auth.denied', actor: 'api', data: { channel: 'api', path: new URL(c.req.url).pathname.slice(0, 200), reason: c.req.header('authorization') ? 'invalid token' : 'no token' } });
    }
  });
  app.use('/api/*', bearerAuth({
    verifyToken: (token) => {
      const got = Buffer.from(token);
      return got.length === expected.length && timingSafeEqual(got, expected);
    },
    noAuthenticationHeader: { message: { error: { status: 401, message: 'Missing bearer token: send "Authorization: Bearer <token>" (see `nanoclaw status`).' } } },
    invalidToken: { message: { error: { status: 401, message: 'Invalid bearer token (see `nanoclaw status` for the current one).' } } },
    invalidAuthenticationHeader: { message: (c: Context) => c.json({ error: { status: 401, message: 'Malformed Authorization header; expected "Bearer <token>".' } }, 401) },
  }));
  // Mounted after the bearer check: their `/api` routes need the token too.
  if (opts.routes) app.route('/', opts.routes);
  app.use('/api/v1/conversations/:id/*', async (c, next) => {
    if (!ID.test(c.req.param('id'))) return problem(c, 400, 'Invalid conversation id: use 1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit.');
    await next();
  });

  app.get('/api/v1/conversations', (c) => c.json({ conversations: admin.status().conversations.filter((x) => x.channel === 'api').map((x) => ({
    id: x.chat, container: x.container, busy: x.busy, memory: x.memory, lastActiveAt: new Date(x.lastActiveAt).toISOString(), usage: x.usage,
  })) }));

  app.get('/api/v1/status', (c) => {
    const { pool, conversations, channels } = admin.status();
    return c.json({
      pool: { ready: pool }, containers: conversations.filter((x) => x.container).length,
      channels: channels.map((ch) => ({ name: ch.name, ...(ch.health ? { ...ch.health, since: new Date(ch.health.since).toISOString() } : { state: 'connected' }) })),
    });
  });

  const maxAttachment = host.attachmentLimit;

  /**
   * Waits for the turn of inbound message `inboundId` to end, or to ask the
   * user a question (the answer is posted to .../questions/{id}/answer, which
   * then waits the same way). Subscribe before acting, so nothing is missed.
   */
  function turnWatch() {
    let inboundId = -1;
    let resolve!: (r: { replies: Outbound[]; question?: { id: number; question: string; choices: string[] } }) => void;
    const done = new Promise<{ replies: Outbound[]; question?: { id: number; question: string; choices: string[] } }>((r) => { resolve = r; });
    const off = host.onTurn((ev: TurnEvent) => {
      if (ev.type === 'turn_end' && ev.inboundId === inboundId) resolve({ replies: store.outboundFor(inboundId) });
      if (ev.type === 'question' && ev.inboundId === inboundId) resolve({ replies: store.outboundFor(inboundId), question: { id: ev.questionId, question: ev.question, choices: ev.choices } });
    });
    return {
      done,
      watch(id: number) {
        inboundId = id;
        const msg = store.getInbound(id)!;
        if (msg.status === 'done') resolve({ replies: store.outboundFor(id) });
        else {
          const q = admin.openQuestion(msg.conversationId);
          if (q && q.inboundId === id) resolve({ replies: store.outboundFor(id), question: { id: q.id, question: q.question, choices: q.choices } });
        }
      },
      off,
    };
  }
  const turnBody = (r: { replies: Outbound[]; question?: { id: number; question: string; choices: string[] } }) => ({
    replies: r.replies.map(publicMessage), ...(r.question ? { question: r.question, done: false } : { done: true }),
  });
  const maxMessageBody = opts.maxBodyBytes + Math.ceil(maxAttachment / 3) * 4 + 4096;
  app.post('/api/v1/conversations/:id/messages',
    bodyLimit({ maxSize: maxMessageBody, onError: (c) => problem(c, 413, `Request body over ${maxMessageBody} bytes (channels.api.maxBodyBytes plus one attachment of up to ${maxAttachment} bytes, base64).`) }),
    async (c) => {
      if ((c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase() !== 'application/json') return problem(c, 415, 'Send JSON with "Content-Type: application/json".');
      let body: any;
      let size: number;
      try {
        const raw = await c.req.text();
        size = Buffer.byteLength(raw);
        body = JSON.parse(raw);
      } catch { return problem(c, 400, 'Body is not valid JSON; expected {"text": "..."}.'); }
      if (typeof body !== 'object' || body === null || typeof body.text !== 'string' || !body.text.trim()) return problem(c, 400, 'Expected a JSON object with a non-empty "text" string.');
      if (body.text.length > MAX_TEXT) return problem(c, 413, `"text" is over ${MAX_TEXT} characters.`);
      const attachments = parseAttachments(body.attachments, maxAttachment);
      if (typeof attachments === 'string') return problem(c, 400, attachments);
      if (!Array.isArray(attachments)) return problem(c, 413, attachments.tooLarge);
      // Only attachments get the larger allowance: the rest of the body keeps channels.api.maxBodyBytes.
      const attachmentChars = (body.attachments ?? []).reduce((n: number, a: { data: string }) => n + a.data.length, 0);
      if (size - attachmentChars > opts.maxBodyBytes) return problem(c, 413, `Request body over ${opts.maxBodyBytes} bytes (channels.api.maxBodyBytes), not counting attachments.`);
      const clientId = c.req.header('idempotency-key') ?? (typeof body.clientId === 'string' ? body.clientId : undefined);
      if (clientId !== undefined && !/^[\x21-\x7e]{1,200}$/.test(clientId)) return problem(c, 400, 'Idempotency-Key must be 1-200 printable ASCII characters.');

      const id = c.req.param('id');
      const watch = turnWatch();
      try {
        let received;
        try {
          received = host.receive({ chat: id, thread: '' }, { clientId, sender: 'api', text: body.text, attachments });
        } catch (err) {
          if (err instanceof AttachmentError && err.kind === 'too_large') return problem(c, 413, err.message);
          throw err;
        }
        if (!received.accepted) throw new Error(`message not accepted: ${received.reason}`);
        const { message, duplicate, answered } = received;
        if (answered) return c.json({ conversation: id, message: { id: message.id, duplicate }, answered, replies: [], done: true });
        watch.watch(message.id);
        return c.json({ conversation: id, message: { id: message.id, duplicate }, ...turnBody(await watch.done) });
      } finally {
        watch.off();
      }
    });

  app.get('/api/v1/conversations/:id/questions', (c) => {
    const conv = store.getConversation(conversationId(apiConversation(c.req.param('id'))));
    const q = conv && admin.openQuestion(conv.id);
    return c.json({ questions: q ? [{ id: q.id, message: q.inboundId, question: q.question, choices: q.choices }] : [] });
  });

  app.post('/api/v1/conversations/:id/questions/:qid/answer', bodyLimit({ maxSize: opts.maxBodyBytes, onError: (c) => problem(c, 413, `Request body over ${opts.maxBodyBytes} bytes (channels.api.maxBodyBytes).`) }), async (c) => {
    let body: any;
    try { body = await c.req.json(); } catch { return problem(c, 400, 'Body is not valid JSON; expected {"answer": "..."}.'); }
    if (typeof body?.answer !== 'string' || !body.answer.trim() || body.answer.length > MAX_TEXT) return problem(c, 400, `Expected {"answer": "<1-${MAX_TEXT} characters>"}.`);
    const qid = Number(c.req.param('qid'));
    const conv = store.getConversation(conversationId(apiConversation(c.req.param('id'))));
    const q = conv && Number.isSafeInteger(qid) ? admin.openQuestion(conv.id) : undefined;
    if (!q || q.id !== qid) return problem(c, 404, `No open question ${c.req.param('qid').slice(0, 20)} in this conversation (answered already, or its turn ended).`);
    const watch = turnWatch();
    try {
      const r = host.answer(qid, body.answer, 'api');
      if (!r.ok) return problem(c, 404, `Question ${qid}: ${r.reason}.`);
      // What the turn does next: its end, or its next question.
      watch.watch(q.inboundId);
      const next = await watch.done;
      return c.json({ conversation: c.req.param('id'), answered: qid, ...turnBody(next.question?.id === qid ? { replies: next.replies } : next) });
    } finally {
      watch.off();
    }
  });

  app.get('/api/v1/conversations/:id/files/:outbound/:n', (c) => {
    const conv = store.getConversation(conversationId(apiConversation(c.req.param('id'))));
    const m = conv && /^\d{1,15}$/.test(c.req.param('outbound')) ? store.getOutbound(Number(c.req.param('outbound'))) : undefined;
    const f = m && m.conversationId === conv!.id ? outbox.files(m.id, admin.attachmentRoot)[Number(c.req.param('n')) - 1] : undefined;
    if (!f) return problem(c, 404, 'No such file.');
    if (f.removedAt !== null) return problem(c, 404, `The file "${f.name}" was deleted (attachments.retentionDays).`);
    let data: Buffer;
    try { data = readFileSync(f.hostPath); } catch { return problem(c, 404, `The file "${f.name}" is no longer stored.`); }
    return c.body(new Uint8Array(data), 200, {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(f.name)}`,
      'x-content-type-options': 'nosniff',
    });
  });

  app.post('/api/v1/pairing/approve', async (c) => {
    let body: any;
    try { body = await c.req.json(); } catch { return problem(c, 400, 'Body is not valid JSON; expected {"code": "..."}.'); }
    if (typeof body?.code !== 'string' || !/^[A-Za-z0-9]{4,16}$/.test(body.code)) return problem(c, 400, 'Expected {"code": "<pairing code>"}.');
    const approved = admin.approvePairing(body.code, 'api');
    if (!approved) return problem(c, 404, `No pending pairing code ${body.code.toUpperCase()} (codes are single-use and expire after an hour).`);
    return c.json({ approved: { channel: approved.channel, sender: approved.sender } });
  });

  // What `nanoclaw tasks` and `nanoclaw skills` do while the gateway runs:
  // through it, so the gateway stays the audit log's only writer and its
  // scheduler and skills folder see each change at once.
  app.post('/api/v1/manage/:area', async (c) => {
    let body: any;
    try { body = await c.req.json(); } catch { return problem(c, 400, 'Body is not valid JSON; expected {"op": "...", "args": {...}}.'); }
    if (typeof body?.op !== 'string' || body.op.length > 64) return problem(c, 400, 'Expected {"op": "<operation>", "args": {...}}.');
    const result = admin.manage(c.req.param('area'), body.op, body.args ?? {}, body.via === 'cli' ? 'cli' : 'api');
    if (!result) return problem(c, 404, `Nothing to manage called "${c.req.param('area').slice(0, 64)}": use tasks or skills.`);
    return c.json(result);
  });

  app.get('/api/v1/conversations/:id/messages', (c) => {
    const conv = store.getConversation(conversationId(apiConversation(c.req.param('id'))));
    if (!conv) return problem(c, 404, 'No such conversation.');
    return c.json({ conversation: c.req.param('id'), messages: store.history(conv.id).map((m) => ({ ...m, at: new Date(m.at).toISOString() })) });
  });

  app.get('/api/v1/conversations/:id/events', (c) => {
    const convId = conversationId(apiConversation(c.req.param('id')));
    return streamSSE(c, async (stream) => {
      const queue: TurnEvent[] = [];
      let wake: (() => void) | undefined;
      const off = host.onTurn((ev) => {
        if (ev.conversationId !== convId) return;
        queue.push(ev);
        wake?.();
      });
      let open = true;
      stream.onAbort(() => { open = false; wake?.(); });
      try {
        await stream.writeSSE({ event: 'ready', data: JSON.stringify({ conversation: c.req.param('id') }) });
        while (open) {
          const ev = queue.shift();
          if (!ev) { await new Promise<void>((r) => { wake = r; }); wake = undefined; continue; }
          const { type, conversationId: _, ...rest } = ev;
          const data = 'message' in rest ? { ...rest, message: publicMessage(rest.message) }
            : 'replies' in rest ? { ...rest, replies: rest.replies.map(publicMessage) } : rest;
          await stream.writeSSE({ event: type, data: JSON.stringify(data) });
        }
      } finally {
        off();
      }
    });
  });

  app.notFound((c) => problem(c, 404, `No route ${c.req.method} ${new URL(c.req.url).pathname}.`));
  // bearerAuth and bodyLimit answer by throwing HTTPException: pass their responses through.
  app.onError((err, c) => err instanceof HTTPException ? err.getResponse() : c.json({ error: { status: 500, message: `Internal error: ${err.message}` } }, 500));
  return app;
}
