/**
 * The dashboard in a real browser: Debian's Chromium (driven by
 * playwright-core), the real client built into dist/dash, a real gateway with
 * real containers and the stand-in model. Logging in with a link, a live turn
 * shown as it runs and stopped from the page, pairing, the audit chain
 * verified and then found broken, egress allowed after a confirmation; and
 * the attacks the design is for: a page on another loopback port writing or
 * listening with the victim's cookie, a wrong Host (DNS rebinding), an
 * agent's text carrying markup, an inline script under the CSP, a write
 * without the CSRF token. Screenshots of every page go to
 * test-artifacts/dashboard/ for a person to look at.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import type { ScriptFn } from '../src/devtools/fake-anthropic.ts';
import { isAgentTurn } from '../src/devtools/fake-anthropic/script.ts';
import { ARTIFACTS, chromiumSkipReason, launchChromium, recordRequests, screenshot, startAttacker, watchCsp, type Attacker } from './support/browser.ts';
import { startHarness, type Harness } from './support/harness.ts';
import { apiConversationId } from './support/turns.ts';
import { pollUntil, turnReceived } from './support/wait.ts';

const MINUTE = 60_000;

/**
 * A live turn: text and a tool call, then more text and a second tool call,
 * then the model takes ten minutes to answer (only a stop ends it in time).
 * Not a `sleep 600` command: Claude Code refuses a standalone sleep.
 */
const LIVE = 'show me a live turn';
/** A turn that stalls in the model for ten minutes, for the attacks on the stop route. */
const STALL = 'stall for ten minutes';

/** The newest user text of a request, or undefined when its last message carries tool results. */
function newestUserText(body: Parameters<ScriptFn>[0]): string | undefined {
  const last = body.messages?.findLast((m) => m.role !== 'system');
  if (last?.role !== 'user') return undefined;
  const content = last.content ?? [];
  if (typeof content === 'string') return content;
  if (content.some((b) => b.type === 'tool_result')) return undefined;
  return content.flatMap((b) => (b.type === 'text' && b.text && !b.text.startsWith('<system-reminder>') ? [b.text] : [])).at(-1);
}

const script: ScriptFn = (body) => {
  if (!isAgentTurn(body)) return undefined;
  const text = newestUserText(body);
  if (text === STALL) return { blocks: [{ type: 'text', text: 'Done stalling.' }], delayMs: 600_000 };
  if (text === LIVE) {
    return { blocks: [{ type: 'text', text: 'Looking around first.' }, { type: 'tool_use', name: 'Bash', input: { command: 'echo live-tool-output', description: 'Look around' } }] };
  }
  const all = JSON.stringify(body.messages ?? []);
  if (text !== undefined || !all.includes(LIVE)) return undefined;
  if (all.includes('step-two-done')) return { blocks: [{ type: 'text', text: 'Done thinking.' }], delayMs: 600_000 };
  return { blocks: [{ type: 'text', text: 'Found it; now a long job.' }, { type: 'tool_use', name: 'Bash', input: { command: 'echo step-two-done', description: 'Step two' } }] };
};

/** Raw GET with any Host header: what a DNS-rebinding page's request looks like to the server. */
function getWithHost(port: number, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Changes one character of a string in an early record's data, in place (same length, so appends meanwhile are untouched); returns the record's seq and an undo. */
function tamperAuditLog(file: string): { seq: number; undo: () => void } {
  const text = readFileSync(file, 'utf8');
  let offset = 0;
  for (const [i, line] of text.split('\n').entries()) {
    // Not the first record: an early one in the middle, with records after it.
    const m = i > 0 ? /"data":\{"[a-zA-Z]+":"([a-zA-Z])/.exec(line) : null;
    if (m) {
      const at = offset + Buffer.byteLength(line.slice(0, m.index + m[0].length - 1));
      const seq = (JSON.parse(line) as { seq: number }).seq;
      const fd = openSync(file, 'r+');
      try {
        const was = Buffer.alloc(1);
        readSync(fd, was, 0, 1, at);
        writeSync(fd, Buffer.from(was[0] === 0x71 ? 'z' : 'q'), 0, 1, at);
        return {
          seq,
          undo: () => { const f = openSync(file, 'r+'); try { writeSync(f, was, 0, 1, at); } finally { closeSync(f); } },
        };
      } finally {
        closeSync(fd);
      }
    }
    offset += Buffer.byteLength(line) + 1;
  }
  throw new Error(`no record in ${file} has a string in its data to change`);
}

describe('the dashboard in a real browser', { skip: chromiumSkipReason(), timeout: 600_000 }, () => {
  let h: Harness;
  let browser: Browser;
  let attacker: Attacker;
  /** The gateway's clock: the real time, moved ahead when a test expires a login link. */
  let ahead = 0;
  const clock = () => Date.now() + ahead;
  const open: BrowserContext[] = [];

  before(async () => {
    h = await startHarness({ clock, script });
    browser = await launchChromium();
    attacker = await startAttacker();
  });
  after(async () => {
    for (const c of open) await c.close().catch(() => {});
    await browser?.close();
    await attacker?.close();
    await h?.close();
    process.stdout.write(`dashboard screenshots: ${ARTIFACTS}\n`);
  });

  const audit = (type: string) => readAuditLog(auditLogPath(h.home), { type });

  /** A fresh login link, as `nanoclaw dashboard --print` gets it. */
  async function link(): Promise<{ url: string; expiresAt: string; name: string }> {
    const res = await h.api('/api/v1/dashboard/link', { method: 'POST', body: '{}' });
    assert.equal(res.status, 200, await res.clone().text());
    return await res.json() as { url: string; expiresAt: string; name: string };
  }

  async function newContext(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    open.push(context);
    return context;
  }

  /** A new browser context logged in with a new link, on the overview. */
  async function login(): Promise<{ context: BrowserContext; page: Page; origin: string; session: string; requests: string[] }> {
    const { url } = await link();
    const context = await newContext();
    const requests = recordRequests(context);
    const page = await context.newPage();
    await page.goto(url);
    await page.getByTestId('page-overview').waitFor();
    const origin = new URL(url).origin;
    const info = await page.evaluate(async () => (await fetch('/dash/api/session')).json());
    return { context, page, origin, session: info.session.id, requests };
  }

  /** Goes to a page by its nav link and waits for the page's root. */
  async function nav(page: Page, name: string): Promise<void> {
    await page.getByTestId(`nav-${name}`).click();
    await page.getByTestId(`page-${name}`).waitFor();
  }

  let victim: Awaited<ReturnType<typeof login>>;

  it('logs in with the link: a host-only __Host- cookie, the fragment gone, the code in no request', async () => {
    const { url, name } = await link();
    const host = new URL(url).hostname;
    assert.match(host, /^nanoclaw-[a-z0-9]{10}\.localhost$/);
    assert.equal(name, host);
    const code = /#code=([A-Za-z0-9_-]{43})$/.exec(url)?.[1];
    assert.ok(code, `a 43-character code in the fragment: ${url}`);

    const context = await newContext();
    const requests = recordRequests(context);
    const page = await context.newPage();
    const csp = await watchCsp(page);
    await page.goto(url);
    await page.getByTestId('page-overview').waitFor();
    assert.equal(new URL(page.url()).pathname, '/dash/');
    assert.equal(new URL(page.url()).hash, '', 'the code is gone from the address');
    assert.ok(!page.url().includes(code));

    const cookies = await context.cookies();
    assert.equal(cookies.length, 1, JSON.stringify(cookies));
    const [cookie] = cookies;
    assert.equal(cookie.name, '__Host-nc_dash');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/');
    assert.equal(cookie.domain, host, 'host-only: no leading dot, no Domain attribute');
    assert.equal(await page.evaluate(() => document.cookie), '', 'HttpOnly: the page\'s script cannot read it');
    assert.ok(!cookie.value.includes(code));

    assert.ok(requests.length > 3, requests.join('\n'));
    for (const r of requests) {
      assert.ok(!r.includes(code), `the code was in a request URL: ${r}`);
      assert.equal(new URL(r).host, new URL(url).host, `every request goes to the dashboard itself: ${r}`);
    }
    assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length]), [0, 0], 'nothing kept in web storage');
    assert.deepEqual([...csp.console, ...csp.events], [], 'the client runs under its CSP without a violation');
    await page.getByTestId('overview-health').waitFor();
    await screenshot(page, 'overview');
    const logins = audit('dashboard.login');
    assert.ok(logins.length >= 1, 'the login is audited');
  });

  it('refuses a link used a second time, and a link older than two minutes', async () => {
    const { url } = await link();
    const first = await newContext();
    const p1 = await first.newPage();
    await p1.goto(url);
    await p1.getByTestId('page-overview').waitFor();

    const second = await newContext();
    const p2 = await second.newPage();
    await p2.goto(url);
    const used = p2.getByTestId('login-error');
    await used.waitFor();
    assert.match(await used.innerText(), /used/i);
    assert.match(await p2.getByTestId('page-login').innerText(), /nanoclaw dashboard/);
    assert.deepEqual(await second.cookies(), [], 'no session cookie');
    await screenshot(p2, 'login-error');

    const late = await link();
    ahead += 2 * MINUTE + 1000;
    const third = await newContext();
    const p3 = await third.newPage();
    await p3.goto(late.url);
    const expired = p3.getByTestId('login-error');
    await expired.waitFor();
    assert.match(await expired.innerText(), /expired|old/i);
    assert.deepEqual(await third.cookies(), []);
  });

  it('shows a live turn as it runs (tool call, text, token use) and stops it from the page, audited as the session', async () => {
    victim = await login();
    const { page, session } = victim;
    const chat = 'dash-live';
    const conv = apiConversationId(chat);
    assert.match(await h.ask(chat, 'hello'), /Echo: hello/);

    await nav(page, 'conversations');
    await page.locator(`[data-testid="conv-row"][data-id="${conv}"]`).waitFor();
    await screenshot(page, 'conversations');
    await page.locator(`[data-testid="conv-row"][data-id="${conv}"] a`).first().click();
    await page.getByTestId('page-conversation').waitFor();

    // The request after the second tool ran: the model takes ten minutes to answer it.
    const thinking = turnReceived(h.fake, 'step-two-done', 60_000);
    const answered = h.send(chat, LIVE);
    await thinking;
    const log = page.getByTestId('turn-log');
    const entry = (kind: string) => log.locator(`[data-testid="turn-entry"][data-kind="${kind}"]`);
    await entry('tool_use').first().waitFor();
    await entry('text').first().waitFor();
    await entry('usage').first().waitFor();
    await pollUntil('the second tool\'s result shows', async () => (await log.innerText()).includes('step-two-done'), 20_000);
    await entry('tool_result').first().waitFor();
    assert.match(await log.innerText(), /Bash/);
    assert.match(await log.innerText(), /echo live-tool-output/);
    assert.match(await log.innerText(), /Found it; now a long job\./);
    assert.equal(await page.getByTestId('turn-state').innerText(), 'running');
    await screenshot(page, 'conversation-live');

    await page.getByTestId('stop-turn').click();
    const { status, body } = await answered;
    assert.equal(status, 200);
    assert.deepEqual(body.replies.map((r: any) => r.kind), ['notice'], JSON.stringify(body));
    assert.match(body.replies[0].text, /stopped/i);
    await pollUntil('the page shows the turn idle', async () => (await page.getByTestId('turn-state').innerText()) === 'idle', 20_000);
    await page.getByTestId('toast').waitFor();
    assert.match(await page.getByTestId('toast').innerText(), /Stopped/);

    const stops = audit('admin.stop').filter((r) => r.conversation === conv);
    assert.equal(stops.length, 1, JSON.stringify(audit('admin')));
    assert.equal(stops[0].actor, `dashboard:${session}`);
    await screenshot(page, 'conversation-stopped');
  });

  it('shows the agent\'s text as the model writes it, then its whole text', async () => {
    const { page } = victim;
    const chat = 'dash-stream';
    const conv = apiConversationId(chat);
    assert.match(await h.ask(chat, 'hello'), /Echo: hello/);
    await page.goto(`${victim.origin}/dash/conversations/${conv}`);
    await page.getByTestId('page-conversation').waitFor();
    // The stand-in writes a 16-character delta every 100 ms: about four seconds.
    const sentence = 'Streaming, word by word: the live view shows what the model writes while it writes it, and then the whole answer once it is done.';
    const answered = h.send(chat, `slowly: ${sentence}`);
    const streaming = page.locator('[data-testid="turn-entry"][data-kind="text"][data-streaming="true"]');
    await streaming.waitFor({ timeout: 20_000 });
    const partial = (await streaming.innerText()).replace(/^.*agent\s*/s, '').trim();
    assert.ok(partial.length > 0 && partial.length < sentence.length && sentence.startsWith(partial.replace(/▍$/, '')), `part of the sentence while it is written: ${partial}`);
    await screenshot(page, 'conversation-streaming');
    assert.equal((await answered).status, 200);
    const done = page.locator('[data-testid="turn-entry"][data-kind="text"]').last();
    await pollUntil('the whole text replaces the deltas', async () => (await done.getAttribute('data-streaming')) === null && (await done.innerText()).includes(sentence), 20_000);
  });

  it('approves a pending sender on the pairing page, audited as the session', async () => {
    const { page, session } = victim;
    const pending = h.app.gateway.senders.requestPairing('telegram', '424242');
    assert.ok(pending.code);
    await nav(page, 'pairing');
    const row = page.locator(`[data-testid="pairing-row"][data-code="${pending.code}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /424242/);
    await screenshot(page, 'pairing');
    await row.getByTestId('pairing-approve').click();
    await pollUntil('the sender is approved', () => h.app.gateway.senders.isApproved('telegram', '424242'), 10_000);
    await page.getByTestId('approved-row').filter({ hasText: '424242' }).waitFor();
    const records = audit('pairing.approved').filter((r) => (r.data as any).sender === '424242');
    assert.equal(records.length, 1, JSON.stringify(audit('pairing')));
    assert.equal(records[0].actor, `dashboard:${session}`);
  });

  it('allows a denied host after a confirmation naming it, for that conversation, audited as the session', async () => {
    const { page, session } = victim;
    const chat = 'dash-egress';
    const conv = apiConversationId(chat);
    const host = 'blocked-host.example';
    const reply = await h.ask(chat, `run: curl -sS -m 5 -w " status=%{http_code}" http://${host}/ 2>&1; echo`);
    assert.match(reply, /status=403/);
    assert.ok(audit('egress.denied').some((r) => (r.data as any).host === host));

    await nav(page, 'egress');
    const denied = page.locator(`[data-testid="egress-decision"][data-decision="denied"][data-host="${host}"]`).first();
    await denied.waitFor();
    await denied.getByTestId('egress-allow').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), new RegExp(host.replace(/\./g, '\\.')));
    await screenshot(page, 'egress-confirm');
    await page.getByTestId('confirm-yes').click();
    await page.locator(`[data-testid="egress-entry"][data-entry="${host}"]`).waitFor();
    await screenshot(page, 'egress');

    const detail = await page.evaluate(async (id) => (await fetch(`/dash/api/conversations/${id}`)).json(), conv);
    assert.ok(detail.egress.includes(host), JSON.stringify(detail.egress));
    const [allowed] = audit('admin.allow_domain').filter((r) => r.conversation === conv);
    assert.ok(allowed, JSON.stringify(audit('admin')));
    assert.equal(allowed.actor, `dashboard:${session}`);
  });

  it('shows containers and usage', async () => {
    const { page } = victim;
    await nav(page, 'containers');
    await page.getByTestId('container-row').first().waitFor();
    await screenshot(page, 'containers');
    await nav(page, 'usage');
    await page.getByTestId('chart-day').waitFor();
    await page.getByTestId('chart-model').waitFor();
    await page.getByTestId('chart-conversation').waitFor();
    assert.match(await page.getByTestId('usage-csv').getAttribute('href') ?? '', /^\/dash\/api\/usage\.csv\?days=\d+$/);
    await screenshot(page, 'usage');
  });

  it('a page on another loopback port cannot stop, approve, allow, sign out or listen with the victim\'s cookie', async () => {
    const { context, origin, page } = victim;
    const chat = 'dash-victim';
    const conv = apiConversationId(chat);
    const running = turnReceived(h.fake, STALL, 60_000);
    const stalled = h.send(chat, STALL);
    await running;
    const pending = h.app.gateway.senders.requestPairing('telegram', '777777');
    const refusedBefore = audit('auth.denied').length;
    const eventsBefore = audit('dashboard').length;

    const writes = [
      ['/dash/api/conversations/' + conv + '/stop', {}],
      ['/dash/api/pairing/approve', { code: pending.code }],
      ['/dash/api/egress/allow', { conversation: conv, host: 'attacker.example', confirm: true }],
      ['/dash/api/logout', {}],
    ] as const;
    // The attacker's port under the dashboard's own name too: that page is sent
    // the dashboard's cookie (ports do not separate cookies), so it is the case
    // the Origin, Sec-Fetch-Site and CSRF checks exist for.
    const sameName = `http://${new URL(origin).hostname}:${new URL(attacker.urls[0]).port}/`;
    for (const from of [...attacker.urls, sameName]) {
      const evil = await context.newPage();
      await evil.goto(from);
      const outcome = await evil.evaluate(async ({ origin, writes }) => {
        const results: string[] = [];
        for (const [path, body] of writes) {
          // The classic: an opaque no-cors POST with the cookie, the answer unreadable and not needed.
          await fetch(origin + path, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) })
            .then(() => results.push(`no-cors ${path}: sent`), (e) => results.push(`no-cors ${path}: ${e}`));
          // And an ordinary fetch, as a form-less page would send it.
          await fetch(origin + path, { method: 'POST', credentials: 'include', body: JSON.stringify(body) })
            .then((r) => results.push(`cors ${path}: ${r.status}`), (e) => results.push(`cors ${path}: ${e}`));
        }
        const heard = await new Promise<string>((resolve) => {
          const es = new EventSource(origin + '/dash/api/events?csrf=guess', { withCredentials: true });
          const done = (what: string) => { es.close(); resolve(what); };
          es.onmessage = (e) => done(`data: ${e.data}`);
          es.addEventListener('ready', () => done('ready'));
          es.onerror = () => done('error');
          setTimeout(() => done('nothing'), 3000);
        });
        return { results, heard };
      }, { origin, writes: writes.map(([p, b]) => [p, b] as [string, unknown]) });
      assert.notEqual(outcome.heard, 'ready', `${from}: the event stream opened for another origin`);
      assert.ok(!outcome.heard.startsWith('data:'), `${from}: ${outcome.heard}`);
      for (const r of outcome.results) assert.doesNotMatch(r, /: 200$/, `${from}: ${r}`);
      await evil.close();
    }

    assert.equal(h.app.gateway.senders.isApproved('telegram', '777777'), false, 'the pairing is still pending');
    assert.equal(audit('admin.allow_domain').filter((r) => JSON.stringify(r.data).includes('attacker.example')).length, 0);
    assert.equal(audit('admin.stop').filter((r) => r.conversation === conv).length, 0, 'nothing stopped');
    const session = await page.evaluate(async () => (await fetch('/dash/api/session')).status);
    assert.equal(session, 200, 'the victim is still signed in');
    const refusals = audit('auth.denied').slice(refusedBefore);
    const paths = new Set(refusals.map((r) => (r.data as any).path));
    for (const [path] of writes) assert.ok(paths.has(path), `the refusal of ${path} is audited: ${JSON.stringify(refusals)}`);
    assert.ok(paths.has('/dash/api/events'), 'the refused event stream is audited');
    assert.ok(refusals.every((r) => /sec-fetch-site|origin/.test((r.data as any).reason)), JSON.stringify(refusals));
    assert.equal(audit('dashboard').length - eventsBefore, 0, 'no dashboard action happened');

    // The turn was never stopped: it still runs until stopped here.
    assert.match((await h.send(chat, '/stop')).body.replies[0].text, /^Stopped/);
    await stalled;
  });

  it('answers 421 and no page to a wrong Host (DNS rebinding)', async () => {
    const { origin } = victim;
    const { port, hostname } = new URL(origin);
    const other = String(Number(port) === 65535 ? 1 : Number(port) + 1);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `evil.example:${port}`, `${hostname}:${other}`, hostname, `x.${hostname}:${port}`]) {
      for (const path of ['/dash/', '/dash/assets/app.js', '/dash/api/session']) {
        const res = await getWithHost(Number(port), host, path);
        assert.equal(res.status, 421, `${host} ${path}`);
        assert.doesNotMatch(res.body, /<html|<script|function/i, `${host} ${path}: no page`);
      }
    }
    assert.equal((await getWithHost(Number(port), `${hostname}:${port}`, '/dash/')).status, 200, 'the right Host gets the page');
  });

  it('shows an agent\'s markup as text, and the CSP blocks an inline script', async () => {
    const { page } = victim;
    const chat = 'dash-xss';
    const conv = apiConversationId(chat);
    const payload = 'look <img src=x onerror="window.__pwned=1"> and <script>window.__pwned2=1</script> done';
    await h.ask(chat, payload);
    const csp = await watchCsp(page);
    await page.goto(`${victim.origin}/dash/conversations/${conv}`);
    const messages = page.getByTestId('messages');
    await messages.waitFor();
    await pollUntil('the message shows', async () => (await messages.innerText()).includes('<img src=x onerror="window.__pwned=1">'), 10_000);
    assert.match(await messages.innerText(), /<script>window\.__pwned2=1<\/script>/);
    assert.equal(await messages.locator('img, script').count(), 0, 'no element made from the text');
    assert.deepEqual(await page.evaluate(() => [(window as any).__pwned, (window as any).__pwned2]), [undefined, undefined]);
    await screenshot(page, 'conversation-markup');

    const ran = await page.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
      await new Promise((r) => setTimeout(r, 200));
      return (window as any).__inline;
    });
    assert.equal(ran, undefined, 'the inline script did not run');
    await pollUntil('the violation is reported', () => csp.events.some((e) => e.startsWith('script-src')), 5000);
    assert.ok(csp.console.some((m) => /inline script/i.test(m)), csp.console.join('\n'));
  });

  it('refuses a write with the cookie but without the CSRF token', async () => {
    const { page } = victim;
    const pending = h.app.gateway.senders.requestPairing('telegram', '888888');
    const statuses = await page.evaluate(async (code) => {
      const post = (path: string, body: unknown, headers: Record<string, string>) =>
        fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).then((r) => r.status);
      return [
        await post('/dash/api/logout', {}, {}),
        await post('/dash/api/pairing/approve', { code }, {}),
        await post('/dash/api/pairing/approve', { code }, { 'x-csrf-token': 'not-the-token' }),
      ];
    }, pending.code);
    assert.deepEqual(statuses, [403, 403, 403]);
    assert.equal(h.app.gateway.senders.isApproved('telegram', '888888'), false);
    assert.equal(await page.evaluate(async () => (await fetch('/dash/api/session')).status), 200, 'still signed in');
  });

  it('verifies the audit chain from the page, and names the record edited behind its back', async () => {
    const { page } = victim;
    await nav(page, 'audit');
    await page.getByTestId('audit-row').first().waitFor();
    await page.getByTestId('verify-chain').click();
    const result = page.getByTestId('verify-result');
    await pollUntil('a good result', async () => (await result.getAttribute('data-ok').catch(() => null)) === 'true', 30_000);
    await screenshot(page, 'audit-ok');

    const { seq, undo } = tamperAuditLog(auditLogPath(h.home));
    try {
      const answer = page.waitForResponse((r) => r.url().endsWith('/dash/api/audit/verify'));
      await page.getByTestId('verify-chain').click();
      const verify = await (await answer).json();
      assert.equal(verify.ok, false);
      assert.equal(verify.firstProblem.seq, seq, JSON.stringify(verify.firstProblem));
      await pollUntil('a broken result', async () => (await result.getAttribute('data-ok')) === 'false', 10_000);
      const shown = await result.innerText();
      assert.ok(shown.includes(verify.firstProblem.problem), `the first problem verbatim: ${shown}`);
      assert.ok(shown.includes(String(seq)), shown);
      await screenshot(page, 'audit-broken');
    } finally {
      undo();
    }
  });

  it('signs everyone out when the sessions are revoked', async () => {
    const { page } = victim;
    const res = await h.api('/api/v1/dashboard/revoke', { method: 'POST', body: '{}' });
    assert.equal(res.status, 200);
    assert.ok((await res.json() as any).revoked >= 1);
    await page.getByTestId('nav-overview').click();
    await page.getByTestId('page-signed-out').waitFor({ timeout: 10_000 });
    assert.match(await page.getByTestId('page-signed-out').innerText(), /nanoclaw dashboard/);
    await screenshot(page, 'signed-out');
  });
});
