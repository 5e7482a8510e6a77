/**
 * The credential proxy: the only model path out of a container. A real proxy
 * on a Unix socket in a temp folder, the fake Anthropic API behind it, and
 * clients talking to the socket as the container's engine does (raw HTTP, and
 * the real `@anthropic-ai/sdk` with a fetch that dials the socket).
 */
import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, afterEach, before, describe, it } from 'node:test';
import { startFakeAnthropic, type FakeAnthropic } from '../src/devtools/fake-anthropic.ts';
import { startCredentialProxy, type CredentialProxy, type CredentialProxyOptions } from '../src/sandbox/credential-proxy.ts';

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
    const usage: Array<{ inputTokens: number; outputTokens: number }> = [];
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
    assert.deepEqual(usage[0], { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens });
  });

  it('reads usage from a whole (non-streamed) answer', async () => {
    const { socketPath, token, usage } = await proxy();
    const client = new Anthropic({ apiKey: token, baseURL: 'http://model.invalid', maxRetries: 0, fetch: unixFetch(socketPath) as any });
    const message = await client.messages.create({ model: MODEL, max_tokens: 256, tools: [BASH_TOOL], messages: [{ role: 'user', content: 'whole answer please' }] });
    assert.deepEqual(message.content, [{ type: 'text', text: 'Echo: whole answer please' }]);
    assert.equal(usage.length, 1);
    assert.ok(usage[0].inputTokens > 0 && usage[0].outputTokens > 0, JSON.stringify(usage));
    assert.deepEqual(usage[0], { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens });
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
