/**
 * A local stand-in for the OpenAI Chat Completions API, so OpenAI-compatible
 * clients (the built-in engine's, any SDK) run offline in tests and the demo.
 * It answers with the same script as the Anthropic stand-in
 * (./fake-anthropic/script.ts: `run: <cmd>`, `tool: <name> <json>`,
 * `sleep: <ms>`, tool results quoted back, anything else echoed), the chat
 * request mapped to the Messages shape the script reads (./fake-openai/wire.ts).
 *
 * - `POST /v1/chat/completions`: a `chat.completion` JSON, or with
 *   `stream: true` SSE chunks (`choices[0].delta`, tool calls in pieces, the
 *   usage chunk only when `stream_options.include_usage` is true, `data: [DONE]`).
 * - `GET /v1/models`: the one model `fake-gpt`.
 * - anything else: 404; a body that is not JSON: 400; both as `{error:{message, type, param, code}}`.
 * - `fail` answers chosen requests with a failure (./fake-failure.ts).
 *
 *   const fake = await startFakeOpenAI();
 *   const client = modelClient({ kind: 'openai', baseUrl: fake.baseUrl, apiKey: 'test', model: 'fake-gpt' });
 *   // ... fake.requests[0].headers.authorization === 'Bearer test'
 *   await fake.close();
 *
 * Run by hand: `node dist/src/devtools/fake-openai.js --port 8789`.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { defaultScript, isAgentTurn, type Reply, type ScriptFn } from './fake-anthropic/script.ts';
import { estimateInputTokens } from './fake-anthropic/wire.ts';
import { CUT_AFTER_MS, MIDSTREAM_TEXT, type FailFn, type Failure } from './fake-failure.ts';
import { readBody, sendJson } from './json-http.ts';
import { FakeApiServer } from './fake-server.ts';
import {
  asMessagesRequest, buildCompletion, dataFrame, openaiErrorBody, openaiId, openingChunks, streamChunks,
  type ChatRequest, type ChatUsageOverride,
} from './fake-openai/wire.ts';

export type { ChatRequest, ChatUsageOverride } from './fake-openai/wire.ts';
export type { Failure, FailFn } from './fake-failure.ts';

export interface FakeOpenAIOptions {
  /** Default 0: the system picks a free port. */
  port?: number;
  /** Default 127.0.0.1: never reachable from other machines. */
  host?: string;
  /** Added before every answer (default 0), to model a slow model. */
  latencyMs?: number;
  /** Tried before the default script (it reads the request in the Messages shape); undefined falls back to it. */
  script?: ScriptFn;
  /** Usage figures to report instead of the estimate, e.g. `() => ({ prompt_tokens: 100, cached_tokens: 60 })`. */
  usage?: (body: ChatRequest) => ChatUsageOverride | undefined;
  /** Answers chosen chat requests with a failure instead of the script's answer. */
  fail?: FailFn<ChatRequest>;
}

/** One request as it arrived, kept so tests can check what a client really sent. */
export interface RecordedChatRequest {
  /** Also sent back as the `x-request-id` header. */
  id: string;
  /** `Date.now()` when the request arrived. */
  receivedAtEpochMs: number;
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; undefined when there was none or it did not parse. */
  body: ChatRequest | undefined;
  /** `turn` for an agent turn (the request offers tools), `side` for other chat calls. */
  kind: 'turn' | 'side' | 'models' | 'other';
}

export const FAKE_OPENAI_MODEL = 'fake-gpt';

export class FakeOpenAI extends FakeApiServer<RecordedChatRequest> {
  /** What OpenAI clients take as their base URL: `url` + `/v1`. */
  baseUrl = '';

  constructor(private readonly opts: FakeOpenAIOptions = {}) {
    super(opts, 'fake OpenAI API');
  }

  override async listen(): Promise<this> {
    await super.listen();
    this.baseUrl = `${this.url}/v1`;
    return this;
  }

  protected internalError(res: ServerResponse, message: string): void {
    sendJson(res, 500, openaiErrorBody(message, 'server_error', null));
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const id = openaiId('req_');
    const path = new URL(req.url ?? '/', 'http://fake').pathname.replace(/\/+$/, '') || '/';
    const text = await readBody(req);
    let body: ChatRequest | undefined;
    let malformed = false;
    if (text.length > 0) {
      try { body = JSON.parse(text) as ChatRequest; } catch { malformed = true; }
    }
    const chat = req.method === 'POST' && path === '/v1/chat/completions';
    const models = req.method === 'GET' && path === '/v1/models';
    const kind = models ? 'models' : chat && body ? (isAgentTurn(asMessagesRequest(body)) ? 'turn' : 'side') : 'other';
    const record: RecordedChatRequest = { id, receivedAtEpochMs: Date.now(), method: req.method ?? '', path, headers: req.headers, body, kind };
    const index = this.requests.push(record) - 1;
    this.emit('request', record);

    res.setHeader('x-request-id', id);
    if (models) return sendJson(res, 200, { object: 'list', data: [{ id: FAKE_OPENAI_MODEL, object: 'model', created: 0, owned_by: 'fake' }] });
    if (!chat) return sendJson(res, 404, openaiErrorBody(`Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error', 'unknown_url'));
    if (malformed || typeof body !== 'object' || body === null || Array.isArray(body)) {
      return sendJson(res, 400, openaiErrorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null));
    }
    if (!Array.isArray(body.messages)) return sendJson(res, 400, openaiErrorBody("Missing required parameter: 'messages'.", 'invalid_request_error', 'missing_required_parameter'));

    const model = body.model ?? FAKE_OPENAI_MODEL;
    const includeUsage = body.stream_options?.include_usage === true;
    const failure = this.opts.fail?.(body, index);
    if (failure) return this.#fail(res, failure, body, model, includeUsage);

    const asMessages = asMessagesRequest(body);
    const reply: Reply = (await this.opts.script?.(asMessages)) ?? defaultScript(asMessages);
    if (!(await this.hold(res, (this.opts.latencyMs ?? 0) + (reply.delayMs ?? 0)))) return;
    const completion = buildCompletion(reply.blocks, model, estimateInputTokens(asMessages), this.opts.usage?.(body));
    if (body.stream !== true) return sendJson(res, 200, completion);
    res.writeHead(200, SSE_HEADERS);
    for (const frame of streamChunks(completion, includeUsage)) res.write(frame);
    res.end();
  }

  /** Writes `failure` as OpenAI (and OpenRouter, for the in-stream error) would. */
  #fail(res: ServerResponse, failure: Failure, body: ChatRequest, model: string, includeUsage: boolean): void {
    switch (failure.kind) {
      case 'rate_limit':
        res.setHeader('retry-after', String(failure.retryAfterSec ?? 1));
        return sendJson(res, 429, openaiErrorBody(`Rate limit reached for ${model} on requests per min (RPM). Please try again later.`, 'requests', 'rate_limit_exceeded'));
      case 'overloaded':
        return sendJson(res, 503, openaiErrorBody('The server is overloaded or not ready yet.', 'server_error', null));
      case 'quota':
        return sendJson(res, 429, openaiErrorBody('You exceeded your current quota, please check your plan and billing details.', 'insufficient_quota', 'insufficient_quota'));
      case 'http':
        if (failure.retryAfterSec !== undefined) res.setHeader('retry-after', String(failure.retryAfterSec));
        return sendJson(res, failure.status, openaiErrorBody(failure.message ?? `Fake failure ${failure.status}.`, failure.type ?? 'invalid_request_error', failure.code ?? null));
      case 'midstream': {
        if (body.stream !== true) return sendJson(res, 500, openaiErrorBody('The server had an error while processing your request.', 'server_error', null));
        const start = { id: openaiId('chatcmpl-'), created: Math.floor(Date.now() / 1000), model };
        res.writeHead(200, SSE_HEADERS);
        const frames = openingChunks(start, failure.text ?? MIDSTREAM_TEXT, includeUsage);
        const end = failure.end ?? 'error';
        // Cut a moment after the opening reached the socket (see CUT_AFTER_MS).
        frames.forEach((frame, i) => res.write(frame, end === 'cut' && i === frames.length - 1 ? () => setTimeout(() => res.destroy(), CUT_AFTER_MS) : undefined));
        if (end !== 'error') return;
        const error = { code: failure.errorType ?? 'server_error', message: 'Provider disconnected unexpectedly (fake, mid-stream).' };
        res.write(dataFrame({ ...start, object: 'chat.completion.chunk', error, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] }));
        return void res.end();
      }
    }
  }
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' };

/**
 * Starts a fake OpenAI API on 127.0.0.1 and a free port.
 *
 *   const fake = await startFakeOpenAI({ fail: (_b, i) => (i === 0 ? { kind: 'overloaded' } : undefined) });
 *   const client = new OpenAI({ apiKey: 'test', baseURL: fake.baseUrl });
 */
export function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  return new FakeOpenAI(opts).listen();
}

// Manual use: `node dist/src/devtools/fake-openai.js [--port 8789] [--host 127.0.0.1] [--latency 0]`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, host: { type: 'string' }, latency: { type: 'string', default: '0' } },
  });
  const fake = await startFakeOpenAI({ port: Number(values.port), host: values.host, latencyMs: Number(values.latency) });
  fake.on('request', (r) => console.log(`${new Date(r.receivedAtEpochMs).toISOString()} ${r.method} ${r.path} ${r.kind}${r.body?.model ? ` model=${r.body.model}` : ''}`));
  console.log(`Fake OpenAI API listening on ${fake.url}  (base URL ${fake.baseUrl})`);
  const stop = () => void fake.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
