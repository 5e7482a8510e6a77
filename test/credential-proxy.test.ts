/**
 * The credential proxy: the only model path out of a container. A real proxy
 * on a Unix socket in a temp folder, the fake Anthropic API behind it, and
 * clients talking to the socket as the container's engine does (raw HTTP, and
 * the real `@anthropic-ai/sdk` with a fetch that dials the socket).
 */
import { UsageMeter } from '../src/sandbox/usage-meter.ts';
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { startCredentialProxy, type CredentialProxy, type CredentialProxyOptions, type ModelCall } from '../src/sandbox/credential-proxy.ts';
import type { MeteredUsage } from '../src/sandbox/pricing.ts';

const REAL_KEY = 'sk-ant-test-REAL-KEY-proxy-0123456789';
const MODEL = 'claude-sonnet-5-5';
const BASH_TOOL = { name: 'Bash', description: 'Runs a shell command.', input_schema: { type: 'object' as const, properties: { command: { type: 'string' } } } };
const MESSAGE = JSON.stringify({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'hello through the proxy' }] });

interface Answer { status: number; headers: http.IncomingHttpHeaders; text: string; json: any }

/** One HTTP request over a Unix socket, path sent exactly as given (no normalisation). */
function call(socketPath: string, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      socketPath, method: opts.method ?? 'POST', path: opts.path ?? '/v1/messages',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...opts.headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        let json: any;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body ?? (opts.method && opts.method !== 'POST' ? undefined : MESSAGE));
  });
}

/** A `fetch` for the Anthropic SDK that dials the proxy's Unix socket, as the container's loopback pipe does. */
function unixFetch(socketPath: string) {
  return async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const body = init.body == null ? undefined
      : typeof init.body === 'string' ? init.body : Buffer.from(await new Response(init.body).arrayBuffer());
    return new Promise<Response>((resolve, reject) => {
      const req = http.request({ socketPath, method: init.method ?? 'GET', path: url.pathname + url.search, headers }, (res) => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        resolve(new Response(Readable.toWeb(res) as ReadableStream, { status: res.statusCode, headers: h }));
      });
      req.on('error', reject);
      init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end(body);
    });
  };
}

describe('credential proxy (container token in, real key out)', () => {
  let dir: string;
  let fake: FakeAnthropic;
  let n = 0;
  const proxies: CredentialProxy[] = [];

  /** A proxy for one "container" with its own socket and token, like AgentContainer.launch starts. */
  async function proxy(overrides: Partial<CredentialProxyOptions> = {}) {
    const socketPath = join(dir, `model-${++n}.sock`);
    const token = `container-token-${n}-${Math.random().toString(36).slice(2)}`;
    const usage: MeteredUsage[] = [];
    const requests: string[] = [];
    const p = await startCredentialProxy({
      socketPath, token, upstream: fake.url, apiKey: REAL_KEY,
      onUsage: (u) => usage.push(u), onRequest: (path) => requests.push(path), ...overrides,
    });
    proxies.push(p);
    return { p, socketPath, token, usage, requests };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ncp-'));
    fake = await startFakeAnthropic({
      // `slow` stands for a long model turn, so a revoke can land while it is in flight.
      script: (body) => (JSON.stringify(body.messages).includes('slow please') ? { blocks: [{ type: 'text', text: 'too late' }], delayMs: 10_000 } : undefined),
    });
  });
  afterEach(async () => { for (const p of proxies.splice(0)) await p.close(); });
  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards a request with the right token, the real key swapped in and the token nowhere upstream', async () => {
    const { socketPath, token } = await proxy();
    const before = fake.requests.length;
    const res = await call(socketPath, { headers: { 'x-api-key': token, 'x-custom-trace': 'kept' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.type, 'message');
    assert.deepEqual(res.json.content, [{ type: 'text', text: 'OK' }]);

    const seen = fake.requests.slice(before);
    assert.equal(seen.length, 1);
    const up = seen[0];
    assert.equal(up.path, '/v1/messages');
    assert.equal(up.headers['x-api-key'], REAL_KEY);
    assert.equal(up.headers.authorization, undefined);
    assert.equal(up.headers['x-custom-trace'], 'kept', 'ordinary headers pass through');
    assert.equal(up.headers['anthropic-version'], '2023-06-01');
    assert.ok(!JSON.stringify(up.headers).includes(token), `the container token reached the model endpoint: ${JSON.stringify(up.headers)}`);
    assert.deepEqual(up.body, JSON.parse(MESSAGE), 'the body arrives unchanged');
  });

  it('accepts the token as "Authorization: Bearer" too, and still sends only the real key upstream', async () => {
    const { socketPath, token } = await proxy();
    const before = fake.requests.length;
    const res = await call(socketPath, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, res.text);
    const [up] = fake.requests.slice(before);
    assert.equal(up.headers['x-api-key'], REAL_KEY);
    assert.equal(up.headers.authorization, undefined, 'the bearer header is not passed through');
    assert.ok(!JSON.stringify(up.headers).includes(token));
  });

  it('answers a missing or wrong token with 401 and forwards nothing', async () => {
    const { socketPath, token, requests } = await proxy();
    const before = fake.requests.length;
    const attempts: Array<Record<string, string>> = [
      {},
      { 'x-api-key': '' },
      { 'x-api-key': 'wrong' },
      { 'x-api-key': token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a') },
      { 'x-api-key': token + 'x' },
      { 'x-api-key': REAL_KEY },
      { authorization: `Basic ${token}` },
      { authorization: 'Bearer ' },
    ];
    for (const headers of attempts) {
      const res = await call(socketPath, { headers });
      assert.equal(res.status, 401, `${JSON.stringify(headers)} -> ${res.status} ${res.text}`);
      assert.equal(res.json?.error?.type, 'authentication_error');
    }
    assert.equal(fake.requests.length, before, 'nothing reached the model endpoint');
    assert.deepEqual(requests, []);
  });

  it('refuses the token once revoked', async () => {
    const { p, socketPath, token } = await proxy();
    assert.equal((await call(socketPath, { headers: { 'x-api-key': token } })).status, 200);
    p.revoke();
    const before = fake.requests.length;
    const res = await call(socketPath, { headers: { 'x-api-key': token } });
    assert.equal(res.status, 401);
    assert.match(res.json.error.message, /revoked/);
    assert.equal(fake.requests.length, before);
  });

  it('cuts a request that is in flight when the token is revoked: the late answer never reaches the container', async () => {
    const { p, socketPath, token } = await proxy();
    const body = JSON.stringify({ model: MODEL, max_tokens: 64, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'slow please' }] });
    const before = fake.requests.length;
    const pending = call(socketPath, { headers: { 'x-api-key': token }, body }).then((a) => a, (err: Error) => err);
    await fake.waitForRequests(before + 1, 5000);
    p.revoke();
    const outcome = await pending;
    // The proxy may answer 502 (nothing was sent yet) or drop the connection; never the answer.
    if (!(outcome instanceof Error)) {
      assert.equal(outcome.status, 502, outcome.text);
      assert.ok(!outcome.text.includes('too late'));
    }
  });

  it('does not accept one container\'s token on another container\'s proxy', async () => {
    const a = await proxy();
    const b = await proxy();
    const before = fake.requests.length;
    const res = await call(b.socketPath, { headers: { 'x-api-key': a.token } });
    assert.equal(res.status, 401);
    assert.equal(fake.requests.length, before);
    // Each token still works where it belongs.
    assert.equal((await call(a.socketPath, { headers: { 'x-api-key': a.token } })).status, 200);
    assert.equal((await call(b.socketPath, { headers: { 'x-api-key': b.token } })).status, 200);
  });

  it('forwards nothing but the model endpoints: other API paths get 403', async () => {
    const { socketPath, token, requests } = await proxy();
    const before = fake.requests.length;
    const refused: Array<[string, string]> = [
      ['GET', '/v1/models'],
      ['POST', '/v1/files'],
      ['POST', '/v1/messages/batches'],
      ['POST', '/v1/messages/../files'],
      ['POST', '/v1/messages/..%2Ffiles'],
      ['POST', '/v1/messages/'],
      ['POST', '/v1/messagesx'],
      ['POST', '//v1/messages'],
      ['POST', '/v1/complete'],
      ['GET', '/v1/messages'],
      ['DELETE', '/v1/messages'],
      ['POST', '/v1/messages/batches?beta=true'],
      ['POST', 'http://evil.example/v1/messages'],
    ];
    for (const [method, path] of refused) {
      const res = await call(socketPath, { method, path, headers: { 'x-api-key': token } });
      assert.equal(res.status, 403, `${method} ${path} -> ${res.status} ${res.text}`);
      assert.equal(res.json?.error?.type, 'permission_error');
    }
    assert.equal(fake.requests.length, before, `forwarded: ${fake.requests.slice(before).map((r) => `${r.method} ${r.url}`).join(', ')}`);
    assert.deepEqual(requests, []);

    // The model endpoints themselves, with the query string Claude Code adds, do pass.
    assert.equal((await call(socketPath, { path: '/v1/messages?beta=true', headers: { 'x-api-key': token } })).status, 200);
    assert.equal((await call(socketPath, { path: '/v1/messages/count_tokens', headers: { 'x-api-key': token } })).status, 200);
    assert.deepEqual(requests, ['/v1/messages?beta=true', '/v1/messages/count_tokens']);
  });

  it('reads usage from a streamed answer, as the real SDK streams it through the socket', async () => {
    const { socketPath, token, usage } = await proxy();
    const client = new Anthropic({ apiKey: token, baseURL: 'http://model.invalid', maxRetries: 0, fetch: unixFetch(socketPath) as any });
    const before = fake.requests.length;
    const message = await client.messages
      .stream({ model: MODEL, max_tokens: 256, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'count these tokens '.repeat(20) }] })
      .finalMessage();
    assert.match(message.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), /^Echo: count these tokens/);
    assert.equal(fake.requests[before].headers['x-api-key'], REAL_KEY);
    assert.equal(usage.length, 1);
    assert.ok(usage[0].inputTokens > 0 && usage[0].outputTokens > 0, JSON.stringify(usage));
    assert.deepEqual(usage[0], { provider: 'anthropic', model: MODEL, inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens, cacheWriteTokens: 0, cacheReadTokens: 0 });
  });

  it('hands on the answer\'s text as it streams (live views), and nothing from a whole answer', async () => {
    const texts: string[] = [];
    const { socketPath, token } = await proxy({ onText: (t) => texts.push(t) });
    const client = new Anthropic({ apiKey: token, baseURL: 'http://model.invalid', maxRetries: 0, fetch: unixFetch(socketPath) as any });
    const message = await client.messages
      .stream({ model: MODEL, max_tokens: 256, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'a sentence long enough to come in several pieces' }] })
      .finalMessage();
    const said = message.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    assert.ok(texts.length > 1, JSON.stringify(texts));
    assert.equal(texts.join(''), said);
    texts.length = 0;
    await client.messages.create({ model: MODEL, max_tokens: 256, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'whole, please' }] });
    assert.deepEqual(texts, []);
  });

  it('reads the text of an OpenAI-compatible stream too, one piece per chunk', () => {
    const texts: string[] = [];
    const meter = new UsageMeter('text/event-stream', 'openai', (t) => texts.push(t));
    const chunk = (content: string | null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: content === null ? {} : { content } }] })}\n\n`;
    for (const c of [chunk('Hel'), chunk('lo'), chunk(null), chunk(' there'), 'data: [DONE]\n\n']) meter.push(Buffer.from(c));
    assert.deepEqual(texts, ['Hel', 'lo', ' there']);
  });

  it('reads usage from a whole (non-streamed) answer', async () => {
    const { socketPath, token, usage } = await proxy();
    const client = new Anthropic({ apiKey: token, baseURL: 'http://model.invalid', maxRetries: 0, fetch: unixFetch(socketPath) as any });
    const message = await client.messages.create({ model: MODEL, max_tokens: 256, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'whole answer please' }] });
    assert.deepEqual(message.content, [{ type: 'text', text: 'Echo: whole answer please' }]);
    assert.equal(usage.length, 1);
    assert.ok(usage[0].inputTokens > 0 && usage[0].outputTokens > 0, JSON.stringify(usage));
    assert.deepEqual(usage[0], { provider: 'anthropic', model: MODEL, inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens, cacheWriteTokens: 0, cacheReadTokens: 0 });
  });

  it('counts no usage for a refused or failed request', async () => {
    const { socketPath, token, usage } = await proxy();
    await call(socketPath, { headers: { 'x-api-key': 'wrong' } });
    const bad = await call(socketPath, { headers: { 'x-api-key': token }, body: '{"model": "x"}' });
    assert.equal(bad.status, 400, 'the upstream\'s own error passes through');
    assert.equal(bad.json?.error?.type, 'invalid_request_error');
    assert.deepEqual(usage, []);
  });

  it('answers 502 with a readable error when the model endpoint is down', async () => {
    const probe = http.createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const { socketPath, token, usage } = await proxy({ upstream: `http://127.0.0.1:${port}` });
    const res = await call(socketPath, { headers: { 'x-api-key': token } });
    assert.equal(res.status, 502);
    assert.equal(res.json?.type, 'error');
    assert.equal(res.json?.error?.type, 'api_error');
    assert.match(res.json.error.message, new RegExp(`127\\.0\\.0\\.1:${port}.*did not answer.*ECONNREFUSED`));
    assert.deepEqual(usage, []);

    // The real SDK surfaces it as an API error a user can read, not a hang.
    const client = new Anthropic({ apiKey: token, baseURL: 'http://model.invalid', maxRetries: 0, fetch: unixFetch(socketPath) as any });
    await assert.rejects(client.messages.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      (err: any) => err.status === 502 && /did not answer/.test(err.message));
  });

  it('cuts a streamed answer mid-way when the token is revoked', async () => {
    // An upstream that starts streaming and then stalls, like a long generation.
    const stalled = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 5, output_tokens: 1 } } })}\n\n`);
    });
    stalled.listen(0, '127.0.0.1');
    await once(stalled, 'listening');
    try {
      const { p, socketPath, token } = await proxy({ upstream: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}` });
      const ended = new Promise<{ text: string; complete: boolean }>((resolve) => {
        const req = http.request({ socketPath, method: 'POST', path: '/v1/messages', headers: { 'x-api-key': token, 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            text += d;
            if (text.includes('message_start')) p.revoke();
          });
          res.on('end', () => resolve({ text, complete: res.complete }));
          res.on('error', () => resolve({ text, complete: false }));
          res.on('close', () => resolve({ text, complete: res.complete }));
        });
        req.on('error', () => resolve({ text: '', complete: false }));
        req.end(MESSAGE);
      });
      const timeout = new Promise<{ text: string; complete: boolean | 'still open' }>((r) => setTimeout(() => r({ text: '', complete: 'still open' }), 5000).unref());
      const { text, complete } = await Promise.race([ended, timeout]);
      assert.equal(complete, false, 'the stream was cut, not finished or left hanging');
      assert.match(text, /message_start/);
    } finally {
      stalled.closeAllConnections();
      await new Promise<void>((r) => stalled.close(() => r()));
    }
  });

  it('makes its socket connectable by the container\'s user', async () => {
    const { socketPath } = await proxy();
    assert.equal(statSync(socketPath).mode & 0o777, 0o666);
  });
});

describe('credential proxy: metering every token kind, compressed or not', () => {
  let dir: string;
  let n = 0;
  const open: Array<{ close(): Promise<void> }> = [];
  const CACHE = { input_tokens: 12, cache_creation_input_tokens: 2_000, cache_read_input_tokens: 30_000 };

  async function setup(fakeOpts: Parameters<typeof startFakeAnthropic>[0] = {}, overrides: Partial<CredentialProxyOptions> = {}) {
    const fake = await startFakeAnthropic(fakeOpts);
    open.push(fake);
    const socketPath = join(dir, `meter-${++n}.sock`);
    const token = `meter-token-${n}`;
    const usage: MeteredUsage[] = [];
    const calls: ModelCall[] = [];
    const p = await startCredentialProxy({ socketPath, token, upstream: fake.url, apiKey: REAL_KEY, onUsage: (u) => usage.push(u), onCall: (c) => calls.push(c), ...overrides });
    open.push(p);
    const client = new Anthropic({ apiKey: token, baseURL: 'http://model.invalid', maxRetries: 0, fetch: unixFetch(socketPath) as any });
    return { fake, socketPath, token, usage, calls, client };
  }

  before(() => { dir = mkdtempSync(join(tmpdir(), 'ncm-')); });
  afterEach(async () => { for (const o of open.splice(0)) await o.close(); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('counts cache writes and cache reads, with the answering model, from a streamed answer', async () => {
    const { usage, calls, client } = await setup({ usage: () => CACHE });
    const message = await client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 256, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'cached turn' }] }).finalMessage();
    assert.equal(message.usage.cache_read_input_tokens, 30_000, 'the stand-in reported cache reads');
    assert.deepEqual(usage, [{ provider: 'anthropic', model: 'claude-haiku-4-5', inputTokens: 12, outputTokens: message.usage.output_tokens, cacheWriteTokens: 2_000, cacheReadTokens: 30_000 }]);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].cacheReadTokens, 30_000, 'the audit record carries the cache figures');
    assert.equal(calls[0].unmetered, undefined);
  });

  it('counts cache tokens from a whole (non-streamed) answer', async () => {
    const { usage, client } = await setup({ usage: () => CACHE });
    const message = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'whole' }] });
    assert.deepEqual(usage, [{ provider: 'anthropic', model: MODEL, inputTokens: 12, outputTokens: message.usage.output_tokens, cacheWriteTokens: 2_000, cacheReadTokens: 30_000 }]);
  });

  it('asks upstream for an uncompressed answer, whatever the container asked for', async () => {
    const { fake, socketPath, token, usage } = await setup({ compress: 'when-accepted', usage: () => CACHE });
    const before = fake.requests.length;
    const res = await call(socketPath, { headers: { 'x-api-key': token, 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(res.status, 200, res.text);
    assert.equal(fake.requests[before].headers['accept-encoding'], 'identity');
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.json.type, 'message');
    assert.equal(usage.length, 1);
    assert.equal(usage[0].cacheReadTokens, 30_000);
  });

  it('still meters an answer that arrives gzip-compressed anyway, streamed and whole, and passes it on decoded', async () => {
    const { socketPath, token, usage, client } = await setup({ compress: 'always', usage: () => CACHE });
    // The raw answer really was compressed on the way in: the client gets it decoded, with no stale encoding header.
    const raw = await call(socketPath, { headers: { 'x-api-key': token } });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['content-encoding'], undefined);
    assert.equal(raw.json.type, 'message', raw.text.slice(0, 200));
    const streamed = await client.messages.stream({ model: MODEL, max_tokens: 256, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'gzip me' }] }).finalMessage();
    assert.match(streamed.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), /^Echo: gzip me/);
    assert.equal(usage.length, 2, JSON.stringify(usage));
    for (const u of usage) assert.deepEqual([u.inputTokens, u.cacheWriteTokens, u.cacheReadTokens], [12, 2_000, 30_000]);
    assert.ok(usage.every((u) => u.outputTokens > 0));
  });

  it('reports an answer it cannot read as unmetered instead of recording nothing in silence', async () => {
    // A body that claims gzip but is not, and one in an encoding the proxy does not know.
    const upstream = http.createServer((req, res) => {
      req.resume();
      const unknown = req.headers['x-case'] === 'unknown';
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': unknown ? 'compress' : 'gzip' });
      res.end('this is not gzip at all, and not JSON either');
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    open.push({ close: () => new Promise<void>((r) => { upstream.closeAllConnections(); upstream.close(() => r()); }) });
    const socketPath = join(dir, `meter-${++n}.sock`);
    const usage: MeteredUsage[] = [];
    const calls: ModelCall[] = [];
    const reported = new EventEmitter();
    open.push(await startCredentialProxy({
      socketPath, token: 't', upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, apiKey: REAL_KEY,
      onUsage: (u) => usage.push(u), onCall: (c) => { calls.push(c); reported.emit('call'); },
    }));

    const unknown = await call(socketPath, { headers: { 'x-api-key': 't', 'x-case': 'unknown' } });
    assert.equal(unknown.status, 502);
    assert.match(unknown.json.error.message, /content-encoding "compress".*cannot read it to count usage/);
    assert.equal(unknown.headers['x-should-retry'], 'false');

    const corrupt = await call(socketPath, { headers: { 'x-api-key': 't' } }).then((a) => a, (err: Error) => err);
    if (!(corrupt instanceof Error)) assert.doesNotMatch(corrupt.text, /not gzip at all/, 'undecodable bytes were not passed on as if fine');
    while (calls.length < 2) await once(reported, 'call');
    assert.deepEqual(usage, []);
    assert.equal(calls.length, 2);
    assert.match(calls[0].unmetered ?? '', /compress/);
    assert.match(calls[1].unmetered ?? '', /could not be decoded \(gzip\)/);
  });
});

describe('credential proxy: limits the agent cannot lift', () => {
  let dir: string;
  let n = 0;
  const open: Array<{ close(): Promise<void> }> = [];
  before(() => { dir = mkdtempSync(join(tmpdir(), 'ncl-')); });
  afterEach(async () => { for (const o of open.splice(0)) await o.close(); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function proxyTo(upstream: string, overrides: Partial<CredentialProxyOptions> = {}) {
    const socketPath = join(dir, `limit-${++n}.sock`);
    const usage: MeteredUsage[] = [];
    const calls: ModelCall[] = [];
    const reported = new EventEmitter();
    open.push(await startCredentialProxy({
      socketPath, token: 't', upstream, apiKey: REAL_KEY, onUsage: (u) => usage.push(u),
      onCall: (c) => { calls.push(c); reported.emit('call'); }, ...overrides,
    }));
    /** Resolves once the proxy has reported `count` calls: a cut call is reported when the proxy sees the cut, not when the client does. */
    const reportedCalls = async (count: number) => { while (calls.length < count) await once(reported, 'call'); };
    return { socketPath, usage, calls, reportedCalls };
  }

  it('lets maxInFlight calls through at once; one more waits its turn, and past the line a call gets 429 with retry-after', async () => {
    let active = 0;
    let most = 0;
    let open_!: () => void;
    const gate = new Promise<void>((r) => { open_ = r; });
    const fake = await startFakeAnthropic({
      script: async (body) => {
        if (!JSON.stringify(body.messages).includes('hold')) return undefined;
        most = Math.max(most, ++active);
        await gate;
        active--;
        return { blocks: [{ type: 'text', text: 'released' }] };
      },
    });
    open.push(fake);
    const { socketPath, calls } = await proxyTo(fake.url, { maxInFlight: 2, maxWaiting: 1 });
    const body = (i: number) => JSON.stringify({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: `hold ${i}` }] });
    const first = [call(socketPath, { headers: { 'x-api-key': 't' }, body: body(1) }), call(socketPath, { headers: { 'x-api-key': 't' }, body: body(2) })];
    await fake.waitForRequests(2, 5000);
    // Two more: one fits in the line, the other is turned away at once.
    const more = [call(socketPath, { headers: { 'x-api-key': 't' }, body: body(3) }), call(socketPath, { headers: { 'x-api-key': 't' }, body: body(4) })];
    const refused = await Promise.race(more);
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.json.error.type, 'rate_limit_error');
    assert.match(refused.json.error.message, /2 model calls are in flight and 1 waiting.*model\.maxCallsInFlight/);
    assert.ok(Number(refused.headers['retry-after']) > 0, 'the SDK is told when to retry');
    assert.equal(fake.requests.length, 2, 'the waiting call has not reached the model while two are in flight');

    open_();
    const done = await Promise.all([...first, ...more]);
    assert.deepEqual(done.map((d) => d.status).sort(), [200, 200, 200, 429]);
    assert.equal(fake.requests.length, 3);
    assert.equal(most, 2, 'never more than two calls at the model at once');
    assert.equal(calls.filter((c) => c.status === 429).length, 1, 'the refusal is reported for the audit log');
  });

  it('checks the budget when a waiting call leaves, not when it arrived', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const fake = await startFakeAnthropic({ script: async () => { await gate; return undefined; } });
    open.push(fake);
    let spent = false;
    const { socketPath } = await proxyTo(fake.url, {
      maxInFlight: 1, onUsage: () => { spent = true; },
      checkBudget: () => (spent ? 'NanoClaw budget: spent' : undefined),
    });
    const a = call(socketPath, { headers: { 'x-api-key': 't' } });
    await fake.waitForRequests(1, 5000);
    const b = call(socketPath, { headers: { 'x-api-key': 't' } });
    release();
    assert.equal((await a).status, 200);
    const second = await b;
    assert.equal(second.status, 403, 'the call that waited behind the spending one is refused');
    assert.match(second.json.error.message, /NanoClaw budget/);
    assert.equal(fake.requests.length, 1);
  });

  it('refuses a request body over maxRequestBytes with 413, declared or chunked, and forwards none of it', async () => {
    const fake = await startFakeAnthropic();
    open.push(fake);
    const { socketPath, calls } = await proxyTo(fake.url, { maxRequestBytes: 4096 });
    const big = JSON.stringify({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'x'.repeat(8000) }] });
    const declared = await call(socketPath, { headers: { 'x-api-key': 't' }, body: big });
    assert.equal(declared.status, 413);
    assert.equal(declared.json.error.type, 'request_too_large');
    assert.match(declared.json.error.message, /larger than 4096 bytes \(model\.maxRequestBytes\)/);
    const chunked = await call(socketPath, { headers: { 'x-api-key': 't', 'transfer-encoding': 'chunked' }, body: big });
    assert.equal(chunked.status, 413);
    assert.equal(fake.requests.length, 0, 'nothing reached the model');
    assert.deepEqual(calls.map((c) => c.status), [413, 413]);
    // A body within the cap still passes.
    assert.equal((await call(socketPath, { headers: { 'x-api-key': 't' } })).status, 200);
  });

  it('cuts a call whose upstream goes silent: 504 before an answer, a cut stream after, with the usage read so far', async () => {
    // Never answers one request; starts streaming the other and stalls.
    const upstream = http.createServer((req, res) => {
      req.resume();
      if (req.headers['x-case'] === 'silent') return;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { model: MODEL, usage: { input_tokens: 5, cache_read_input_tokens: 900, output_tokens: 1 } } })}\n\n`);
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    open.push({ close: () => new Promise<void>((r) => { upstream.closeAllConnections(); upstream.close(() => r()); }) });
    const { socketPath, usage, reportedCalls } = await proxyTo(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, { timeoutMs: 300 });

    const silent = await call(socketPath, { headers: { 'x-api-key': 't', 'x-case': 'silent' } });
    assert.equal(silent.status, 504);
    assert.match(silent.json.error.message, /did not answer.*model\.timeoutSec/);

    const stalled = await call(socketPath, { headers: { 'x-api-key': 't' } }).then((a) => a, (err: Error) => err);
    if (!(stalled instanceof Error)) assert.match(stalled.text, /message_start/);
    await reportedCalls(2);
    assert.deepEqual(usage, [{ provider: 'anthropic', model: MODEL, inputTokens: 5, outputTokens: 1, cacheWriteTokens: 0, cacheReadTokens: 900 }], 'billed input still counts');
  });
});

describe('credential proxy: each provider by name, with its own key in its own header', () => {
  const ANTHROPIC_KEY = 'sk-ant-ROUTE-anthropic-key-0123';
  const OPENAI_KEY = 'sk-ROUTE-openai-key-4567';
  const CHAT = JSON.stringify({ model: 'gpt-test-1', messages: [{ role: 'user', content: 'hello' }] });
  const STREAMED_CHAT = JSON.stringify({ model: 'gpt-test-1', stream: true, messages: [{ role: 'user', content: 'hello' }], temperature: 0.2 });
  let dir: string;
  let n = 0;
  let fake: FakeAnthropic;
  let upstream: Upstream;
  const open: Array<{ close(): Promise<void> }> = [];

  interface Seen { method: string; path: string; headers: http.IncomingHttpHeaders; raw: string }
  interface Upstream { url: string; requests: Seen[]; close(): Promise<void> }

  /** One server standing in for several providers, recording every request as it arrived. */
  async function startUpstream(answer: (seen: Seen, res: http.ServerResponse) => void): Promise<Upstream> {
    const requests: Seen[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') };
        requests.push(seen);
        answer(seen, res);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      requests,
      close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
    };
  }

  /**
   * The Chat Completions API as OpenAI-compatible servers speak it: a whole
   * answer, or an SSE stream with an OpenRouter-style comment line, whose
   * usage chunk comes only when the request asked for it (`x-case: groq`
   * reports it as Groq did, in `x_groq.usage`; `x-case: error` fails midway
   * inside the 200 stream, as OpenRouter does; `x-case: no-usage` ignores
   * `include_usage`, as some servers do). `/v1/messages` answers as an
   * Anthropic stream that fails midway with an `error` event.
   */
  function answer(seen: Seen, res: http.ServerResponse): void {
    const sse = (data: unknown) => res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    if (seen.path.startsWith('/v1/messages')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { model: 'claude-flaky', usage: { input_tokens: 30, output_tokens: 1 } } })}\n\n`);
      res.end(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })}\n\n`);
      return;
    }
    if (!seen.path.endsWith('/chat/completions')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ error: { message: 'no such endpoint', type: 'invalid_request_error' } }));
    }
    const body = JSON.parse(seen.raw);
    const usage = { prompt_tokens: 1200, completion_tokens: 7, total_tokens: 1207, prompt_tokens_details: { cached_tokens: 1000 } };
    const chunk = (extra: object) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-test-1-0601', ...extra });
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-test-1-0601', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }], usage }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (seen.headers['x-case'] === 'crlf') {
      // CRLF line ends, one event's data on two lines, and the usage event written a few bytes at a time.
      const text = `: keep-alive\r\n\r\ndata: ${JSON.stringify(chunk({ choices: [{ index: 0, delta: { content: 'Hi' } }] }))}\r\n\r\n`
        + `data: {"choices": [],\r\ndata: "usage": ${JSON.stringify(usage)}}\r\n\r\ndata: [DONE]\r\n\r\n`;
      void (async () => {
        for (let i = 0; i < text.length; i += 7) {
          res.write(text.slice(i, i + 7));
          await new Promise((r) => setImmediate(r));
        }
        res.end();
      })();
      return;
    }
    res.write(': OPENROUTER PROCESSING\n\n');
    sse(chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }], usage: null }));
    if (seen.headers['x-case'] === 'error') {
      sse(chunk({ error: { code: 'server_error', message: 'The upstream model failed mid-stream' }, choices: [{ index: 0, delta: {}, finish_reason: 'error' }] }));
      return void res.end();
    }
    if (seen.headers['x-case'] === 'groq') {
      sse(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], x_groq: { id: 'req_1', usage: { prompt_tokens: 50, completion_tokens: 9, total_tokens: 59 } } }));
    } else {
      sse(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null }));
      if (body.stream_options?.include_usage && seen.headers['x-case'] !== 'no-usage') sse(chunk({ choices: [], usage }));
    }
    sse('[DONE]');
    res.end();
  }

  /** A proxy with an Anthropic provider (the default), an OpenAI one and a keyless local one, like a container with a fallback chain. */
  async function routed(overrides: Partial<CredentialProxyOptions> = {}) {
    const socketPath = join(dir, `route-${++n}.sock`);
    const token = `route-token-${n}-${Math.random().toString(36).slice(2)}`;
    const usage: MeteredUsage[] = [];
    const calls: ModelCall[] = [];
    const reported = new EventEmitter();
    open.push(await startCredentialProxy({
      socketPath, token,
      routes: [
        { name: 'claude', kind: 'anthropic', upstream: fake.url, apiKey: ANTHROPIC_KEY },
        { name: 'gpt', kind: 'openai', upstream: `${upstream.url}/v1`, apiKey: OPENAI_KEY },
        { name: 'local', kind: 'openai', upstream: `${upstream.url}/local/v1/` },
        { name: 'flaky', kind: 'anthropic', upstream: upstream.url, apiKey: ANTHROPIC_KEY },
      ],
      defaultRoute: 'claude',
      onUsage: (u) => usage.push(u), onCall: (c) => { calls.push(c); reported.emit('call'); }, ...overrides,
    }));
    /** Resolves once the proxy has reported `count` calls (it reports a streamed call when its stream ends). */
    const reportedCalls = async (count: number) => { while (calls.length < count) await once(reported, 'call'); };
    return { socketPath, token, usage, calls, reportedCalls };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ncr-'));
    fake = await startFakeAnthropic();
    upstream = await startUpstream(answer);
  });
  afterEach(async () => { for (const o of open.splice(0)) await o.close(); });
  after(async () => {
    await fake.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends each provider its own key in its own header, never the other\'s, and never the container token', async () => {
    const { socketPath, token, calls, reportedCalls } = await routed();
    const fakeBefore = fake.requests.length;
    const upBefore = upstream.requests.length;
    // Each form of the container token on each route: the proxy takes either.
    const claude = await call(socketPath, { path: '/p/claude/v1/messages?beta=true', headers: { authorization: `Bearer ${token}` } });
    assert.equal(claude.status, 200, claude.text);
    assert.equal(claude.json.type, 'message');
    const bare = await call(socketPath, { path: '/v1/messages', headers: { 'x-api-key': token } });
    assert.equal(bare.status, 200, 'bare /v1/messages goes to the default provider');
    const gpt = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { 'x-api-key': token, 'x-custom-trace': 'kept' }, body: CHAT });
    assert.equal(gpt.status, 200, gpt.text);
    assert.equal(gpt.json.choices[0].message.content, 'Hi');
    const gptBearer = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { authorization: `Bearer ${token}` }, body: CHAT });
    assert.equal(gptBearer.status, 200, gptBearer.text);

    const toAnthropic = fake.requests.slice(fakeBefore);
    assert.deepEqual(toAnthropic.map((r) => r.path), ['/v1/messages', '/v1/messages']);
    for (const r of toAnthropic) {
      assert.equal(r.headers['x-api-key'], ANTHROPIC_KEY);
      assert.equal(r.headers.authorization, undefined);
    }
    const toOpenAI = upstream.requests.slice(upBefore);
    assert.deepEqual(toOpenAI.map((r) => r.path), ['/v1/chat/completions', '/v1/chat/completions']);
    for (const r of toOpenAI) {
      assert.equal(r.headers.authorization, `Bearer ${OPENAI_KEY}`);
      assert.equal(r.headers['x-api-key'], undefined);
      assert.equal(r.raw, CHAT, 'a request that does not stream arrives byte for byte');
    }
    assert.equal(toOpenAI[0].headers['x-custom-trace'], 'kept', 'ordinary headers pass through');
    for (const r of [...toAnthropic, ...toOpenAI]) {
      const sent = JSON.stringify(r.headers);
      assert.ok(!sent.includes(token), `the container token reached ${r.path}: ${sent}`);
    }
    assert.ok(!JSON.stringify(toAnthropic.map((r) => r.headers)).includes(OPENAI_KEY), 'the OpenAI key reached Anthropic');
    assert.ok(!JSON.stringify(toOpenAI.map((r) => r.headers)).includes(ANTHROPIC_KEY), 'the Anthropic key reached OpenAI');

    await reportedCalls(4);
    assert.deepEqual(calls.map((c) => [c.path, c.provider, c.status]), [
      ['/p/claude/v1/messages', 'claude', 200], ['/v1/messages', 'claude', 200],
      ['/p/gpt/chat/completions', 'gpt', 200], ['/p/gpt/chat/completions', 'gpt', 200],
    ]);
  });

  it('sends no credential at all to a provider without a key (a local server)', async () => {
    const { socketPath, token } = await routed();
    const before = upstream.requests.length;
    const res = await call(socketPath, { path: '/p/local/chat/completions', headers: { authorization: `Bearer ${token}` }, body: CHAT });
    assert.equal(res.status, 200, res.text);
    const [up] = upstream.requests.slice(before);
    assert.equal(up.path, '/local/v1/chat/completions', 'the base URL\'s own path is kept, its trailing slash not doubled');
    assert.equal(up.headers.authorization, undefined);
    assert.equal(up.headers['x-api-key'], undefined);
  });

  it('forwards only the endpoints of each provider\'s kind: a path of the other kind gets 403 naming it', async () => {
    const { socketPath, token, calls } = await routed();
    const fakeBefore = fake.requests.length;
    const upBefore = upstream.requests.length;
    const refused: Array<[string, string, RegExp]> = [
      ['POST', '/p/gpt/v1/messages', /\/p\/gpt\/v1\/messages is not a model endpoint.*"gpt" is an OpenAI-compatible API: POST \/p\/<name>\/chat\/completions/],
      ['POST', '/p/claude/chat/completions', /\/p\/claude\/chat\/completions is not a model endpoint.*"claude" is an Anthropic Messages API/],
      ['POST', '/p/gpt/v1/chat/completions', /\/p\/gpt\/v1\/chat\/completions/],
      ['POST', '/p/gpt/models', /\/p\/gpt\/models/],
      ['POST', '/p/gpt/embeddings', /\/p\/gpt\/embeddings/],
      ['POST', '/p/gpt/chat/completions/../../files', /files/],
      ['POST', '/p/claude/v1/messages/batches', /batches/],
      ['POST', '/p/claude/v1/files', /files/],
      ['GET', '/p/gpt/chat/completions', /GET \/p\/gpt\/chat\/completions/],
      ['POST', '/chat/completions', /\/chat\/completions is not a model endpoint/],
      ['POST', '/p', /\/p is not a model endpoint/],
    ];
    for (const [method, path, message] of refused) {
      const res = await call(socketPath, { method, path, headers: { 'x-api-key': token }, body: method === 'POST' ? CHAT : undefined });
      assert.equal(res.status, 403, `${method} ${path} -> ${res.status} ${res.text}`);
      assert.equal(res.json?.error?.type, 'permission_error');
      assert.match(res.json.error.message, message);
    }
    assert.equal(fake.requests.length, fakeBefore, 'nothing reached the Anthropic provider');
    assert.equal(upstream.requests.length, upBefore, 'nothing reached the OpenAI-compatible providers');
    assert.equal(calls.length, refused.length, 'every refusal is reported for the audit log');
    assert.equal(calls[0].provider, 'gpt', 'with the provider the path named');
  });

  it('answers a provider nobody configured with 404, naming no key and no upstream', async () => {
    const { socketPath, token } = await routed();
    const upBefore = upstream.requests.length;
    for (const path of ['/p/nope/chat/completions', '/p/nope/v1/messages', '/p/GPT/chat/completions', '/p//chat/completions', '/p/gpt_/chat/completions', `/p/${'a'.repeat(33)}/chat/completions`]) {
      const res = await call(socketPath, { path, headers: { 'x-api-key': token }, body: CHAT });
      assert.equal(res.status, 404, `${path} -> ${res.status} ${res.text}`);
      assert.equal(res.json?.error?.type, 'not_found_error');
      assert.match(res.json.error.message, /no provider ".*" is configured/);
      for (const secret of [ANTHROPIC_KEY, OPENAI_KEY, upstream.url, fake.url, token]) assert.ok(!res.text.includes(secret), `${path}: the answer names ${secret}`);
    }
    assert.equal(upstream.requests.length, upBefore);
    // Without a default provider, bare /v1/messages goes nowhere.
    const noDefault = await routed({ defaultRoute: undefined });
    const bare = await call(noDefault.socketPath, { headers: { 'x-api-key': noDefault.token } });
    assert.equal(bare.status, 403, bare.text);
  });

  it('makes a streamed OpenAI-compatible request ask for its usage, and meters it with the cached tokens apart', async () => {
    const { socketPath, token, usage, calls, reportedCalls } = await routed();
    const before = upstream.requests.length;
    const res = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { authorization: `Bearer ${token}` }, body: STREAMED_CHAT });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /"content":"Hi"/);
    assert.match(res.text, /"choices":\[\],"usage"/, 'the client gets the usage chunk it was made to ask for');
    assert.match(res.text, /data: \[DONE\]/);

    const [up] = upstream.requests.slice(before);
    assert.deepEqual(JSON.parse(up.raw), { ...JSON.parse(STREAMED_CHAT), stream_options: { include_usage: true } }, 'only stream_options was added');
    assert.equal(up.headers['content-length'], String(Buffer.byteLength(up.raw)), 'sent with the new body\'s length');
    assert.equal(up.headers['transfer-encoding'], undefined);

    await reportedCalls(1);
    // 1200 prompt tokens of which 1000 came from the cache: 200 fresh input, 1000 cache reads.
    assert.deepEqual(usage, [{ provider: 'gpt', model: 'gpt-test-1-0601', inputTokens: 200, outputTokens: 7, cacheWriteTokens: 0, cacheReadTokens: 1000 }]);
    assert.equal(calls[0].unmetered, undefined);
    assert.equal(calls[0].streamError, undefined, 'a comment line and [DONE] are not errors');
    assert.equal(calls[0].cacheReadTokens, 1000);

    // An explicit include_usage: false is overridden; other stream options are kept.
    const optedOut = JSON.stringify({ ...JSON.parse(STREAMED_CHAT), stream_options: { include_usage: false, other: 1 } });
    assert.equal((await call(socketPath, { path: '/p/gpt/chat/completions', headers: { authorization: `Bearer ${token}` }, body: optedOut })).status, 200);
    assert.deepEqual(JSON.parse(upstream.requests[before + 1].raw).stream_options, { include_usage: true, other: 1 });
    await reportedCalls(2);
    assert.equal(usage.length, 2);
  });

  it('meters a whole OpenAI-compatible answer, and Groq\'s x_groq.usage in a stream', async () => {
    const { socketPath, token, usage, reportedCalls } = await routed();
    assert.equal((await call(socketPath, { path: '/p/gpt/chat/completions', headers: { 'x-api-key': token }, body: CHAT })).status, 200);
    const groq = await call(socketPath, { path: '/p/local/chat/completions', headers: { 'x-api-key': token, 'x-case': 'groq' }, body: STREAMED_CHAT });
    assert.equal(groq.status, 200, groq.text);
    await reportedCalls(2);
    assert.deepEqual(usage, [
      { provider: 'gpt', model: 'gpt-test-1-0601', inputTokens: 200, outputTokens: 7, cacheWriteTokens: 0, cacheReadTokens: 1000 },
      { provider: 'local', model: 'gpt-test-1-0601', inputTokens: 50, outputTokens: 9, cacheWriteTokens: 0, cacheReadTokens: 0 },
    ]);
  });

  it('reads an SSE stream framed with CRLF, with an event\'s data over two lines, arriving a few bytes at a time', async () => {
    const { socketPath, token, usage, calls, reportedCalls } = await routed();
    const res = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { 'x-api-key': token, 'x-case': 'crlf' }, body: STREAMED_CHAT });
    assert.equal(res.status, 200, res.text);
    await reportedCalls(1);
    assert.deepEqual(usage, [{ provider: 'gpt', model: 'gpt-test-1-0601', inputTokens: 200, outputTokens: 7, cacheWriteTokens: 0, cacheReadTokens: 1000 }]);
    assert.equal(calls[0].unmetered, undefined);
  });

  it('audits a stream from a server that ignores include_usage as unmetered, without usage, and its [DONE] not as garbage', async () => {
    const { socketPath, token, usage, calls, reportedCalls } = await routed();
    const res = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { 'x-api-key': token, 'x-case': 'no-usage' }, body: STREAMED_CHAT });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /data: \[DONE\]/);
    await reportedCalls(1);
    assert.deepEqual(usage, []);
    assert.equal(calls[0].unmetered, 'the answer carried no usage field');
    assert.equal(calls[0].streamError, undefined);
  });

  it('refuses an OpenAI-compatible request whose body is not JSON with 400, and one over maxRequestBytes with 413', async () => {
    const { socketPath, token, calls } = await routed({ maxRequestBytes: 4096 });
    const before = upstream.requests.length;
    const notJson = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { 'x-api-key': token }, body: 'model=gpt&stream=true' });
    assert.equal(notJson.status, 400, notJson.text);
    assert.equal(notJson.json.error.type, 'invalid_request_error');
    assert.match(notJson.json.error.message, /request body is not JSON/);
    const notObject = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { 'x-api-key': token }, body: '[1, 2]' });
    assert.equal(notObject.status, 400, notObject.text);
    const big = JSON.stringify({ model: 'gpt-test-1', stream: true, messages: [{ role: 'user', content: 'x'.repeat(8000) }] });
    const declared = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { 'x-api-key': token }, body: big });
    assert.equal(declared.status, 413);
    const chunked = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { 'x-api-key': token, 'transfer-encoding': 'chunked' }, body: big });
    assert.equal(chunked.status, 413);
    assert.match(chunked.json.error.message, /larger than 4096 bytes/);
    assert.equal(upstream.requests.length, before, 'nothing reached the provider');
    assert.deepEqual(calls.map((c) => [c.status, c.provider]), [[400, 'gpt'], [400, 'gpt'], [413, 'gpt'], [413, 'gpt']]);
  });

  it('asks the budget before an OpenAI-compatible call leaves, with the provider\'s name, and refuses it when spent', async () => {
    const asked: string[] = [];
    const { socketPath, token, usage, calls } = await routed({
      checkBudget: (provider) => {
        asked.push(provider);
        return provider === 'gpt' ? 'NanoClaw budget: today\'s limit for gpt is spent.' : undefined;
      },
    });
    const before = upstream.requests.length;
    const refused = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { authorization: `Bearer ${token}` }, body: STREAMED_CHAT });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json.error.type, 'permission_error');
    assert.equal(refused.json.error.message, 'NanoClaw budget: today\'s limit for gpt is spent.', 'the message reaches the engine as it was given');
    assert.equal(upstream.requests.length, before, 'the refused call never left');
    assert.equal((await call(socketPath, { path: '/p/claude/v1/messages', headers: { 'x-api-key': token } })).status, 200);
    assert.deepEqual(asked, ['gpt', 'claude']);
    assert.deepEqual(calls[0], { path: '/p/gpt/chat/completions', provider: 'gpt', status: 403, refused: 'NanoClaw budget: today\'s limit for gpt is spent.' });
    assert.deepEqual(usage.map((u) => u.provider), ['claude']);
  });

  it('records an error reported inside a 200 stream, OpenAI-compatible or Anthropic, with the usage read before it', async () => {
    const { socketPath, token, usage, calls, reportedCalls } = await routed();
    const openai = await call(socketPath, { path: '/p/gpt/chat/completions', headers: { 'x-api-key': token, 'x-case': 'error' }, body: STREAMED_CHAT });
    assert.equal(openai.status, 200);
    assert.match(openai.text, /The upstream model failed mid-stream/, 'the client sees the error itself');
    const anthropic = await call(socketPath, { path: '/p/flaky/v1/messages', headers: { 'x-api-key': token } });
    assert.equal(anthropic.status, 200);
    assert.match(anthropic.text, /overloaded_error/);
    await reportedCalls(2);
    assert.equal(calls[0].provider, 'gpt');
    assert.equal(calls[0].streamError, 'server_error: The upstream model failed mid-stream');
    assert.match(calls[0].unmetered ?? '', /no usage/, 'the usage chunk never came, and the audit says so');
    assert.equal(calls[1].provider, 'flaky');
    assert.equal(calls[1].streamError, 'overloaded_error: Overloaded');
    assert.deepEqual(usage, [{ provider: 'flaky', model: 'claude-flaky', inputTokens: 30, outputTokens: 1, cacheWriteTokens: 0, cacheReadTokens: 0 }], 'billed input before the error still counts');
  });

  it('refuses at start a set of providers that could never work, saying what to change', async () => {
    const socketPath = join(dir, 'bad.sock');
    const good = { name: 'gpt', kind: 'openai' as const, upstream: 'https://api.openai.com/v1', apiKey: 'k' };
    const cases: Array<[Partial<CredentialProxyOptions>, RegExp]> = [
      [{ routes: [{ ...good, name: 'GPT' }] }, /Provider name "GPT" is not valid/],
      [{ routes: [good, good] }, /"gpt" is configured twice/],
      [{ routes: [{ ...good, upstream: 'api.openai.com' }] }, /not a URL: use e\.g\. https:\/\/api\.openai\.com\/v1/],
      [{ routes: [{ ...good, upstream: 'ftp://example.com' }] }, /only http and https/],
      [{ routes: [{ ...good, upstream: 'https://user:secret@example.com/v1' }] }, /password in its base URL/],
      [{ routes: [{ ...good, kind: 'gemini' as any }] }, /kind "gemini"/],
      [{ routes: [good], defaultRoute: 'claude' }, /default provider "claude" is not among the configured providers \(gpt\)/],
      [{ routes: [good], defaultRoute: 'gpt' }, /default provider "gpt" is openai: bare \/v1\/messages calls .* need an anthropic provider/],
      [{ routes: [good], upstream: 'https://api.anthropic.com', apiKey: 'k' }, /either routes or the upstream\/apiKey shorthand/],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(startCredentialProxy({ socketPath, token: 't', ...options }), message, JSON.stringify(options));
    }
    assert.throws(() => statSync(socketPath), 'no socket was left listening');
  });
});
