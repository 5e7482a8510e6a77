/**
 * The credential proxy: the only model path out of a container. A real proxy
 * on a Unix socket in a temp folder, the fake Anthropic API behind it, and
 * clients talking to the socket as the container's engine does (raw HTTP, and
 * the real `@anthropic-ai/sdk` with a fetch that dials the socket).
 */
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
    assert.deepEqual(usage[0], { model: MODEL, inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens, cacheWriteTokens: 0, cacheReadTokens: 0 });
  });

  it('reads usage from a whole (non-streamed) answer', async () => {
    const { socketPath, token, usage } = await proxy();
    const client = new Anthropic({ apiKey: token, baseURL: 'http://model.invalid', maxRetries: 0, fetch: unixFetch(socketPath) as any });
    const message = await client.messages.create({ model: MODEL, max_tokens: 256, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'whole answer please' }] });
    assert.deepEqual(message.content, [{ type: 'text', text: 'Echo: whole answer please' }]);
    assert.equal(usage.length, 1);
    assert.ok(usage[0].inputTokens > 0 && usage[0].outputTokens > 0, JSON.stringify(usage));
    assert.deepEqual(usage[0], { model: MODEL, inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens, cacheWriteTokens: 0, cacheReadTokens: 0 });
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
    assert.deepEqual(usage, [{ model: 'claude-haiku-4-5', inputTokens: 12, outputTokens: message.usage.output_tokens, cacheWriteTokens: 2_000, cacheReadTokens: 30_000 }]);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].cacheReadTokens, 30_000, 'the audit record carries the cache figures');
    assert.equal(calls[0].unmetered, undefined);
  });

  it('counts cache tokens from a whole (non-streamed) answer', async () => {
    const { usage, client } = await setup({ usage: () => CACHE });
    const message = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'whole' }] });
    assert.deepEqual(usage, [{ model: MODEL, inputTokens: 12, outputTokens: message.usage.output_tokens, cacheWriteTokens: 2_000, cacheReadTokens: 30_000 }]);
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
    assert.deepEqual(usage, [{ model: MODEL, inputTokens: 5, outputTokens: 1, cacheWriteTokens: 0, cacheReadTokens: 900 }], 'billed input still counts');
  });
});
