import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { AuditLog, auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { ensureHome } from '../src/config/home.ts';
import { loadConfig } from '../src/config/load.ts';
import { Providers } from '../src/config/providers.ts';
import { Secrets } from '../src/config/secrets.ts';
import { Gateway } from '../src/core/gateway.ts';
import { createLogger } from '../src/core/logger.ts';
import { dashboardName, dashboardRoutes } from '../src/dashboard/index.ts';
import { DashboardSessions, LOGIN_TTL_MS } from '../src/dashboard/session-store.ts';
import { usageCsv } from '../src/dashboard/views.ts';
import type { ContainerRuntime } from '../src/sandbox/runtime.ts';
import { openDatabase } from '../src/store/database.ts';
import { Store } from '../src/store/store.ts';

// The dashboard's server side against a real SQLite file, a real audit log,
// a real gateway object (never started: no containers are needed for these
// routes) and a real HTTP listener, spoken to with raw requests so the test
// sets every header a browser (or an attacker's page) would.

const root = mkdtempSync(join(tmpdir(), 'nc-dash-'));
const home = ensureHome(join(root, 'home'));
const config = loadConfig(home.home, {});
const db = openDatabase(home.db);
const store = new Store(db);
const auditLog = AuditLog.open(auditLogPath(home.home), { commit: 'each' });
let now = Date.parse('2026-12-02T10:00:00Z');
const clock = () => now;
const runtime = { version: async () => 'Test Engine 1.0' } as unknown as ContainerRuntime;
const gateway = new Gateway({ config, layout: home, store, runtime, providers: Providers.load(config, new Secrets(home.secrets, {})), log: createLogger('error'), audit: (e) => auditLog.append(e) });
const name = dashboardName(home);
let port = 0;
let server: ServerType;
const host = () => `${name}:${port}`;
const origin = () => `http://${host()}`;

before(async () => {
  const app = new Hono();
  app.route('/', dashboardRoutes({
    db, clock, audit: (e) => auditLog.append(e), auditFile: auditLogPath(home.home),
    limits: { idleMs: 3600_000, maxAgeMs: 3 * 3600_000 }, host, gateway,
    views: { config, store, runtime, auditHead: () => auditLog.last },
    subscribe: () => () => {},
  }));
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => { port = info.port; resolve(); });
  });
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  auditLog.close();
  db.close();
  rmSync(root, { recursive: true, force: true });
});

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: any; text: string }

function request(method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Reply> {
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: {
      host: host(), ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}), ...opts.headers,
    } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: any;
        try { body = JSON.parse(text); } catch { body = undefined; }
        resolve({ status: res.statusCode!, headers: res.headers, body, text });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** What a browser on the dashboard's own page sends with a write. */
const pageHeaders = (cookie: string, csrf?: string) => ({ cookie, origin: origin(), 'sec-fetch-site': 'same-origin', ...(csrf ? { 'x-csrf-token': csrf } : {}) });

async function login(): Promise<{ cookie: string; csrf: string; id: string }> {
  const code = new DashboardSessions(db, { idleMs: 3600_000, maxAgeMs: 3 * 3600_000 }, clock).mintCode('test').code;
  const r = await request('POST', '/dash/api/login', { headers: { origin: origin(), 'sec-fetch-site': 'same-origin' }, body: { code } });
  assert.equal(r.status, 200, r.text);
  const cookie = String(r.headers['set-cookie']![0]).split(';')[0];
  return { cookie, csrf: r.body.csrf, id: r.body.session.id };
}

const lastRecord = (type: string) => readAuditLog(auditLogPath(home.home), { type }).at(-1);

test('a login code works once, within two minutes, and sets a __Host- session cookie the page cannot read', async () => {
  const sessions = new DashboardSessions(db, { idleMs: 3600_000, maxAgeMs: 3 * 3600_000 }, clock);
  const { code } = sessions.mintCode('test');
  const first = await request('POST', '/dash/api/login', { headers: { origin: origin(), 'sec-fetch-site': 'same-origin' }, body: { code } });
  assert.equal(first.status, 200);
  const cookie = String(first.headers['set-cookie']![0]);
  assert.match(cookie, /^__Host-nc_dash=[A-Za-z0-9_-]{43};/);
  for (const attr of ['Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict']) assert.ok(cookie.includes(attr), `${attr} in ${cookie}`);
  assert.ok(!/Domain=/i.test(cookie));
  assert.equal(lastRecord('dashboard.login')?.actor, `dashboard:${first.body.session.id}`);

  const again = await request('POST', '/dash/api/login', { headers: { origin: origin() }, body: { code } });
  assert.equal(again.status, 401);
  assert.match(again.body.error.message, /used already.*nanoclaw dashboard/);

  const late = sessions.mintCode('test').code;
  now += LOGIN_TTL_MS + 1;
  const expired = await request('POST', '/dash/api/login', { headers: { origin: origin() }, body: { code: late } });
  assert.equal(expired.status, 401);
  assert.match(expired.body.error.message, /expired/);
  assert.equal(lastRecord('dashboard.login_refused')?.data?.reason, 'expired');

  // Only hashes are stored: the database alone opens nothing.
  const dump = JSON.stringify(db.prepare('SELECT * FROM dashboard_logins').all()) + JSON.stringify(db.prepare('SELECT * FROM dashboard_sessions').all());
  assert.ok(!dump.includes(code) && !dump.includes(cookie.split(';')[0].split('=')[1]));
});

test('only the install name with its port is answered: other Host headers (DNS rebinding) get 421', async () => {
  for (const bad of [`127.0.0.1:${port}`, `localhost:${port}`, `evil.example:${port}`, `${name}:${port + 1}`, name]) {
    const r = await request('GET', '/dash/api/session', { headers: { host: bad } });
    assert.equal(r.status, 421, bad);
    assert.match(r.body.error.message, /nanoclaw dashboard/);
  }
  assert.equal(lastRecord('auth.denied')?.data?.reason, 'wrong host');
  const refused = await request('GET', '/dash/api/session', { headers: { host: `evil.example:${port}` } });
  assert.match(String(refused.headers['content-security-policy']), /default-src 'none'/, 'refusals carry the headers too');
  const page = await request('GET', '/dash/', { headers: { host: `evil.example:${port}` } });
  assert.equal(page.status, 421);
});

test('writes need the exact origin, a same-origin fetch and the session\'s CSRF token', async () => {
  const { cookie, csrf } = await login();
  const conv = store.conversation({ channel: 'api', chat: 'writes', thread: '' }, false);
  const allow = (headers: Record<string, string>) => request('POST', '/dash/api/egress/allow', { headers, body: { conversation: conv.id, host: 'example.com', confirm: true } });

  const attacker = `http://127.0.0.1:${port + 7}`;
  assert.equal((await allow({ cookie, origin: attacker, 'sec-fetch-site': 'same-site', 'x-csrf-token': csrf })).status, 403, 'another loopback port');
  assert.equal((await allow({ cookie, origin: `http://localhost:${port}`, 'x-csrf-token': csrf })).status, 403, 'the right port under another name');
  assert.equal((await allow({ cookie, 'x-csrf-token': csrf })).status, 403, 'no Origin');
  assert.equal((await allow({ cookie, origin: origin(), 'sec-fetch-site': 'same-site', 'x-csrf-token': csrf })).status, 403, 'same-site is not same-origin');
  assert.equal((await allow(pageHeaders(cookie))).status, 403, 'no CSRF token');
  assert.equal((await allow(pageHeaders(cookie, csrf.slice(0, -1) + (csrf.endsWith('A') ? 'B' : 'A')))).status, 403, 'a wrong CSRF token');
  assert.equal((await allow({ origin: origin(), 'x-csrf-token': csrf })).status, 401, 'no cookie');
  assert.deepEqual(gateway.egressAllowlist.list(conv.id), [], 'nothing refused changed anything');

  const ok = await allow(pageHeaders(cookie, csrf));
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(gateway.egressAllowlist.list(conv.id), ['example.com']);
  const refusals = readAuditLog(auditLogPath(home.home), { type: 'auth.denied' }).map((r) => r.data?.reason);
  for (const reason of ['wrong origin', 'no origin', 'sec-fetch-site same-site', 'csrf token']) assert.ok(refusals.includes(reason), reason);
});

test('reads from another site are refused, and every answer carries the strict CSP', async () => {
  const { cookie } = await login();
  const crossSite = await request('GET', '/dash/api/overview', { headers: { cookie, 'sec-fetch-site': 'same-site' } });
  assert.equal(crossSite.status, 403);
  const own = await request('GET', '/dash/api/overview', { headers: { cookie, 'sec-fetch-site': 'same-origin' } });
  assert.equal(own.status, 200, own.text);
  assert.equal(own.body.runtime.version, 'Test Engine 1.0');
  for (const r of [crossSite, own]) {
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.headers['x-frame-options'], 'DENY');
  }
  assert.equal((await request('GET', '/dash/api/overview')).status, 401, 'no cookie');
});

test('the event stream needs the CSRF token in its URL and the dashboard\'s own origin', async () => {
  const { cookie, csrf } = await login();
  const opened = (path: string, headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host: host(), cookie, ...headers } }, (res) => {
      resolve(res.statusCode!);
      res.destroy();
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(await opened('/dash/api/events', { 'sec-fetch-site': 'same-origin' }), 403, 'no token');
  assert.equal(await opened(`/dash/api/events?csrf=${csrf}`, { origin: `http://127.0.0.1:${port + 7}`, 'sec-fetch-site': 'same-site' }), 403, 'another port');
  assert.equal(await opened(`/dash/api/events?csrf=${csrf}`, { 'sec-fetch-site': 'same-origin' }), 200);
});

test('a signed-out, revoked, idle or too old session opens nothing', async () => {
  const a = await login();
  const out = await request('POST', '/dash/api/logout', { headers: pageHeaders(a.cookie, a.csrf), body: {} });
  assert.equal(out.status, 200);
  assert.equal((await request('GET', '/dash/api/session', { headers: { cookie: a.cookie } })).status, 401);

  const b = await login();
  now += 3600_000 + 1;
  assert.equal((await request('GET', '/dash/api/session', { headers: { cookie: b.cookie } })).status, 401, 'idle for over an hour');

  const c = await login();
  for (let i = 0; i < 3; i++) {
    now += 50 * 60_000;
    assert.equal((await request('GET', '/dash/api/session', { headers: { cookie: c.cookie } })).status, 200, 'kept alive by use');
  }
  now += 40 * 60_000;
  assert.equal((await request('GET', '/dash/api/session', { headers: { cookie: c.cookie } })).status, 401, 'three hours after login, however active');

  const d = await login();
  const sessions = new DashboardSessions(db, { idleMs: 3600_000, maxAgeMs: 3 * 3600_000 }, clock);
  const unused = sessions.mintCode('test').code;
  assert.ok(sessions.revokeAll() >= 1);
  assert.equal((await request('GET', '/dash/api/session', { headers: { cookie: d.cookie } })).status, 401);
  assert.equal((await request('POST', '/dash/api/login', { headers: { origin: origin() }, body: { code: unused } })).status, 401, 'unused links die too');
});

test('pairing approve and reject, a stop and an egress allow are done as the owner and audited as the session', async () => {
  const { cookie, csrf, id } = await login();
  const actor = `dashboard:${id}`;
  const alice = gateway.senders.requestPairing('telegram', '1001');
  gateway.senders.requestPairing('telegram', '1002');
  const listed = await request('GET', '/dash/api/pairing', { headers: { cookie } });
  assert.deepEqual(listed.body.pending.map((p: any) => p.sender).sort(), ['1001', '1002']);

  const approved = await request('POST', '/dash/api/pairing/approve', { headers: pageHeaders(cookie, csrf), body: { code: alice.code } });
  assert.deepEqual(approved.body, { approved: { channel: 'telegram', sender: '1001' } });
  assert.equal(gateway.senders.isApproved('telegram', '1001'), true);
  assert.equal(lastRecord('pairing.approved')?.actor, actor);
  const rejected = await request('POST', '/dash/api/pairing/reject', { headers: pageHeaders(cookie, csrf), body: { channel: 'telegram', sender: '1002' } });
  assert.equal(rejected.status, 200);
  assert.equal(gateway.senders.get('telegram', '1002'), undefined);
  assert.equal(lastRecord('pairing.rejected')?.actor, actor);

  const conv = store.conversation({ channel: 'api', chat: 'actions', thread: '' }, false);
  const stop = await request('POST', `/dash/api/conversations/${conv.id}/stop`, { headers: pageHeaders(cookie, csrf), body: {} });
  assert.deepEqual(stop.body, { result: 'Nothing is running.' });

  const unconfirmed = await request('POST', '/dash/api/egress/allow', { headers: pageHeaders(cookie, csrf), body: { conversation: conv.id, host: 'https://API.example.org' } });
  assert.equal(unconfirmed.status, 400, 'a URL is not a host');
  const ask = await request('POST', '/dash/api/egress/allow', { headers: pageHeaders(cookie, csrf), body: { conversation: conv.id, host: 'api.example.org' } });
  assert.equal(ask.status, 409);
  assert.equal(ask.body.confirm.entry, 'api.example.org');
  assert.deepEqual(gateway.egressAllowlist.list(conv.id), [], 'nothing allowed before confirmation');
  const yes = await request('POST', '/dash/api/egress/allow', { headers: pageHeaders(cookie, csrf), body: { conversation: conv.id, host: 'api.example.org', confirm: true } });
  assert.equal(yes.body.allowed, 'api.example.org');
  const rec = lastRecord('admin.allow_domain')!;
  assert.equal(rec.actor, actor);
  assert.equal(rec.conversation, conv.id);
  const removed = await request('POST', '/dash/api/egress/disallow', { headers: pageHeaders(cookie, csrf), body: { conversation: conv.id, host: 'api.example.org' } });
  assert.equal(removed.body.removed, true);
  assert.deepEqual(gateway.egressAllowlist.list(conv.id), []);
});

test('the audit log pages newest first, and verify finds an edited record', async () => {
  const { cookie, csrf } = await login();
  for (let i = 0; i < 30; i++) auditLog.append({ type: 'test.filler', data: { i } });
  const first = await request('GET', '/dash/api/audit?type=test.filler&limit=20', { headers: { cookie } });
  assert.equal(first.body.records.length, 20);
  assert.equal(first.body.records[0].data.i, 29);
  const second = await request('GET', `/dash/api/audit?type=test.filler&limit=20&before=${first.body.next}`, { headers: { cookie } });
  assert.deepEqual(second.body.records.map((r: any) => r.data.i), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assert.equal(second.body.next, null);

  const ok = await request('POST', '/dash/api/audit/verify', { headers: pageHeaders(cookie, csrf), body: {} });
  assert.equal(ok.body.ok, true, ok.text);
  assert.ok(ok.body.records > 30);

  const file = auditLogPath(home.home);
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes('"i":5'));
  const seq = JSON.parse(lines[at]).seq;
  lines[at] = lines[at].replace('"i":5', '"i":6');
  writeFileSync(file, lines.join('\n'));
  const broken = await request('POST', '/dash/api/audit/verify', { headers: pageHeaders(cookie, csrf), body: {} });
  assert.equal(broken.body.ok, false);
  assert.equal(broken.body.firstProblem.seq, seq);
  assert.match(broken.body.firstProblem.problem, new RegExp(`record seq ${seq} does not match its hash`));
  const overview = await request('GET', '/dash/api/overview', { headers: { cookie } });
  assert.equal(overview.body.audit.lastVerification.ok, false, 'the overview shows the last result');
});

test('usage is split by provider and model, and the CSV cannot smuggle a spreadsheet formula', async () => {
  const { cookie } = await login();
  const conv = store.conversation({ channel: 'api', chat: 'usage', thread: '' }, false);
  store.addUsage(conv.id, { inputTokens: 100, outputTokens: 20, cacheWriteTokens: 0, cacheReadTokens: 0, provider: 'anthropic', model: 'claude-sonnet-4-5' }, 0.5);
  store.addUsage(conv.id, { inputTokens: 10, outputTokens: 2, cacheWriteTokens: 0, cacheReadTokens: 0, provider: 'local', model: '=HYPERLINK("http://x")' }, 0);
  const usage = await request('GET', '/dash/api/usage?days=7', { headers: { cookie } });
  const mine = usage.body.rows.filter((r: any) => r.conversation === conv.id);
  assert.deepEqual(mine.map((r: any) => [r.provider, r.inputTokens]).sort(), [['anthropic', 100], ['local', 10]]);
  assert.deepEqual(store.usageToday(conv.id).inputTokens, 110, 'the budget\'s own rows still count both');
  const csv = usageCsv(mine);
  assert.ok(csv.includes(`"'=HYPERLINK(""http://x"")"`), csv);
  const download = await request('GET', '/dash/api/usage.csv?days=7', { headers: { cookie } });
  assert.match(String(download.headers['content-type']), /^text\/csv/);
  assert.match(String(download.headers['content-disposition']), /attachment/);
});

test('refusals are audited, but a flood of them is counted, not written one by one', async () => {
  const before = readAuditLog(auditLogPath(home.home), { type: 'auth.denied' }).length;
  now += 120_000;
  for (let i = 0; i < 60; i++) await request('GET', '/dash/api/overview', { headers: { 'sec-fetch-site': 'cross-site' } });
  const after = readAuditLog(auditLogPath(home.home), { type: 'auth.denied' }).length;
  assert.ok(after - before <= 30, `${after - before} records for 60 refusals`);
});
