/**
 * The local HTTP API as a client sees it, on a real gateway (real store, real
 * containers, the fake model): who may call it, what it refuses and how, and
 * that a retried request runs once. Requests that must reach the server byte
 * for byte (paths with `..`, odd headers) go through node:http, which sends
 * the path as given; `fetch` would normalise it first.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiConversation } from '../src/channels/http/handler.ts';
import { conversationId } from '../src/store/store.ts';
import { startHarness, type Harness } from './support/harness.ts';

const MAX_BODY = 2048;

interface Answer { status: number; headers: http.IncomingHttpHeaders; text: string; json: any }

/** Every path under `dir`, relative to it, sockets and all. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      out.push(relative(dir, full));
      if (statSync(full).isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out.sort();
}

describe('HTTP API: authentication, validation and idempotent retries', () => {
  let h: Harness;
  let host: string;
  let port: number;

  /** One request on a fresh connection, sent exactly as given (path not normalised, no default headers). */
  const raw = (opts: { method?: string; path: string; headers?: Record<string, string | number>; body?: string | Buffer | Buffer[] }): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host, port, agent: false, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { text += d; });
        res.on('end', () => {
          let json: any;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      });
      req.on('error', reject);
      if (Array.isArray(opts.body)) {
        for (const b of opts.body) req.write(b);
        req.end();
      } else {
        req.end(opts.body);
      }
    });
  const auth = () => ({ authorization: `Bearer ${h.app.token}` });
  const json = (text: unknown) => JSON.stringify({ text });
  /** A POST to a conversation's messages with a valid token and JSON content type unless overridden. */
  const post = (id: string, body: string | Buffer | Buffer[], headers: Record<string, string | number> = {}) =>
    raw({ method: 'POST', path: `/api/v1/conversations/${id}/messages`, headers: { ...auth(), 'content-type': 'application/json', ...headers }, body });
  /** The stored conversation for an API id, if the request got as far as the store. */
  const stored = (id: string) => h.app.store.getConversation(conversationId(apiConversation(id)));
  /** An API error: the status, the same status in the JSON body, and a message a person can act on. */
  const assertProblem = (res: Answer, status: number, message?: RegExp) => {
    assert.equal(res.status, status, `${res.status} ${res.text}`);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.equal(res.json?.error?.status, status, `body names the same status: ${res.text}`);
    assert.ok(typeof res.json.error.message === 'string' && res.json.error.message.length > 10, res.text);
    if (message) assert.match(res.json.error.message, message);
  };
  /** Model turns whose request carries `text` (side requests, such as a session title, are not turns). */
  const turnsFor = (text: string) => h.fake.requests.filter((r) => r.kind === 'turn' && JSON.stringify(r.body).includes(text));

  before(async () => {
    h = await startHarness({ env: { NANOCLAW_CHANNELS_API_MAX_BODY_BYTES: String(MAX_BODY) } });
    const url = new URL(h.app.http.url);
    host = url.hostname;
    port = Number(url.port);
  });
  after(async () => { await h?.close(); });

  /** Requests that carry no valid token, each with what is wrong with it. */
  const unauthenticated = (): Array<[string, Record<string, string>]> => {
    const token = h.app.token;
    return [
      ['no header', {}],
      ...['ncl_wrong', token.slice(0, -1), token + 'A', token.toUpperCase(), `${token.slice(0, -1)}${token.endsWith('a') ? 'b' : 'a'}`]
        .map((t): [string, Record<string, string>] => [`wrong token ${t.slice(0, 12)}...`, { authorization: `Bearer ${t}` }]),
      ...['Bearer', 'Bearer ', token, `Basic ${token}`, `Token ${token}`, `Bearer ${token} extra`, 'Bearer tok%n', `Bearer\t${token}`]
        .map((v): [string, Record<string, string>] => [`malformed header ${JSON.stringify(v.slice(0, 12))}`, { authorization: v }]),
    ];
  };

  it('refuses every request without a valid token before reading it: nothing stored, the model never asked', async () => {
    const asked = h.fake.requests.length;
    for (const [what, headers] of unauthenticated()) {
      const res = await raw({ method: 'POST', path: '/api/v1/conversations/noauth-1/messages', headers: { 'content-type': 'application/json', ...headers }, body: json('sneak in') });
      assert.ok(res.status >= 400, `${what}: ${res.status} ${res.text}`);
      assert.ok(!res.text.includes('sneak in'), what);
      for (const path of ['/api/v1/conversations', '/api/v1/conversations/noauth-1/messages']) {
        const read = await raw({ path, headers });
        assert.ok(read.status >= 400, `${what}: GET ${path} -> ${read.status}`);
      }
    }
    assert.equal(stored('noauth-1'), undefined);
    assert.ok(!h.app.store.listConversations().some((c) => c.chat === 'noauth-1'));
    assert.ok(!h.app.store.pendingInbound().some((m) => m.text === 'sneak in'));
    assert.equal(h.fake.requests.length, asked);
  });

  it('answers a request without a token with 401 and says how to authenticate', async () => {
    const res = await raw({ method: 'POST', path: '/api/v1/conversations/noauth-1/messages', headers: { 'content-type': 'application/json' }, body: json('sneak in') });
    assertProblem(res, 401, /Authorization: Bearer <token>/);
    assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    assertProblem(await raw({ path: '/api/v1/conversations' }), 401);
    assertProblem(await raw({ path: '/api/v1/conversations/noauth-1/events' }), 401);
  });

  it('answers a wrong token with 401', async () => {
    for (const [, headers] of unauthenticated().filter(([w]) => w.startsWith('wrong'))) {
      assertProblem(await post('noauth-1', json('sneak in'), headers), 401, /invalid bearer token/i);
    }
  });

  it('answers a malformed Authorization header with 401', async () => {
    for (const [what, headers] of unauthenticated().filter(([w]) => w.startsWith('malformed'))) {
      const res = await post('noauth-1', json('sneak in'), headers);
      assert.equal(res.status, 401, `${what}: ${res.status} ${res.text}`);
      assertProblem(res, 401, /Malformed Authorization header/);
    }
  });

  it('serves /api/v1/health without a token', async () => {
    const res = await raw({ path: '/api/v1/health' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { ok: true });
  });

  it('answers a body that is not JSON with 400 and a message', async () => {
    for (const body of ['{"text": "unterminated', 'text=hello', '', '{"text": "a",}']) {
      assertProblem(await post('badjson-1', body), 400, /JSON/);
    }
    assert.equal(stored('badjson-1'), undefined);
  });

  it('answers JSON that is not an object with a non-empty "text" with 400', async () => {
    for (const body of ['[]', '"hello"', '42', 'null', 'true', '{}', '{"text": ""}', '{"text": "   \\n\\t"}', '{"text": 5}', '{"text": null}', '{"text": ["a"]}', '{"message": "hi"}']) {
      assertProblem(await post('badshape-1', body), 400, /"text"/);
    }
    assert.equal(stored('badshape-1'), undefined);
  });

  it('answers a body that is not sent as JSON with 415', async () => {
    // The content types a web page can send without a CORS preflight among them.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/json']) {
      assertProblem(await post('badtype-1', json('hi'), { 'content-type': type }), 415, /application\/json/);
    }
    assertProblem(await raw({ method: 'POST', path: '/api/v1/conversations/badtype-1/messages', headers: auth(), body: json('hi') }), 415);
    assert.equal(stored('badtype-1'), undefined);
    // Parameters and case do not matter.
    const ok = await post('badtype-2', json('/help'), { 'content-type': 'Application/JSON; charset=utf-8' });
    assert.equal(ok.status, 200, ok.text);
  });

  it('checks the media type itself, not a prefix of it', async () => {
    for (const type of ['application/jsonp', 'application/json-seq', 'application/jsonx; charset=utf-8']) {
      assertProblem(await post('badtype-3', json('/help'), { 'content-type': type }), 415);
    }
    assert.equal(stored('badtype-3'), undefined);
  });

  it('answers a body over channels.api.maxBodyBytes with 413 and keeps serving', async () => {
    const big = json('x'.repeat(MAX_BODY * 2));
    assertProblem(await post('toobig-1', big), 413, new RegExp(String(MAX_BODY)));
    // Sent in chunks without a Content-Length, the limit still holds.
    const chunks = Array.from({ length: 16 }, () => Buffer.from('x'.repeat(1024)));
    const chunked = [Buffer.from('{"text": "'), ...chunks, Buffer.from('"}')];
    assertProblem(await post('toobig-1', chunked, { 'transfer-encoding': 'chunked' }), 413);
    assert.equal(stored('toobig-1'), undefined);

    // The next requests are answered as usual.
    assert.equal((await raw({ path: '/api/v1/health' })).status, 200);
    assertProblem(await post('toobig-1', '{"text": ""}'), 400);
    // Just under the limit is not refused for its size.
    const fits = json('/help' + ' '.repeat(MAX_BODY - 100));
    const ok = await post('toobig-2', fits);
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.json.replies[0].text, /Commands:/);
  });

  it('refuses conversation ids that could name a path, and writes no file for them', async () => {
    const before = tree(h.home);
    const tricks = [
      '..', '%2e%2e', '%2E%2E', '.', '..%2F..%2Fetc', '..%2f..%2f..%2ftmp%2fpwned', '%2F', 'a%2Fb', '%2Fetc%2Fpasswd', 'a%00b', '%00',
      'x'.repeat(129), '.hidden', '-rf', '%5C..%5Cx', 'a%0Ab', '~root', 'caf%C3%A9', '%F0%9F%A6%80', '%E2%80%AE', 'a%20b', '%25',
    ];
    for (const id of tricks) {
      const posted = await post(id, json('path trick'));
      assert.ok([400, 404].includes(posted.status), `POST ${id} -> ${posted.status} ${posted.text}`);
      assert.ok(posted.json?.error, `POST ${id}: a JSON error: ${posted.text}`);
      const read = await raw({ path: `/api/v1/conversations/${id}/messages`, headers: auth() });
      assert.ok([400, 404].includes(read.status), `GET ${id} -> ${read.status} ${read.text}`);
    }
    assert.ok(!h.app.store.pendingInbound().some((m) => m.text === 'path trick'), 'no trick reached the store');
    assert.deepEqual(tree(h.home), before, 'no file or folder appeared in the home folder');
    const top = readdirSync(h.home).filter((f) => !/^(nanoclaw\.db(-wal|-shm)?|api-token|gateway\.pid|chat\.sock|run|conversations|memory|memory-history|global|skills|attachments|dashboard-name|audit\.log(\.head|\.lock)?)$/.test(f));
    assert.deepEqual(top, [], 'the home folder holds only its fixed layout');
    for (const escaped of ['etc', 'pwned', 'x', 'passwd']) assert.equal(existsSync(join(h.home, '..', escaped)), false, escaped);
    assert.equal(existsSync('/tmp/pwned'), false);

    // The longest allowed id (128 characters) is a conversation like any other.
    const longest = 'y'.repeat(128);
    const res = await post(longest, json('/memory status'));
    assert.equal(res.status, 200, res.text);
    assert.equal(stored(longest)?.chat, longest);
  });

  it('answers GET messages of an unknown conversation with 404', async () => {
    assertProblem(await raw({ path: '/api/v1/conversations/never-seen-1/messages', headers: auth() }), 404, /conversation/i);
    assert.equal(stored('never-seen-1'), undefined, 'reading does not create it');
  });

  it('answers an unknown route with a JSON 404', async () => {
    for (const [method, path] of [['GET', '/api/v1/nope'], ['POST', '/api/v1/conversations'], ['DELETE', '/api/v1/conversations/x/messages'], ['GET', '/api/v2/health'], ['GET', '/']]) {
      const res = await raw({ method, path, headers: auth() });
      assertProblem(res, 404, /No route/);
    }
    // Outside /api no token is asked for, and the answer is still a JSON 404.
    assertProblem(await raw({ path: '/nothing-here' }), 404);
  });

  it('returns the same reply for an Idempotency-Key retry, marked duplicate, and asks the model once', async () => {
    const text = `idempotent hello ${Date.now()}`;
    const first = await h.send('idem-1', text, { 'idempotency-key': 'retry-key-1' });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.message.duplicate, false);
    assert.deepEqual(first.body.replies.map((r: any) => r.text), [`Echo: ${text}`]);

    const retry = await h.send('idem-1', text, { 'idempotency-key': 'retry-key-1' });
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.equal(retry.body.message.duplicate, true);
    assert.equal(retry.body.message.id, first.body.message.id);
    assert.deepEqual(retry.body.replies, first.body.replies);
    assert.equal(turnsFor(text).length, 1, 'the model was asked once');

    // The same key in another conversation is a different message.
    const elsewhere = await h.send('idem-2', text, { 'idempotency-key': 'retry-key-1' });
    assert.equal(elsewhere.body.message.duplicate, false);
    assert.notEqual(elsewhere.body.message.id, first.body.message.id);
  });

  it('runs a message once when its retry arrives while the first is still running', async () => {
    const text = `concurrent hello ${Date.now()}`;
    const [a, b] = await Promise.all([
      h.send('idem-3', text, { 'idempotency-key': 'retry-key-2' }),
      h.send('idem-3', text, { 'idempotency-key': 'retry-key-2' }),
    ]);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.equal(a.body.message.id, b.body.message.id);
    assert.deepEqual([a.body.message.duplicate, b.body.message.duplicate].sort(), [false, true]);
    assert.deepEqual(a.body.replies, b.body.replies);
    assert.deepEqual(a.body.replies.map((r: any) => r.text), [`Echo: ${text}`]);
    assert.equal(turnsFor(text).length, 1, 'the model was asked once');
  });

  it('takes the idempotency key from the body\'s clientId too, and refuses unusable keys', async () => {
    const text = `client id hello ${Date.now()}`;
    const send = (headers: Record<string, string> = {}) => post('idem-4', JSON.stringify({ text, clientId: 'body-key-1' }), headers);
    const first = await send();
    const retry = await send();
    assert.equal(first.status, 200, first.text);
    assert.equal(retry.json.message.duplicate, true);
    assert.equal(retry.json.message.id, first.json.message.id);
    assert.equal(turnsFor(text).length, 1);
    assertProblem(await post('idem-4', json('hi'), { 'idempotency-key': 'has space' }), 400, /Idempotency-Key/);
    assertProblem(await post('idem-4', json('hi'), { 'idempotency-key': 'k'.repeat(201) }), 400, /Idempotency-Key/);
  });

  it('lists a conversation\'s messages in both directions, in order', async () => {
    const first = await h.ask('history-1', 'first message');
    const second = await h.ask('history-1', 'run: echo second-output');
    const res = await raw({ path: '/api/v1/conversations/history-1/messages', headers: auth() });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.conversation, 'history-1');
    assert.deepEqual(res.json.messages.map((m: any) => [m.direction, m.text]), [
      ['in', 'first message'],
      ['out', first],
      ['in', 'run: echo second-output'],
      ['out', second],
    ]);
    assert.match(second, /second-output/);
    for (const m of res.json.messages) assert.ok(!Number.isNaN(Date.parse(m.at)), `an ISO time: ${m.at}`);
  });
});
