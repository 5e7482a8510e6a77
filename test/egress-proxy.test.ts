/**
 * The egress proxy: the only HTTP(S) path out of a container. A real proxy on
 * a Unix socket in a temp folder, real HTTP and TCP servers on 127.0.0.1 (and
 * ::1) behind it, and clients talking to the socket as the container's tools
 * do: node:http with absolute-form requests, raw CONNECT, and real curl and
 * Node fetch through a loopback-to-socket bridge like the runner's.
 *
 * Names are resolved by an injected lookup (no real DNS), and the injected
 * connect only ever dials loopback: internal addresses such as 10.0.0.1 or
 * 169.254.169.254 are checked by proving the proxy refuses before connecting,
 * or, where a test allows them, by redirecting the connect to a local server
 * and asserting the address the proxy chose.
 */
import assert from 'node:assert/strict';
import { startModelBridge } from '../runner/src/model-bridge.ts';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { EgressPolicy, type EgressPolicyOptions } from '../src/sandbox/egress-policy.ts';
import { startEgressProxy, type EgressDecision, type EgressProxy, type EgressProxyOptions } from '../src/sandbox/egress-proxy.ts';

type Target = { address: string; port: number; host: string };

interface Harness {
  proxy: EgressProxy;
  socketPath: string;
  token: string;
  auth: string;
  decisions: EgressDecision[];
  lookups: string[];
  connects: Target[];
}

interface HarnessOptions extends EgressPolicyOptions, Omit<Partial<EgressProxyOptions>, 'policy'> {
  /** name -> addresses, or a function answering per call (rebinding). */
  dns?: Record<string, string[] | ((call: number) => string[])>;
  /** Sends an upstream connection to this loopback port instead (for addresses the test must never dial). */
  redirect?: (t: Target) => number;
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Answer of a request through the proxy. */
interface Answer { status: number; headers: http.IncomingHttpHeaders; text: string }

function viaHttp(h: Harness, url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; auth?: string | null } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    const auth = opts.auth === undefined ? h.auth : opts.auth;
    if (auth !== null) headers['proxy-authorization'] = auth;
    const req = http.request({ socketPath: h.socketPath, method: opts.method ?? 'GET', path: url, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

interface Tunnel { status: number; text: string; socket: net.Socket }

/** Sends `CONNECT target` on a fresh connection; on 200 the socket is the tunnel. */
function viaConnect(h: Harness, target: string, opts: { auth?: string | null; extra?: string } = {}): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(h.socketPath);
    const auth = opts.auth === undefined ? h.auth : opts.auth;
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth !== null ? `Proxy-Authorization: ${auth}\r\n` : ''}\r\n${opts.extra ?? ''}`);
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buf.toString('latin1'))?.[1]);
      if (status === 200) {
        socket.off('data', onData);
        const rest = buf.subarray(end + 4);
        if (rest.length) socket.unshift(rest);
        resolve({ status, text: '', socket });
      }
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.on('end', () => {
      const text = buf.toString('utf8');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text: text.slice(text.indexOf('\r\n\r\n') + 4), socket });
    });
  });
}

/** Writes `data` into a tunnel to the echo server and reads the same number of bytes back. */
function exchange(socket: net.Socket, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('utf8');
      if (got.length >= data.length) { socket.off('data', onData); resolve(got); }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(data);
  });
}

function closed(socket: net.Socket, ms = 5000): Promise<'closed' | 'still open'> {
  if (socket.destroyed) return Promise.resolve('closed');
  return Promise.race([once(socket, 'close').then(() => 'closed' as const), sleep(ms, 'still open' as const, { ref: false })]);
}

async function until<T>(what: string, check: () => T, ms = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
  execFile(cmd, args, { env, timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
});

describe('egress proxy (deny by default, HTTP and CONNECT)', () => {
  let dir: string;
  let web: http.Server; // echoes the request it got as JSON
  let webPort: number;
  let echo: net.Server; // echoes raw bytes, stands in for a TLS server
  let echoPort: number;
  let echoReceived = 0;
  let n = 0;
  const proxies: EgressProxy[] = [];
  const openSockets = new Set<net.Socket>();

  async function harness(o: HarnessOptions = {}): Promise<Harness> {
    const { allow, conversation, allowPrivate, dns, redirect, ...rest } = o;
    const socketPath = join(dir, `egress-${++n}.sock`);
    const token = `egress-token-${n}-${Math.random().toString(36).slice(2)}`;
    const h: Harness = {
      socketPath, token, auth: `Basic ${Buffer.from(`nanoclaw:${token}`).toString('base64')}`,
      decisions: [], lookups: [], connects: [], proxy: undefined as unknown as EgressProxy,
    };
    const calls = new Map<string, number>();
    h.proxy = await startEgressProxy({
      socketPath, token,
      policy: new EgressPolicy({ allow, conversation, allowPrivate }),
      onDecision: (d) => h.decisions.push(d),
      lookup: async (host) => {
        h.lookups.push(host);
        const call = (calls.get(host) ?? 0) + 1;
        calls.set(host, call);
        const answer = dns?.[host];
        if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
        return (typeof answer === 'function' ? answer(call) : answer).map((address) => ({ address, family: net.isIP(address) }));
      },
      connect: (t) => {
        h.connects.push(t);
        if (redirect) return track(net.connect(redirect(t), '127.0.0.1'));
        // The safety net of this file: nothing but loopback is ever dialled.
        if (!LOOPBACK.check(t.address, net.isIP(t.address) === 4 ? 'ipv4' : 'ipv6')) throw new Error(`the test proxy tried to connect to ${t.address}`);
        return track(net.connect(t.port, t.address));
      },
      ...rest,
    });
    proxies.push(h.proxy);
    return h;
  }
  const track = (s: net.Socket) => { openSockets.add(s); s.on('close', () => openSockets.delete(s)); return s; };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nce-'));
    web = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (req.url?.startsWith('/bytes/')) {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          return res.end(Buffer.alloc(Number(req.url.slice(7)), 'x'));
        }
        res.writeHead(200, { 'content-type': 'application/json', 'x-from-upstream': 'yes', 'proxy-leak': 'no', connection: 'x-internal', 'x-internal': 'hop' });
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyLength: body.length, body: body.subarray(0, 200).toString('utf8') }));
      });
    });
    web.listen(0, '127.0.0.1');
    await once(web, 'listening');
    webPort = (web.address() as net.AddressInfo).port;
    echo = net.createServer((s) => {
      track(s);
      s.on('data', (d) => { echoReceived += d.length; s.write(d); });
      s.on('end', () => s.end());
      s.on('error', () => s.destroy());
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    echoPort = (echo.address() as net.AddressInfo).port;
  });
  afterEach(async () => {
    for (const p of proxies.splice(0)) await p.close();
    for (const s of openSockets) s.destroy();
  });
  after(async () => {
    web.closeAllConnections();
    await new Promise<void>((r) => web.close(() => r()));
    await new Promise<void>((r) => echo.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards an allowlisted plain HTTP request, streaming the body both ways, with Host kept and proxy and hop-by-hop headers dropped', async () => {
    const h = await harness({ allow: [`allowed.test:${webPort}`], allowPrivate: ['127.0.0.1/32'], dns: { 'allowed.test': ['127.0.0.1'] } });
    const body = Buffer.alloc(200_000, 'b');
    const res = await viaHttp(h, `http://Allowed.test:${webPort}/echo/../path?q=1`, {
      method: 'POST', body,
      headers: { host: 'spoofed.test', 'x-kept': 'yes', connection: 'keep-alive, x-hop', 'x-hop': 'drop me', 'proxy-connection': 'keep-alive', 'content-type': 'text/plain' },
    });
    assert.equal(res.status, 200, res.text);
    const seen = JSON.parse(res.text);
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/echo/../path?q=1', 'the path is forwarded exactly as sent');
    assert.equal(seen.headers.host, `allowed.test:${webPort}`, 'Host is the request target\'s name, not the address or a spoofed one');
    assert.equal(seen.headers['x-kept'], 'yes');
    assert.equal(seen.headers['x-hop'], undefined, 'a header named in Connection is hop-by-hop');
    assert.equal(seen.headers['proxy-authorization'], undefined, 'the container token never leaves the proxy');
    assert.equal(seen.headers['proxy-connection'], undefined);
    assert.ok(!JSON.stringify(seen.headers).includes(h.token));
    assert.equal(seen.bodyLength, body.length);
    assert.equal(res.headers['x-from-upstream'], 'yes');
    assert.equal(res.headers['proxy-leak'], undefined);
    assert.equal(res.headers['x-internal'], undefined);

    const [d] = await until('the request is reported', () => (h.decisions.length ? h.decisions : undefined));
    assert.equal(h.decisions.length, 1);
    assert.deepEqual({ ...d }, {
      allowed: true, host: 'allowed.test', port: webPort, method: 'POST', address: '127.0.0.1', status: 200,
      bytesUp: body.length, bytesDown: Buffer.byteLength(res.text),
    });
    assert.deepEqual(h.lookups, ['allowed.test']);
    assert.deepEqual(h.connects, [{ address: '127.0.0.1', port: webPort, host: 'allowed.test' }]);

    const big = await viaHttp(h, `http://allowed.test:${webPort}/bytes/3000000`);
    assert.equal(big.status, 200);
    assert.equal(big.text.length, 3_000_000, 'a large response streams through whole');
  });

  it('opens a CONNECT tunnel to an allowlisted host, passes bytes both ways untouched, and reports it when it ends', async () => {
    const h = await harness({ allow: [`tls.test:${echoPort}`], allowPrivate: ['127.0.0.1/32'], dns: { 'tls.test': ['127.0.0.1'] } });
    const t = await viaConnect(h, `tls.test:${echoPort}`, { extra: 'early-' });
    assert.equal(t.status, 200);
    assert.equal(await exchange(t.socket, 'bytes the proxy cannot read\x00\xff'), 'early-bytes the proxy cannot read\x00\xff', 'data sent with the CONNECT head arrives first');
    assert.equal(h.decisions.length, 0, 'an open tunnel is reported when it ends');
    t.socket.end();
    await closed(t.socket);
    const [d] = await until('the tunnel is reported', () => (h.decisions.length ? h.decisions : undefined));
    assert.equal(d.allowed, true);
    assert.equal(d.method, 'CONNECT');
    assert.equal(d.host, 'tls.test');
    assert.equal(d.port, echoPort);
    assert.equal(d.reason, undefined);
    const sent = Buffer.byteLength('early-bytes the proxy cannot read\x00\xff');
    assert.equal(d.bytesUp, sent);
    assert.equal(d.bytesDown, sent);
  });

  it('refuses a host that is not on the allowlist with a 403 the agent can read, without resolving or connecting', async () => {
    const h = await harness({ allow: ['allowed.test'], dns: { 'example.org': ['127.0.0.1'] } });
    const res = await viaHttp(h, 'http://example.org/page');
    assert.equal(res.status, 403);
    assert.match(res.headers['content-type'] ?? '', /^text\/plain/);
    assert.equal(res.text, 'NanoClaw egress proxy: example.org:80 is not on this conversation\'s allowlist. Ask the owner to allow it (/allow example.org).\n');

    const t = await viaConnect(h, 'example.org:8443');
    assert.equal(t.status, 403);
    assert.match(t.text, /example\.org:8443 is not on this conversation's allowlist\. Ask the owner to allow it \(\/allow example\.org:8443\)/);

    assert.deepEqual(h.lookups, []);
    assert.deepEqual(h.connects, []);
    assert.deepEqual(h.decisions.map((d) => ({ ...d })), [
      { allowed: false, host: 'example.org', port: 80, method: 'GET', reason: 'not-allowlisted', address: undefined, status: 403, bytesUp: 0, bytesDown: 0 },
      { allowed: false, host: 'example.org', port: 8443, method: 'CONNECT', reason: 'not-allowlisted', address: undefined, status: 403, bytesUp: 0, bytesDown: 0 },
    ]);
  });

  it('applies wildcard and port rules: subdomains not the apex, ports 80 and 443 unless the entry names one', async () => {
    const h = await harness({
      allow: ['*.wild.test', 'ported.test:8443'],
      dns: { 'a.wild.test': ['93.184.215.14'], 'x.y.wild.test': ['93.184.215.14'], 'wild.test': ['93.184.215.14'], 'ported.test': ['93.184.215.14'] },
      // Public-looking answers: the connect goes to the local servers instead.
      redirect: (t) => (t.port === 80 ? webPort : echoPort),
    });
    const res = await viaHttp(h, 'http://a.wild.test/x');
    assert.equal(res.status, 200, res.text);
    assert.equal(JSON.parse(res.text).headers.host, 'a.wild.test', 'the default port is not added to Host');
    const deep = await viaConnect(h, 'x.y.wild.test:443');
    assert.equal(deep.status, 200);
    assert.equal(await exchange(deep.socket, 'hi'), 'hi');
    deep.socket.destroy();
    const ported = await viaConnect(h, 'ported.test:8443');
    assert.equal(ported.status, 200);
    ported.socket.destroy();

    for (const target of ['wild.test:443', 'a.wild.test:8080', 'ported.test:443', 'notwild.test:443', 'a.wild.test.evil:443']) {
      const t = await viaConnect(h, target);
      assert.equal(t.status, 403, `${target} -> ${t.status} ${t.text}`);
      assert.match(t.text, /not on this conversation's allowlist/);
    }
    assert.deepEqual(h.connects.map((c) => `${c.host}:${c.port}`), ['a.wild.test:80', 'x.y.wild.test:443', 'ported.test:8443']);
  });

  it('refuses a name that resolves to a loopback, private, link-local or metadata address, without ever connecting', async () => {
    const cases: Record<string, [string[], string]> = {
      'lo.test': [['127.0.0.1'], 'lo.test resolves to 127.0.0.1, a loopback address'],
      'lan.test': [['10.0.0.1'], 'lan.test resolves to 10.0.0.1, a private address'],
      'meta.test': [['169.254.169.254'], 'meta.test resolves to 169.254.169.254, a link-local address'],
      'lo6.test': [['::1'], 'lo6.test resolves to ::1, a loopback address'],
      'mapped.test': [['::ffff:127.0.0.1'], 'mapped.test resolves to ::ffff:127.0.0.1, a loopback address'],
      'cgnat.test': [['100.64.0.1'], 'a private address'],
      'ula.test': [['fd00::1'], 'a private address'],
      'zero.test': [['0.0.0.0'], 'an? unspecified address'],
      'mixed.test': [['93.184.215.14', '192.168.1.20'], 'mixed.test resolves to 192.168.1.20, a private address'],
    };
    const h = await harness({ allow: Object.keys(cases), dns: Object.fromEntries(Object.entries(cases).map(([k, [a]]) => [k, a])) });
    for (const [host, [, message]] of Object.entries(cases)) {
      const viaTunnel = await viaConnect(h, `${host}:443`);
      assert.equal(viaTunnel.status, 403, `${host}: ${viaTunnel.text}`);
      assert.match(viaTunnel.text, new RegExp(message.replace(/\./g, '\\.').replace('an\\?', 'an?')));
      assert.match(viaTunnel.text, /egress\.allowPrivate/);
      const plain = await viaHttp(h, `http://${host}/`);
      assert.equal(plain.status, 403, `${host}: ${plain.text}`);
    }
    assert.deepEqual(h.connects, [], 'no connection was attempted');
    assert.ok(h.decisions.every((d) => !d.allowed && d.reason === 'blocked-address' && d.address), JSON.stringify(h.decisions));
  });

  it('reaches an internal address only when allowPrivate covers it, and then connects to the checked address', async () => {
    const h = await harness({
      allow: ['lan.test', 'meta.test', 'other.test'],
      allowPrivate: ['10.0.0.0/8', '169.254.169.254/32'],
      dns: { 'lan.test': ['10.0.0.1'], 'meta.test': ['169.254.169.254'], 'other.test': ['192.168.1.1'] },
      redirect: () => echoPort, // 10.0.0.1 and 169.254.169.254 are never dialled for real
    });
    for (const host of ['lan.test', 'meta.test']) {
      const t = await viaConnect(h, `${host}:443`);
      assert.equal(t.status, 200, `${host}: ${t.text}`);
      t.socket.destroy();
    }
    assert.equal((await viaConnect(h, 'other.test:443')).status, 403, 'a range not listed stays closed');
    assert.deepEqual(h.connects.map((c) => c.address), ['10.0.0.1', '169.254.169.254']);
  });

  it('connects for real to ::1 and to an IPv4-mapped loopback address once allowPrivate covers them', async () => {
    const web6 = http.createServer((req, res) => res.end(`v6 ${req.headers.host}`));
    web6.listen(0, '::1');
    await once(web6, 'listening');
    const port6 = (web6.address() as net.AddressInfo).port;
    try {
      const dns = { 'v6.test': ['::1'], 'mapped.test': ['::ffff:127.0.0.1'] };
      const allow = [`v6.test:${port6}`, `mapped.test:${webPort}`];
      const closedProxy = await harness({ allow, dns, allowPrivate: ['10.0.0.0/8'] });
      assert.equal((await viaHttp(closedProxy, `http://v6.test:${port6}/`)).status, 403);
      assert.equal((await viaHttp(closedProxy, `http://mapped.test:${webPort}/`)).status, 403);
      assert.deepEqual(closedProxy.connects, []);

      const h = await harness({ allow, dns, allowPrivate: ['::1/128', '127.0.0.1/32'] });
      const v6 = await viaHttp(h, `http://v6.test:${port6}/`);
      assert.equal(v6.status, 200, v6.text);
      assert.equal(v6.text, `v6 v6.test:${port6}`);
      const mapped = await viaHttp(h, `http://mapped.test:${webPort}/`);
      assert.equal(mapped.status, 200, mapped.text);
      assert.deepEqual(h.connects.map((c) => c.address), ['::1', '127.0.0.1'], 'the mapped address is dialled as the IPv4 address it is');
    } finally {
      web6.closeAllConnections();
      await new Promise<void>((r) => web6.close(() => r()));
    }
  });

  it('refuses an IP literal unless that IP is listed, and still refuses a listed internal IP without allowPrivate', async () => {
    const h = await harness({ allow: ['10.0.0.1', `127.0.0.1:${echoPort}`, 'named.test'], allowPrivate: ['127.0.0.1/32'] });
    const unlisted = await viaConnect(h, '127.0.0.2:443');
    assert.equal(unlisted.status, 403);
    assert.match(unlisted.text, /127\.0\.0\.2:443 is not on this conversation's allowlist.*\/allow 127\.0\.0\.2\)/);
    const otherPort = await viaConnect(h, `127.0.0.1:${webPort}`);
    assert.equal(otherPort.status, 403, 'allowPrivate opens an address range, not the allowlist');
    const listedInternal = await viaConnect(h, '10.0.0.1:443');
    assert.equal(listedInternal.status, 403);
    assert.match(listedInternal.text, /10\.0\.0\.1 is a private address/);
    const v6 = await viaConnect(h, '[::1]:443');
    assert.equal(v6.status, 403);
    assert.match(v6.text, /\[::1\]:443 is not on this conversation's allowlist/);
    assert.deepEqual(h.connects, []);

    const listed = await viaConnect(h, `127.0.0.1:${echoPort}`);
    assert.equal(listed.status, 200);
    assert.equal(await exchange(listed.socket, 'literal'), 'literal');
    assert.deepEqual(h.lookups, [], 'an IP literal is never looked up');
  });

  it('resolves a name once per request and connects to the address it checked, so a rebinding answer gains nothing', async () => {
    const h = await harness({
      allow: ['rebind.test'],
      dns: { 'rebind.test': (call) => (call === 1 ? ['93.184.215.14'] : ['127.0.0.1']) },
      redirect: (t) => (t.port === 80 ? webPort : echoPort),
    });
    const t = await viaConnect(h, 'rebind.test:443');
    assert.equal(t.status, 200, t.text);
    assert.equal(await exchange(t.socket, 'pinned'), 'pinned');
    assert.deepEqual(h.lookups, ['rebind.test'], 'one lookup for the tunnel');
    assert.deepEqual(h.connects, [{ address: '93.184.215.14', port: 443, host: 'rebind.test' }], 'the connect went to the checked address, not the name');
    t.socket.destroy();

    // The next request resolves afresh, sees the loopback answer and is refused before any connect.
    const again = await viaHttp(h, 'http://rebind.test/');
    assert.equal(again.status, 403);
    assert.match(again.text, /rebind\.test resolves to 127\.0\.0\.1, a loopback address/);
    assert.equal(h.lookups.length, 2);
    assert.equal(h.connects.length, 1);
  });

  it('applies a change to the conversation\'s allowlist to the running proxy at once', async () => {
    const list: string[] = [];
    const h = await harness({ conversation: () => list, allowPrivate: ['127.0.0.1/32'], dns: { 'live.test': ['127.0.0.1'] } });
    const url = `http://live.test:${webPort}/`;
    assert.equal((await viaHttp(h, url)).status, 403);
    list.push(`live.test:${webPort}`); // what `/allow live.test:<port>` stores
    assert.equal((await viaHttp(h, url)).status, 200);
    list.length = 0; // `/disallow`
    const res = await viaHttp(h, url);
    assert.equal(res.status, 403);
    assert.match(res.text, /\/allow live\.test:\d+/);
  });

  it('answers a missing or wrong proxy token with 407 and forwards nothing', async () => {
    const h = await harness({ allow: [`allowed.test:${webPort}`, `allowed.test:${echoPort}`], allowPrivate: ['127.0.0.1/32'], dns: { 'allowed.test': ['127.0.0.1'] } });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const wrong = [null, '', 'Basic', `Basic ${b64('nanoclaw:wrong')}`, `Basic ${b64(`${h.token}:`)}`, `Basic ${b64(h.token)}`,
      `Bearer ${h.token}`, `Basic ${b64(`nanoclaw:${h.token}x`)}`, `Basic ${b64(`nanoclaw:${h.token.slice(0, -1)}`)}`];
    for (const auth of wrong) {
      const res = await viaHttp(h, `http://allowed.test:${webPort}/`, { auth });
      assert.equal(res.status, 407, `${auth} -> ${res.status}`);
      assert.equal(res.headers['proxy-authenticate'], 'Basic realm="NanoClaw egress"');
      assert.match(res.text, /missing or wrong proxy credentials/);
      const t = await viaConnect(h, `allowed.test:${echoPort}`, { auth });
      assert.equal(t.status, 407, `CONNECT with ${auth} -> ${t.status}`);
    }
    assert.deepEqual(h.lookups, []);
    assert.deepEqual(h.connects, []);
    assert.ok(h.decisions.every((d) => !d.allowed && d.reason === 'auth'));
    // Any user name with the right password passes (curl and git send what the URL holds).
    assert.equal((await viaHttp(h, `http://allowed.test:${webPort}/`, { auth: `Basic ${b64(`anyone:${h.token}`)}` })).status, 200);
  });

  it('cuts an open tunnel on revoke and refuses everything after', async () => {
    const h = await harness({ allow: [`allowed.test:${echoPort}`, `allowed.test:${webPort}`], allowPrivate: ['127.0.0.1/32'], dns: { 'allowed.test': ['127.0.0.1'] } });
    const t = await viaConnect(h, `allowed.test:${echoPort}`);
    assert.equal(await exchange(t.socket, 'before'), 'before');
    h.proxy.revoke();
    assert.equal(await closed(t.socket), 'closed');
    const d = await until('the tunnel is reported', () => h.decisions.find((x) => x.method === 'CONNECT'));
    assert.equal(d.allowed, true);
    assert.equal(d.reason, 'revoked');

    const after = await viaHttp(h, `http://allowed.test:${webPort}/`);
    assert.equal(after.status, 403);
    assert.match(after.text, /revoked/);
    assert.equal((await viaConnect(h, `allowed.test:${echoPort}`)).status, 403);
    assert.equal(h.connects.length, 1);
  });

  it('stops a container at its byte allowance: the crossing connection is cut and later ones are refused', async () => {
    const h = await harness({ maxBytes: 1000, allow: [`allowed.test:${echoPort}`, `allowed.test:${webPort}`], allowPrivate: ['127.0.0.1/32'], dns: { 'allowed.test': ['127.0.0.1'] } });
    const t = await viaConnect(h, `allowed.test:${echoPort}`);
    assert.equal(await exchange(t.socket, 'a'.repeat(600)), 'a'.repeat(600));
    const receivedBefore = echoReceived;
    t.socket.write('b'.repeat(600));
    assert.equal(await closed(t.socket), 'closed');
    await sleep(50);
    assert.equal(echoReceived, receivedBefore, 'the chunk over the allowance was not forwarded');
    const d = await until('the tunnel is reported', () => h.decisions.find((x) => x.method === 'CONNECT'));
    assert.equal(d.reason, 'byte-limit');

    const next = await viaHttp(h, `http://allowed.test:${webPort}/`);
    assert.equal(next.status, 403);
    assert.match(next.text, /used its egress allowance of 1000 bytes/);
  });

  it('cuts a download that crosses the byte allowance', async () => {
    const h = await harness({ maxBytes: 64 * 1024, allow: [`allowed.test:${webPort}`], allowPrivate: ['127.0.0.1/32'], dns: { 'allowed.test': ['127.0.0.1'] } });
    const outcome = await viaHttp(h, `http://allowed.test:${webPort}/bytes/1000000`).then((a) => a, (err: Error) => err);
    if (!(outcome instanceof Error)) assert.ok(outcome.text.length < 1_000_000, `got ${outcome.text.length} bytes`);
    const d = await until('the request is reported', () => h.decisions[0]);
    assert.equal(d.reason, 'byte-limit');
    assert.ok(d.bytesDown <= 64 * 1024 + 65536, String(d.bytesDown));
  });

  it('refuses connections over the per-container limit with 429, and admits again once one closes', async () => {
    const h = await harness({ maxConnections: 2, allow: [`allowed.test:${echoPort}`, `allowed.test:${webPort}`], allowPrivate: ['127.0.0.1/32'], dns: { 'allowed.test': ['127.0.0.1'] } });
    const a = await viaConnect(h, `allowed.test:${echoPort}`);
    const b = await viaConnect(h, `allowed.test:${echoPort}`);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const c = await viaConnect(h, `allowed.test:${echoPort}`);
    assert.equal(c.status, 429);
    assert.match(c.text, /already has 2 connections open/);
    assert.equal((await viaHttp(h, `http://allowed.test:${webPort}/`)).status, 429);
    assert.equal(h.connects.length, 2);

    a.socket.destroy();
    await until('the closed tunnel is reported', () => h.decisions.find((d) => d.allowed));
    const d = await viaConnect(h, `allowed.test:${echoPort}`);
    assert.equal(d.status, 200);
    assert.equal(await exchange(d.socket, 'again'), 'again');
    b.socket.destroy();
    d.socket.destroy();
  });

  it('cuts a tunnel that stays silent past the idle timeout', async () => {
    const h = await harness({ idleTimeoutMs: 300, allow: [`allowed.test:${echoPort}`], allowPrivate: ['127.0.0.1/32'], dns: { 'allowed.test': ['127.0.0.1'] } });
    const t = await viaConnect(h, `allowed.test:${echoPort}`);
    assert.equal(await exchange(t.socket, 'x'), 'x');
    const started = Date.now();
    assert.equal(await closed(t.socket, 5000), 'closed');
    assert.ok(Date.now() - started >= 250, 'not before the timeout');
    assert.equal((await until('reported', () => h.decisions[0])).reason, 'idle-timeout');
  });

  it('answers malformed or unsupported requests with 400 and oversized headers with 431, before any lookup', async () => {
    const h = await harness({ maxHeaderBytes: 2048, allow: ['allowed.test', '*.allowed.test'], dns: { 'allowed.test': ['127.0.0.1'] } });
    const cases: Array<[string, RegExp]> = [
      ['/relative', /this is a proxy: send absolute-form requests/],
      ['https://allowed.test/', /send HTTPS through a tunnel \(CONNECT allowed\.test\)/],
      ['http://user:pw@allowed.test/', /credentials in the request URL/],
      ['http://0x7f.1/', /"0x7f\.1" is not a host name/],
      ['http://2130706433/', /is not a host name/],
      ['http://allowed.test:99999/', /is not a host name or address/],
      ['ftp://allowed.test/', /this is a proxy/],
    ];
    for (const [target, message] of cases) {
      const res = await viaHttp(h, target);
      assert.equal(res.status, 400, `${target} -> ${res.status} ${res.text}`);
      assert.match(res.text, message);
    }
    for (const target of ['allowed.test', 'allowed.test:', 'exa mple.test:443', 'a..allowed.test:443']) {
      const t = await viaConnect(h, target);
      assert.equal(t.status, 400, `CONNECT ${target} -> ${t.status} ${t.text}`);
    }
    const big = await viaHttp(h, 'http://allowed.test/', { headers: { 'x-big': 'y'.repeat(4000) } }).then((a) => a, (e: Error) => e);
    assert.ok(!(big instanceof Error), String(big));
    assert.equal(big.status, 431);
    assert.match(big.text, /request headers are larger than 2 KiB/);
    assert.deepEqual(h.lookups, []);
    assert.deepEqual(h.connects, []);
  });

  it('answers 502 with a readable reason when the name does not resolve or the server does not answer', async () => {
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const deadPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const h = await harness({ allow: ['nowhere.test', `down.test:${deadPort}`], allowPrivate: ['127.0.0.1/32'], dns: { 'down.test': ['127.0.0.1'] } });
    const unresolved = await viaHttp(h, 'http://nowhere.test/');
    assert.equal(unresolved.status, 502);
    assert.match(unresolved.text, /could not resolve nowhere\.test \(ENOTFOUND\)/);
    const down = await viaConnect(h, `down.test:${deadPort}`);
    assert.equal(down.status, 502);
    assert.match(down.text, new RegExp(`could not connect to down\\.test:${deadPort} \\(ECONNREFUSED\\)`));
    assert.deepEqual(h.decisions.map((d) => d.reason), ['dns-failed', 'upstream-failed']);
  });

  it('makes its socket connectable by the container\'s user', async () => {
    const h = await harness();
    assert.equal(statSync(h.socketPath).mode & 0o777, 0o666);
  });

  describe('with the clients the agent uses, through a loopback bridge like the runner\'s', () => {
    let certDir: string;
    let secure: https.Server;
    let securePort: number;
    let cert: string;

    /** The runner's own bridge: a loopback port piped to the host's socket. */
    async function bridge(socketPath: string): Promise<{ port: number; close(): void }> {
      const b = await startModelBridge(socketPath);
      return { port: Number(new URL(b.url).port), close: b.close };
    }

    before(async () => {
      certDir = mkdtempSync(join(tmpdir(), 'nce-tls-'));
      const made = await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=secure.test', '-addext', 'subjectAltName=DNS:secure.test',
        '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], process.env);
      assert.equal(made.code, 0, made.stderr);
      cert = readFileSync(join(certDir, 'cert.pem'), 'utf8');
      secure = https.createServer({ key: readFileSync(join(certDir, 'key.pem')), cert }, (req, res) => res.end(`secret over TLS for ${req.headers.host}`));
      secure.listen(0, '127.0.0.1');
      await once(secure, 'listening');
      securePort = (secure.address() as net.AddressInfo).port;
    });
    after(async () => {
      secure.closeAllConnections();
      await new Promise<void>((r) => secure.close(() => r()));
      rmSync(certDir, { recursive: true, force: true });
    });

    async function setup() {
      const h = await harness({
        allow: [`allowed.test:${webPort}`, `secure.test:${securePort}`], allowPrivate: ['127.0.0.1/32'],
        dns: { 'allowed.test': ['127.0.0.1'], 'secure.test': ['127.0.0.1'], 'denied.test': ['127.0.0.1'] },
      });
      const b = await bridge(h.socketPath);
      const proxyUrl = `http://nanoclaw:${h.token}@127.0.0.1:${b.port}`;
      // The environment the runner gives the engine.
      const env = { PATH: process.env.PATH, HOME: certDir, HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, http_proxy: proxyUrl, https_proxy: proxyUrl, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost', NODE_USE_ENV_PROXY: '1' };
      return { h, b, proxyUrl, env };
    }

    it('curl fetches an allowlisted http:// URL, tunnels https:// with full certificate checks, and shows the refusal text for others', async () => {
      const { h, b, env } = await setup();
      try {
        const plain = await run('curl', ['-sS', '--max-time', '10', '-d', 'posted by curl', `http://allowed.test:${webPort}/from-curl`], env);
        assert.equal(plain.code, 0, plain.stderr);
        const seen = JSON.parse(plain.stdout);
        assert.equal(seen.url, '/from-curl');
        assert.equal(seen.body, 'posted by curl');
        assert.equal(seen.headers.host, `allowed.test:${webPort}`);
        assert.equal(seen.headers['proxy-authorization'], undefined);

        const tls = await run('curl', ['-sS', '--max-time', '10', '--cacert', join(certDir, 'cert.pem'), `https://secure.test:${securePort}/`], env);
        assert.equal(tls.code, 0, tls.stderr);
        assert.equal(tls.stdout, `secret over TLS for secure.test:${securePort}`);

        const denied = await run('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', 'http://denied.test/'], env);
        assert.equal(denied.stdout, 'NanoClaw egress proxy: denied.test:80 is not on this conversation\'s allowlist. Ask the owner to allow it (/allow denied.test).\n\n403');
        const deniedTls = await run('curl', ['-sS', '--max-time', '10', 'https://denied.test/'], env);
        assert.notEqual(deniedTls.code, 0);
        assert.match(deniedTls.stderr, /403/);

        await until('all four are reported', () => h.decisions.length >= 4);
        const summary = h.decisions.map((d) => `${d.method} ${d.host} ${d.allowed}`).sort();
        assert.deepEqual(summary, ['CONNECT denied.test false', 'CONNECT secure.test true', 'GET denied.test false', 'POST allowed.test true']);
        const tlsTunnel = h.decisions.find((d) => d.host === 'secure.test')!;
        assert.ok(tlsTunnel.bytesUp > 200 && tlsTunnel.bytesDown > 200, 'the TLS handshake went through the tunnel');
      } finally {
        b.close();
      }
    });

    it('curl without the token in the proxy URL gets 407', async () => {
      const { b, env } = await setup();
      try {
        const bare = `http://127.0.0.1:${b.port}`;
        const res = await run('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code}', `http://allowed.test:${webPort}/`], { ...env, HTTP_PROXY: bare, http_proxy: bare });
        assert.equal(res.stdout, '407');
      } finally {
        b.close();
      }
    });

    it('Node\'s own fetch and https follow the proxy environment (NODE_USE_ENV_PROXY=1), and NO_PROXY keeps loopback direct', async () => {
      const { b, env, h } = await setup();
      try {
        const code = `
          const https = require('node:https');
          const ca = require('node:fs').readFileSync(${JSON.stringify(join(certDir, 'cert.pem'))}, 'utf8');
          (async () => {
            const viaFetch = await (await fetch('http://allowed.test:${webPort}/from-fetch')).json();
            const direct = await (await fetch('http://127.0.0.1:${webPort}/direct')).json();
            const viaHttps = await new Promise((resolve, reject) => https.get('https://secure.test:${securePort}/', { ca }, (r) => {
              let t = ''; r.on('data', (d) => t += d); r.on('end', () => resolve(t));
            }).on('error', reject));
            console.log(JSON.stringify({ fetchUrl: viaFetch.url, directUrl: direct.url, viaHttps }));
          })().catch((e) => { console.error(e, e.cause); process.exit(1); });`;
        const res = await run(process.execPath, ['-e', code], env);
        assert.equal(res.code, 0, res.stderr);
        assert.deepEqual(JSON.parse(res.stdout), { fetchUrl: '/from-fetch', directUrl: '/direct', viaHttps: `secret over TLS for secure.test:${securePort}` });
        assert.ok(h.decisions.some((d) => d.allowed && d.host === 'allowed.test'));
        // NO_PROXY keeps loopback (the model bridge) off the egress proxy.
        assert.ok(!h.decisions.some((d) => d.host.includes('127.0.0.1')), JSON.stringify(h.decisions));
      } finally {
        b.close();
      }
    });
  });
});
