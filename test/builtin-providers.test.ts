/**
 * The built-in engine's model clients (runner/src/engines/builtin/providers),
 * each against the local stand-in of its API over a real loopback socket:
 * what they send, how they fold a streamed answer into ModelEvents, how each
 * failure is classified for the fallback chain, what is retried, and that an
 * abort ends a call at once. Servers that differ from OpenAI's own (Groq,
 * OpenRouter, local ones) are stood in for by raw SSE written here.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ProviderError, type ModelClient, type ModelEvent, type ModelRequest, type ProviderErrorKind, type ProviderKind, type TranscriptMessage, type Usage } from '../runner/src/engines/builtin/model.ts';
import { classifyHttpError, modelClient, withRetries } from '../runner/src/engines/builtin/providers/index.ts';
import { startFakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import type { Failure } from '../src/devtools/fake-failure.ts';
import { startFakeOpenAI } from '../src/devtools/fake-openai.ts';

const READ_TOOL = {
  name: 'read_file',
  description: 'Reads a file from the workspace.',
  inputSchema: { type: 'object', properties: { path: { type: 'string' }, limit: { type: 'number' } }, required: ['path'] },
};
const MODELS: Record<ProviderKind, string> = { anthropic: 'claude-fake-model', openai: 'fake-gpt-model' };

/** A stand-in of either API, seen through what the tests need of it. */
interface StandIn {
  client: ModelClient;
  requests: Array<{ path: string; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> | undefined }>;
  waitForRequests(n: number): Promise<unknown>;
  close(): Promise<void>;
}

interface StandInOptions {
  fail?: (requestIndex: number) => Failure | undefined;
  /** Cache figures: Anthropic reports them apart, OpenAI inside prompt_tokens. */
  cache?: { input: number; read: number; write: number };
}

async function standIn(kind: ProviderKind, opts: StandInOptions = {}): Promise<StandIn> {
  const fail = opts.fail && ((_body: unknown, i: number) => opts.fail!(i));
  if (kind === 'anthropic') {
    const c = opts.cache;
    const usage = c && (() => ({ input_tokens: c.input, cache_read_input_tokens: c.read, cache_creation_input_tokens: c.write }));
    const fake = await startFakeAnthropic({ fail, usage });
    const client = modelClient({ kind, baseUrl: fake.url, apiKey: 'sk-ant-test-key', model: MODELS[kind] });
    return { client, requests: fake.requests as StandIn['requests'], waitForRequests: (n) => fake.waitForRequests(n, 10_000), close: () => fake.close() };
  }
  const c = opts.cache;
  const usage = c && (() => ({ prompt_tokens: c.input + c.read, cached_tokens: c.read }));
  const fake = await startFakeOpenAI({ fail, usage });
  const client = modelClient({ kind, baseUrl: fake.baseUrl, apiKey: 'sk-openai-test-key', model: MODELS[kind] });
  return { client, requests: fake.requests as StandIn['requests'], waitForRequests: (n) => fake.waitForRequests(n, 10_000), close: () => fake.close() };
}

function request(messages: TranscriptMessage[] | string, signal = new AbortController().signal): ModelRequest {
  const transcript = typeof messages === 'string' ? [{ role: 'user' as const, blocks: [{ type: 'text' as const, text: messages }] }] : messages;
  return { system: 'You are a careful assistant in a test.', messages: transcript, tools: [READ_TOOL], maxTokens: 1024, signal };
}

/** Every event of one call; a failure rejects with the events seen before it on `error.seen`. */
async function collect(client: ModelClient, req: ModelRequest): Promise<ModelEvent[]> {
  const seen: ModelEvent[] = [];
  try {
    for await (const ev of client.stream(req)) seen.push(ev);
  } catch (err) {
    Object.assign(err as object, { seen });
    throw err;
  }
  return seen;
}

function textOf(events: ModelEvent[]): string {
  return events.map((e) => (e.type === 'text' ? e.text : '')).join('');
}

function failsWith(kind: ProviderErrorKind, check: (e: ProviderError) => void = () => {}) {
  return (err: unknown) => {
    assert.ok(err instanceof ProviderError, `expected a ProviderError, got ${String(err)}`);
    assert.equal(err.kind, kind, `kind of "${err.message}"`);
    check(err);
    return true;
  };
}

for (const kind of ['anthropic', 'openai'] as const) {
  describe(`${kind} client against its stand-in`, () => {
    let fake: StandIn;
    before(async () => { fake = await standIn(kind); });
    after(() => fake.close());

    it('streams text in pieces, then the usage, then exactly one end', async () => {
      const events = await collect(fake.client, request('hello there, model'));
      assert.equal(textOf(events), 'Echo: hello there, model');
      assert.ok(events.filter((e) => e.type === 'text').length >= 2, 'the answer arrived in more than one delta');
      assert.deepEqual(events.slice(-2).map((e) => e.type), ['usage', 'end']);
      const usage = events.find((e) => e.type === 'usage')!.usage;
      assert.ok(usage.inputTokens > 0 && usage.outputTokens > 0, JSON.stringify(usage));
      assert.deepEqual(events.at(-1), { type: 'end', stopReason: 'end', model: MODELS[kind] });
    });

    it('sends the key, the stream flag and the system prompt as its API expects', async () => {
      await collect(fake.client, request('what do you send?'));
      const sent = fake.requests.at(-1)!;
      const body = sent.body!;
      assert.equal(body.stream, true);
      assert.equal(body.max_tokens, 1024);
      assert.equal(body.model, MODELS[kind]);
      if (kind === 'anthropic') {
        assert.equal(sent.path, '/v1/messages');
        assert.equal(sent.headers['x-api-key'], 'sk-ant-test-key');
        assert.equal(sent.headers['anthropic-version'], '2023-06-01');
        assert.deepEqual(body.system, [{ type: 'text', text: 'You are a careful assistant in a test.', cache_control: { type: 'ephemeral' } }], 'the system prompt is a cache breakpoint');
        const last = (body.messages as Array<{ content: Array<Record<string, unknown>> }>).at(-1)!.content.at(-1)!;
        assert.deepEqual(last.cache_control, { type: 'ephemeral' }, 'so is the conversation\'s last block');
        assert.deepEqual(body.tools, [{ name: 'read_file', description: READ_TOOL.description, input_schema: READ_TOOL.inputSchema }]);
      } else {
        assert.equal(sent.path, '/v1/chat/completions');
        assert.equal(sent.headers.authorization, 'Bearer sk-openai-test-key');
        assert.deepEqual(body.stream_options, { include_usage: true });
        assert.deepEqual((body.messages as unknown[])[0], { role: 'system', content: 'You are a careful assistant in a test.' });
        assert.deepEqual(body.tools, [{ type: 'function', function: { name: 'read_file', description: READ_TOOL.description, parameters: READ_TOOL.inputSchema } }]);
      }
    });

    it('assembles a tool call streamed in pieces, and its result goes back paired by id', async () => {
      const input = { path: '/workspace/notes/a-rather-long-file-name-for-pieces.txt', limit: 20 };
      const first = await collect(fake.client, request(`tool: read_file ${JSON.stringify(input)}`));
      const calls = first.filter((e) => e.type === 'tool_call');
      assert.equal(calls.length, 1);
      assert.equal(calls[0].name, 'read_file');
      assert.deepEqual(calls[0].input, input);
      assert.equal(textOf(first), 'Calling read_file.');
      assert.deepEqual(first.at(-1), { type: 'end', stopReason: 'tool_use', model: MODELS[kind] });

      const second = await collect(fake.client, request([
        { role: 'user', blocks: [{ type: 'text', text: `tool: read_file ${JSON.stringify(input)}` }] },
        { role: 'assistant', blocks: [{ type: 'text', text: 'Calling read_file.' }, { type: 'tool_call', id: calls[0].id, name: 'read_file', input }] },
        { role: 'user', blocks: [{ type: 'tool_result', id: calls[0].id, content: 'line one\nline two' }] },
      ]));
      assert.equal(textOf(second), 'Tool output:\nline one\nline two');
      const sent = JSON.stringify(fake.requests.at(-1)!.body);
      assert.ok(sent.includes(`"${kind === 'anthropic' ? 'tool_use_id' : 'tool_call_id'}":"${calls[0].id}"`), sent);
    });

    it('marks a failed tool result as an error for the model', async () => {
      await collect(fake.client, request([
        { role: 'user', blocks: [{ type: 'text', text: 'go' }] },
        { role: 'assistant', blocks: [{ type: 'tool_call', id: 'call_bad', name: 'read_file', input: { path: '/missing' } }] },
        { role: 'user', blocks: [{ type: 'tool_result', id: 'call_bad', content: 'No such file: /missing', isError: true }] },
      ]));
      const messages = fake.requests.at(-1)!.body!.messages as Array<Record<string, unknown>>;
      if (kind === 'anthropic') {
        assert.deepEqual(messages.at(-1), { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_bad', content: 'No such file: /missing', is_error: true, cache_control: { type: 'ephemeral' } }] });
      } else {
        assert.deepEqual(messages.at(-1), { role: 'tool', tool_call_id: 'call_bad', content: 'Error: No such file: /missing' });
      }
    });
  });

  describe(`${kind} client: failures, retries and aborts`, () => {
    it('reports cached input apart from the rest of the input', async () => {
      const fake = await standIn(kind, { cache: { input: 40, read: 60, write: kind === 'anthropic' ? 5 : 0 } });
      try {
        const usage = (await collect(fake.client, request('cache me'))).find((e) => e.type === 'usage')?.usage as Usage;
        assert.equal(usage.inputTokens, 40);
        assert.equal(usage.cacheReadTokens, 60);
        assert.equal(usage.cacheWriteTokens, kind === 'anthropic' ? 5 : 0);
      } finally {
        await fake.close();
      }
    });

    const cases: Array<{ name: string; failure: Failure; kind: ProviderErrorKind; check?: (e: ProviderError) => void }> = [
      { name: 'a 429 is a rate limit with the server\'s wait', failure: { kind: 'rate_limit', retryAfterSec: 2 }, kind: 'rate_limit', check: (e) => { assert.equal(e.status, 429); assert.equal(e.retryAfterMs, 2000); } },
      { name: `an overloaded server (${kind === 'anthropic' ? 529 : 503}) is overloaded`, failure: { kind: 'overloaded' }, kind: 'overloaded', check: (e) => assert.equal(e.status, kind === 'anthropic' ? 529 : 503) },
      { name: 'a spent account answering 429 is quota, not a rate limit', failure: { kind: 'quota' }, kind: 'quota', check: (e) => assert.equal(e.status, 429) },
      { name: '402 is quota', failure: { kind: 'http', status: 402, type: 'payment_required', message: 'Insufficient credits.' }, kind: 'quota' },
      { name: 'a refused key is auth', failure: { kind: 'http', status: 401, type: 'authentication_error', message: 'invalid x-api-key' }, kind: 'auth' },
      {
        name: "the host's budget refusal is auth with its message intact",
        failure: { kind: 'http', status: 403, type: 'permission_error', message: 'NanoClaw budget for this conversation is spent (2.00 of 2.00 USD today); it renews at midnight UTC.' },
        kind: 'auth',
        check: (e) => assert.equal(e.message, 'NanoClaw budget for this conversation is spent (2.00 of 2.00 USD today); it renews at midnight UTC.'),
      },
      {
        name: 'a request over the context window is context_overflow',
        failure: kind === 'anthropic'
          ? { kind: 'http', status: 400, message: 'prompt is too long: 210000 tokens > 200000 maximum' }
          : { kind: 'http', status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 128000 tokens." },
        kind: 'context_overflow',
      },
      { name: 'any other 400 is invalid_request', failure: { kind: 'http', status: 400, message: 'max_tokens: must be positive' }, kind: 'invalid_request' },
      { name: 'a 500 is server', failure: { kind: 'http', status: 500, type: 'api_error', message: 'Internal server error' }, kind: 'server' },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const fake = await standIn(kind, { fail: () => c.failure });
        try {
          await assert.rejects(collect(fake.client, request('fail please')), failsWith(c.kind, (e) => { assert.equal(e.midStream, false); c.check?.(e); }));
        } finally {
          await fake.close();
        }
      });
    }

    it('no server at all is network', async () => {
      const url = await closedUrl();
      const client = modelClient({ kind, baseUrl: kind === 'openai' ? `${url}/v1` : url, apiKey: 'k', model: 'm' });
      await assert.rejects(collect(client, request('anyone?')), failsWith('network'));
    });

    it('a stream that errors midway is a stream error after the text it sent', async () => {
      const fake = await standIn(kind, { fail: () => ({ kind: 'midstream', text: 'The first words' }) });
      try {
        await assert.rejects(collect(withRetries(fake.client), request('break midway')), (err: unknown) => {
          failsWith('stream', (e) => assert.equal(e.midStream, true))(err);
          assert.equal(textOf((err as { seen: ModelEvent[] }).seen), 'The first words');
          return true;
        });
        assert.equal(fake.requests.length, 1, 'an answer the user saw part of is never repeated');
      } finally {
        await fake.close();
      }
    });

    it('a connection cut midway is a stream error after the text it sent', async () => {
      const fake = await standIn(kind, { fail: () => ({ kind: 'midstream', text: 'Cut after this', end: 'cut' }) });
      try {
        await assert.rejects(collect(fake.client, request('cut midway')), (err: unknown) => {
          failsWith('stream', (e) => assert.equal(e.midStream, true))(err);
          assert.equal(textOf((err as { seen: ModelEvent[] }).seen), 'Cut after this');
          return true;
        });
      } finally {
        await fake.close();
      }
    });

    it('retries a 429 with retry-after 1 s and then answers', async () => {
      const fake = await standIn(kind, { fail: (i) => (i === 0 ? { kind: 'rate_limit', retryAfterSec: 1 } : undefined) });
      const retries: Array<[ProviderErrorKind, number, number]> = [];
      try {
        const client = withRetries(fake.client, { onRetry: (e, n, ms) => retries.push([e.kind, n, ms]) });
        assert.equal(textOf(await collect(client, request('after the wait'))), 'Echo: after the wait');
        assert.deepEqual(retries, [['rate_limit', 1, 1000]]);
        assert.equal(fake.requests.length, 2);
      } finally {
        await fake.close();
      }
    });

    it('retries an overloaded server with backoff and then answers', async () => {
      const fake = await standIn(kind, { fail: (i) => (i < 2 ? { kind: 'overloaded' } : undefined) });
      try {
        const client = withRetries(fake.client, { backoffMs: [20, 40] });
        assert.equal(textOf(await collect(client, request('busy?'))), 'Echo: busy?');
        assert.equal(fake.requests.length, 3);
      } finally {
        await fake.close();
      }
    });

    it('gives up after the last retry with the last error', async () => {
      const fake = await standIn(kind, { fail: () => ({ kind: 'overloaded' }) });
      try {
        await assert.rejects(collect(withRetries(fake.client, { backoffMs: [10], maxRetries: 2 }), request('busy')), failsWith('overloaded'));
        assert.equal(fake.requests.length, 3);
      } finally {
        await fake.close();
      }
    });

    it('never retries a quota error', async () => {
      const fake = await standIn(kind, { fail: () => ({ kind: 'quota' }) });
      try {
        await assert.rejects(collect(withRetries(fake.client, { backoffMs: [10] }), request('spend')), failsWith('quota'));
        assert.equal(fake.requests.length, 1);
      } finally {
        await fake.close();
      }
    });

    it('does not wait out a rate limit longer than its threshold', async () => {
      const fake = await standIn(kind, { fail: () => ({ kind: 'rate_limit', retryAfterSec: 30 }) });
      try {
        await assert.rejects(collect(withRetries(fake.client, { maxRetryAfterMs: 10_000 }), request('later')), failsWith('rate_limit', (e) => assert.equal(e.retryAfterMs, 30_000)));
        assert.equal(fake.requests.length, 1);
      } finally {
        await fake.close();
      }
    });

    it('an abort mid-stream ends the call at once as aborted', { timeout: 10_000 }, async () => {
      const fake = await standIn(kind, { fail: () => ({ kind: 'midstream', text: 'Then silence', end: 'stall' }) });
      const stop = new AbortController();
      const seen: ModelEvent[] = [];
      try {
        await assert.rejects(async () => {
          for await (const ev of fake.client.stream(request('stall', stop.signal))) {
            seen.push(ev);
            stop.abort();
          }
        }, failsWith('aborted', (e) => assert.equal(e.midStream, true)));
        assert.equal(textOf(seen), 'Then silence');
      } finally {
        await fake.close();
      }
    });

    it('an abort while the model has not answered yet ends the call as aborted', { timeout: 10_000 }, async () => {
      const fake = await standIn(kind);
      const stop = new AbortController();
      try {
        const call = collect(fake.client, request('sleep: 60000', stop.signal));
        await fake.waitForRequests(1);
        stop.abort();
        await assert.rejects(call, failsWith('aborted', (e) => assert.equal(e.midStream, false)));
      } finally {
        await fake.close();
      }
    });

    it('an abort during the retry wait ends the call as aborted', { timeout: 10_000 }, async () => {
      const fake = await standIn(kind, { fail: () => ({ kind: 'rate_limit', retryAfterSec: 8 }) });
      const stop = new AbortController();
      try {
        const call = collect(withRetries(fake.client), request('wait', stop.signal));
        await fake.waitForRequests(1);
        stop.abort();
        await assert.rejects(call, failsWith('aborted'));
        assert.equal(fake.requests.length, 1);
      } finally {
        await fake.close();
      }
    });
  });
}

/** A loopback URL nothing listens on: a port just released. */
async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A server that answers every request with `write`, for wire variations the stand-ins do not produce. */
async function rawServer(write: (res: ServerResponse, req: IncomingMessage) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => write(res, req));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}

async function rawCall(kind: ProviderKind, write: (res: ServerResponse) => void): Promise<ModelEvent[]> {
  const raw = await rawServer(write);
  try {
    const client = modelClient({ kind, baseUrl: kind === 'openai' ? `${raw.url}/v1` : raw.url, apiKey: 'k', model: 'm' });
    return await collect(client, request('go'));
  } finally {
    await raw.close();
  }
}

function sse(res: ServerResponse, frames: string[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const f of frames) res.write(f);
  res.end();
}

const data = (value: unknown) => `data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`;
const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
  data({ id: 'c1', object: 'chat.completion.chunk', model: 'served-model', choices: [{ index: 0, delta, finish_reason: finish }], ...extra });

describe('OpenAI-compatible servers that differ from OpenAI', () => {
  it("takes a tool call sent whole in one chunk, Groq's x_groq usage and OpenRouter's comment lines", async () => {
    const events = await rawCall('openai', (res) => sse(res, [
      ': OPENROUTER PROCESSING\n\n',
      chunk({ role: 'assistant', content: 'Reading.' }),
      chunk({ tool_calls: [{ index: 0, id: 'call_whole', type: 'function', function: { name: 'read_file', arguments: '{"path":"/a"}' } }] }),
      ': OPENROUTER PROCESSING\n\n',
      chunk({}, 'tool_calls', { x_groq: { usage: { prompt_tokens: 30, completion_tokens: 7 } } }),
      data('[DONE]'),
    ]));
    assert.deepEqual(events, [
      { type: 'text', text: 'Reading.' },
      { type: 'tool_call', id: 'call_whole', name: 'read_file', input: { path: '/a' } },
      { type: 'usage', usage: { inputTokens: 30, outputTokens: 7, cacheReadTokens: 0, cacheWriteTokens: 0 } },
      { type: 'end', stopReason: 'tool_use', model: 'served-model' },
    ]);
  });

  it('gives a call without an id one, counts it as tool_use after finish_reason stop, and accepts no [DONE]', async () => {
    const events = await rawCall('openai', (res) => sse(res, [
      chunk({ tool_calls: [{ index: 0, function: { name: 'read_file', arguments: '{"pa' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'th":"/b"}' } }] }),
      chunk({}, 'stop'),
    ]));
    assert.deepEqual(events, [
      { type: 'tool_call', id: 'call_0', name: 'read_file', input: { path: '/b' } },
      { type: 'end', stopReason: 'tool_use', model: 'served-model' },
    ]);
  });

  it('passes arguments that are not JSON as __invalid_json, for the model to fix', async () => {
    const events = await rawCall('openai', (res) => sse(res, [
      chunk({ tool_calls: [{ index: 0, id: 'call_x', function: { name: 'read_file', arguments: '{"path": "/c"' } }] }),
      chunk({}, 'tool_calls'),
      data('[DONE]'),
    ]));
    assert.deepEqual(events[0], { type: 'tool_call', id: 'call_x', name: 'read_file', input: { __invalid_json: '{"path": "/c"' } });
  });

  it('an error object inside a 200 stream is a stream error', async () => {
    await assert.rejects(
      rawCall('openai', (res) => sse(res, [data({ id: 'c1', error: { code: 502, message: 'Provider returned error' }, choices: [] })])),
      failsWith('stream', (e) => { assert.equal(e.message, 'Provider returned error'); assert.equal(e.midStream, false); }),
    );
  });

  it('a stream that ends before any finish_reason is a stream error', async () => {
    await assert.rejects(rawCall('openai', (res) => sse(res, [chunk({ content: 'Half' })])), failsWith('stream', (e) => assert.equal(e.midStream, true)));
  });

  it('an event over 4 MB ends the call with a stream error', async () => {
    await assert.rejects(rawCall('openai', (res) => sse(res, [`data: "${'x'.repeat(5 * 1024 * 1024)}"\n\n`])), failsWith('stream', (e) => assert.match(e.message, /over \d+ characters/)));
  });

  it('reads only the first 64 KB of an error body, so one that never ends still classifies', { timeout: 10_000 }, async () => {
    await assert.rejects(
      rawCall('openai', (res) => {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.write(`<html><body>${'bad gateway '.repeat(10_000)}`); // 120 KB, and never ended
      }),
      failsWith('server', (e) => { assert.equal(e.status, 502); assert.match(e.message, /^The OpenAI-compatible API answered HTTP 502: bad gateway bad gateway/); assert.ok(e.message.length < 400); }),
    );
  });
});

const anthropicEvent = (value: { type: string; [k: string]: unknown }) => `event: ${value.type}\ndata: ${JSON.stringify(value)}\n\n`;

describe('Anthropic streams beyond the stand-in', () => {
  const start = anthropicEvent({ type: 'message_start', message: { model: 'claude-served', usage: { input_tokens: 11, cache_read_input_tokens: 4, output_tokens: 1 } } });

  it('skips pings and keeps the last cumulative usage of message_delta', async () => {
    const events = await rawCall('anthropic', (res) => sse(res, [
      start,
      anthropicEvent({ type: 'ping' }),
      anthropicEvent({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      anthropicEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }),
      anthropicEvent({ type: 'content_block_stop', index: 0 }),
      anthropicEvent({ type: 'message_delta', delta: { stop_reason: null }, usage: { output_tokens: 5 } }),
      anthropicEvent({ type: 'message_delta', delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 9 } }),
      anthropicEvent({ type: 'message_stop' }),
    ]));
    assert.deepEqual(events, [
      { type: 'text', text: 'Hi' },
      { type: 'usage', usage: { inputTokens: 11, outputTokens: 9, cacheReadTokens: 4, cacheWriteTokens: 0 } },
      { type: 'end', stopReason: 'max_tokens', model: 'claude-served' },
    ]);
  });

  it('an overloaded_error event before any output is overloaded, and retried', async () => {
    let calls = 0;
    const raw = await rawServer((res) => {
      calls++;
      if (calls <= 2) return sse(res, [start, anthropicEvent({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })]);
      sse(res, [start, anthropicEvent({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 1 } }), anthropicEvent({ type: 'message_stop' })]);
    });
    try {
      const client = modelClient({ kind: 'anthropic', baseUrl: raw.url, apiKey: 'k', model: 'm' });
      await assert.rejects(collect(client, request('go')), failsWith('overloaded', (e) => assert.equal(e.midStream, false)));
      const events = await collect(withRetries(client, { backoffMs: [10] }), request('go'));
      assert.equal(events.at(-1)?.type, 'end');
      assert.equal(calls, 3);
    } finally {
      await raw.close();
    }
  });

  it('a stream that ends before message_stop is a stream error', async () => {
    await assert.rejects(rawCall('anthropic', (res) => sse(res, [start])), failsWith('stream'));
  });
});

describe('classifying a refused request', () => {
  const headers = (h: Record<string, string> = {}) => new Headers(h);

  it('reads retry-after-ms before retry-after, and an HTTP date', () => {
    assert.equal(classifyHttpError(429, headers({ 'retry-after-ms': '1500', 'retry-after': '9' }), '{}', 'API').retryAfterMs, 1500);
    const date = new Date(Date.now() + 60_000).toUTCString();
    const ms = classifyHttpError(429, headers({ 'retry-after': date }), '{}', 'API').retryAfterMs!;
    assert.ok(ms > 50_000 && ms <= 60_000, String(ms));
  });

  it('OpenAI insufficient_quota is quota and rate_limit_exceeded a rate limit, both on 429', () => {
    const body = (code: string) => JSON.stringify({ error: { message: 'm', type: code, code } });
    assert.equal(classifyHttpError(429, headers(), body('insufficient_quota'), 'API').kind, 'quota');
    assert.equal(classifyHttpError(429, headers(), body('rate_limit_exceeded'), 'API').kind, 'rate_limit');
  });

  it('an answer without a message says which status came back', () => {
    const err = classifyHttpError(418, headers(), '', 'OpenAI-compatible API');
    assert.equal(err.kind, 'invalid_request');
    assert.match(err.message, /HTTP 418/);
  });
});
