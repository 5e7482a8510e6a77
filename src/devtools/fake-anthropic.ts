/**
 * A local stand-in for the Anthropic Messages API, so the real clients (the
 * `@anthropic-ai/sdk`, the Claude Agent SDK's CLI) run offline in tests and
 * the demo. It speaks the real wire protocol:
 *
 * - `POST /v1/messages`: a full `Message` JSON, or with `stream: true` an SSE
 *   stream (message_start, content_block_start, content_block_delta
 *   (text_delta / input_json_delta), content_block_stop, message_delta,
 *   message_stop); ids `msg_...` / `toolu_...`, a `request-id` header, usage
 *   estimated from the request's size (cache figures from the `usage` option).
 *   A query string (`?beta=true`) is ignored.
 * - answers gzip-compressed when asked (the `compress` option), as a server
 *   or a proxy in front of it may.
 * - `POST /v1/messages/count_tokens`: `{input_tokens}`.
 * - anything else: 404 `not_found_error`; a body that is not JSON: 400
 *   `invalid_request_error`; both in the API's `{type:'error', error}` shape.
 * - `fail` answers chosen Messages requests with a failure (./fake-failure.ts):
 *   429 with retry-after, 529 overloaded, a spend limit, any status, or a
 *   stream that breaks midway.
 *
 * What the model answers is the script in ./fake-anthropic/script.ts (its
 * header lists the rules: `run: <cmd>` calls Bash, `tool: <name> <json>`
 * calls any tool offered (a bare name is one of the host's tools),
 * `sleep: <ms>` waits, `slowly: <text>` streams it at a model's pace, tool results are quoted back, anything else is echoed).
 *
 *   const fake = await startFakeAnthropic();
 *   const client = new Anthropic({ apiKey: 'test', baseURL: fake.url });
 *   // ... fake.requests[0].headers['x-api-key'] === 'test'
 *   await fake.close();
 *
 * Run by hand: `node dist/src/devtools/fake-anthropic.js --port 8788`.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { constants as zlibConstants, createGzip, gzipSync } from 'node:zlib';
import { defaultScript, isAgentTurn, type Reply, type ScriptFn } from './fake-anthropic/script.ts';
import { buildMessage, errorBody, estimateInputTokens, newId, streamFrames, type MessagesRequest, type UsageOverride } from './fake-anthropic/wire.ts';
import { CUT_AFTER_MS, MIDSTREAM_TEXT, type FailFn, type Failure } from './fake-failure.ts';
import { readBody, sendJson } from './json-http.ts';
import { FakeApiServer } from './fake-server.ts';

export type { Reply, ScriptFn } from './fake-anthropic/script.ts';
export type { MessagesRequest, ReplyBlock, UsageOverride } from './fake-anthropic/wire.ts';
export type { Failure, FailFn } from './fake-failure.ts';

export interface FakeAnthropicOptions {
  /** Default 0: the system picks a free port. */
  port?: number;
  /** Default 127.0.0.1: never reachable from other machines. */
  host?: string;
  /** Added before every answer (default 0), to model a slow model. */
  latencyMs?: number;
  /** Tried before the default script; returning undefined falls back to it. */
  script?: ScriptFn;
  /**
   * Usage figures to report for a request instead of the estimate, e.g. cache
   * tokens: `usage: () => ({ cache_read_input_tokens: 30_000 })`.
   */
  usage?: (body: MessagesRequest) => UsageOverride | undefined;
  /**
   * Gzip the answers: `never` (the default), `when-accepted` (only when the
   * request's accept-encoding names gzip, as a real server does) or `always`
   * (whatever the client asked, as a misbehaving middlebox does).
   */
  compress?: 'never' | 'when-accepted' | 'always';
  /**
   * Answers chosen Messages requests with a failure instead of the script's
   * answer; `requestIndex` is the request's place in `requests`.
   *
   *   fail: (_body, i) => (i === 0 ? { kind: 'overloaded' } : undefined)
   */
  fail?: FailFn<MessagesRequest>;
}

/** One request as it arrived, kept so tests can check what a client really sent. */
export interface RecordedRequest {
  /** Also sent back as the `request-id` header. */
  id: string;
  /** `performance.now()` when the request line arrived (before its body was read). */
  receivedAt: number;
  /** `Date.now()` at the same moment. */
  receivedAtEpochMs: number;
  method: string;
  /** Path without the query string, e.g. `/v1/messages`. */
  path: string;
  /** Path with the query string, as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; undefined when there was none or it did not parse. */
  body: MessagesRequest | undefined;
  /** `turn` for an agent turn (the request offers tools), `side` for other model calls. */
  kind: 'turn' | 'side' | 'count_tokens' | 'other';
}

export class FakeAnthropic extends FakeApiServer<RecordedRequest> {
  constructor(private readonly opts: FakeAnthropicOptions = {}) {
    super(opts, 'fake Anthropic API');
  }

  protected internalError(res: ServerResponse, message: string): void {
    sendJson(res, 500, errorBody('api_error', message, String(res.getHeader('request-id') ?? '')));
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = performance.now();
    const receivedAtEpochMs = Date.now();
    const id = newId('req');
    const url = req.url ?? '/';
    const path = new URL(url, 'http://fake').pathname.replace(/\/+$/, '') || '/';
    const text = await readBody(req);
    let body: MessagesRequest | undefined;
    let malformed = false;
    if (text.length > 0) {
      try {
        body = JSON.parse(text) as MessagesRequest;
      } catch {
        malformed = true;
      }
    }

    const route = req.method === 'POST' ? ROUTES[path] : undefined;
    const kind = !route || !body ? 'other' : route === 'messages' ? (isAgentTurn(body) ? 'turn' : 'side') : route;
    const record: RecordedRequest = { id, receivedAt, receivedAtEpochMs, method: req.method ?? '', path, url, headers: req.headers, body, kind };
    this.requests.push(record);
    this.emit('request', record);

    res.setHeader('request-id', id);
    if (!route) return sendJson(res, 404, errorBody('not_found_error', `Not found: ${req.method} ${path}`, id));
    if (malformed || typeof body !== 'object' || body === null || Array.isArray(body)) {
      return sendJson(res, 400, errorBody('invalid_request_error', 'The request body is not a valid JSON object.', id));
    }
    if (route === 'count_tokens') return sendJson(res, 200, { input_tokens: estimateInputTokens(body) });
    if (!Array.isArray(body.messages)) {
      return sendJson(res, 400, errorBody('invalid_request_error', 'messages: Field required', id));
    }

    const failure = this.opts.fail?.(body, this.requests.indexOf(record));
    if (failure) return this.#fail(res, failure, body, id);

    const reply: Reply = (await this.opts.script?.(body)) ?? defaultScript(body);
    const waited = await this.hold(res, (this.opts.latencyMs ?? 0) + (reply.delayMs ?? 0));
    if (!waited) return;
    const message = buildMessage(reply.blocks, body.model ?? 'claude-fake', estimateInputTokens(body), this.opts.usage?.(body));
    const gzip = this.#gzips(req);
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
      if (!gzip) {
        for (const f of streamFrames(message)) {
          if (reply.frameDelayMs) await new Promise((r) => setTimeout(r, reply.frameDelayMs));
          if (res.destroyed) return;
          res.write(f);
        }
        return void res.end();
      }
      // Flushed per frame, so the client gets (compressed) events as they happen, not one block at the end.
      const z = createGzip();
      z.pipe(res);
      for (const f of streamFrames(message)) {
        z.write(f);
        z.flush(zlibConstants.Z_SYNC_FLUSH);
      }
      z.end();
    } else if (gzip) {
      const payload = gzipSync(JSON.stringify(message));
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': payload.length });
      res.end(payload);
    } else {
      sendJson(res, 200, message);
    }
  }

  /** Writes `failure` as the real API does (never compressed). */
  #fail(res: ServerResponse, failure: Failure, body: MessagesRequest, requestId: string): void {
    switch (failure.kind) {
      case 'rate_limit':
        res.setHeader('retry-after', String(failure.retryAfterSec ?? 1));
        return sendJson(res, 429, errorBody('rate_limit_error', 'This request would exceed the rate limit for your organization (fake). Please try again later.', requestId));
      case 'overloaded':
        return sendJson(res, 529, errorBody('overloaded_error', 'Overloaded', requestId));
      case 'quota': {
        const message = 'You have reached your specified workspace API usage limits. You will regain access on the first of next month.';
        const refusal = errorBody('rate_limit_error', message, requestId);
        return sendJson(res, 429, { ...refusal, error: { ...refusal.error, details: { error_code: 'enforced_spend_limit_reached' } } });
      }
      case 'http': {
        if (failure.retryAfterSec !== undefined) res.setHeader('retry-after', String(failure.retryAfterSec));
        const refusal = errorBody(failure.type ?? 'invalid_request_error', failure.message ?? `Fake failure ${failure.status}.`, requestId);
        const details = failure.code ? { details: { error_code: failure.code } } : {};
        return sendJson(res, failure.status, { ...refusal, error: { ...refusal.error, ...details } });
      }
      case 'midstream': {
        if (body.stream !== true) return sendJson(res, 500, errorBody('api_error', 'Internal server error', requestId));
        // The real opening of a text answer, up to its last text delta.
        const all = streamFrames(buildMessage([{ type: 'text', text: failure.text ?? MIDSTREAM_TEXT }], body.model ?? 'claude-fake', estimateInputTokens(body)));
        const frames = all.slice(0, all.findIndex((f) => f.startsWith('event: content_block_stop')));
        const end = failure.end ?? 'error';
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        // Cut a moment after the opening reached the socket (see CUT_AFTER_MS).
        frames.forEach((f, i) => res.write(f, end === 'cut' && i === frames.length - 1 ? () => setTimeout(() => res.destroy(), CUT_AFTER_MS) : undefined));
        if (end !== 'error') return;
        const error = { type: 'error', error: { type: failure.errorType ?? 'api_error', message: 'Internal server error (fake, mid-stream)' } };
        res.write(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
        return void res.end();
      }
    }
  }

  #gzips(req: IncomingMessage): boolean {
    const mode = this.opts.compress ?? 'never';
    if (mode === 'always') return true;
    if (mode === 'never') return false;
    // `gzip` or `*`, unless its weight is q=0 ("not acceptable").
    return String(req.headers['accept-encoding'] ?? '').split(',').some((entry) => {
      const [name, ...params] = entry.split(';').map((x) => x.trim().toLowerCase());
      const q = params.find((p) => p.startsWith('q='));
      return (name === 'gzip' || name === '*') && (q === undefined || Number(q.slice(2)) > 0);
    });
  }
}

const ROUTES: Record<string, 'messages' | 'count_tokens'> = {
  '/v1/messages': 'messages',
  '/v1/messages/count_tokens': 'count_tokens',
};

/**
 * Starts a fake Anthropic API on 127.0.0.1 and a free port.
 *
 *   const fake = await startFakeAnthropic({ latencyMs: 50 });
 *   process.env.ANTHROPIC_BASE_URL = fake.url;
 */
export function startFakeAnthropic(opts: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  return new FakeAnthropic(opts).listen();
}

// Manual use: `node dist/src/devtools/fake-anthropic.js [--port 8788] [--host 127.0.0.1] [--latency 0]`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, host: { type: 'string' }, latency: { type: 'string', default: '0' } },
  });
  const fake = await startFakeAnthropic({ port: Number(values.port), host: values.host, latencyMs: Number(values.latency) });
  fake.on('request', (r) => {
    const model = r.body?.model ? ` model=${r.body.model}` : '';
    const max = r.body?.max_tokens !== undefined ? ` max_tokens=${r.body.max_tokens}` : '';
    console.log(`${new Date(r.receivedAtEpochMs).toISOString()} ${r.method} ${r.url} ${r.kind}${model}${max}`);
  });
  console.log(`Fake Anthropic API listening on ${fake.url}  (set ANTHROPIC_BASE_URL=${fake.url})`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
