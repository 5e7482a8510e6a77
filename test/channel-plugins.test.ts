/**
 * Channel plugins: the example webhook plugin (examples/webhook-channel),
 * loaded from `channels.plugins` by a real gateway, carries a message into a
 * real container and its reply out to a callback server; the shared secret
 * is checked both ways. A plugin that cannot be used stops the start with an
 * error that names it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startApp } from '../src/app.ts';
import { auditLogPath, readAuditLog } from '../src/audit/audit-log.ts';
import { REAL_KEY, startHarness, type Harness } from './support/harness.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/webhook-channel/index.js', import.meta.url));
const SECRET = 'webhook-test-secret-0123456789abcdef';

/** A free local port (the listener binds it a moment later). */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The other side of the webhook: records every callback POST and answers with an id. */
class CallbackServer {
  readonly received: Array<{ authorization?: string; body: any }> = [];
  private waiters: Array<() => void> = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<CallbackServer> {
    let me!: CallbackServer;
    const server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      me.received.push({ authorization: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `cb-${me.received.length}` }));
      for (const w of me.waiters.splice(0)) w();
    });
    me = new CallbackServer(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return me;
  }

  get url(): string { return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/replies`; }

  /** Waits for the callbacks to `chat` until `count` of them arrived, and returns them. */
  async forChat(chat: string, count = 1): Promise<Array<{ authorization?: string; body: any }>> {
    const mine = () => this.received.filter((r) => r.body.chat === chat);
    const deadline = Date.now() + 60_000;
    while (mine().length < count) {
      if (Date.now() > deadline) throw new Error(`no ${count} callback(s) for ${chat}: ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => { this.waiters.push(resolve); setTimeout(resolve, 200); });
    }
    return mine();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('channel plugins: the example webhook channel through a real gateway and containers', () => {
  let h: Harness;
  let callbacks: CallbackServer;
  let inbound: string;
  const modelSaw = (text: string) => h.fake.requests.some((r) => JSON.stringify(r.body ?? '').includes(text));
  const post = (body: unknown, secret: string | null = SECRET) => fetch(inbound, {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(secret !== null ? { authorization: `Bearer ${secret}` } : {}) },
  });

  before(async () => {
    callbacks = await CallbackServer.start();
    const port = await freePort();
    inbound = `http://127.0.0.1:${port}/hook`;
    h = await startHarness({
      env: { WEBHOOK_SECRET: SECRET },
      config: {
        channels: { plugins: [{ module: EXAMPLE, name: 'webhook', options: { port, path: '/hook', callbackUrl: callbacks.url, maxMessageLength: 200 } }] },
        access: { owners: ['webhook:alice'] },
      },
    });
  });
  after(async () => { await h?.close(); await callbacks?.close(); });

  it('carries a message with the shared secret into a container and POSTs the reply to the callback with the same secret', async () => {
    const res = await post({ chat: 'room-1', sender: 'alice', text: 'hello through a plugin', id: 'msg-1' });
    assert.equal(res.status, 202);
    const body = await res.json();
    assert.equal(body.accepted, true);
    const [reply] = await callbacks.forChat('room-1');
    assert.equal(reply.authorization, `Bearer ${SECRET}`);
    assert.equal(reply.body.text, 'Echo: hello through a plugin');
    assert.equal(reply.body.kind, 'reply');
    assert.ok(modelSaw('hello through a plugin'));
    const conv = h.app.gateway.conversationFor({ channel: 'webhook', chat: 'room-1', thread: '' });
    assert.equal(conv.id, body.conversation, 'the plugin files messages under its configured name');
    const status = await (await h.api('/api/v1/status')).json();
    assert.equal(status.channels.find((c: any) => c.name === 'webhook')?.state, 'connected');
  });

  it('splits a long reply into parts with the core\'s formatting helper', async () => {
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    await post({ chat: 'room-2', sender: 'alice', text: long });
    const parts = await callbacks.forChat('room-2', 3);
    assert.ok(parts.every((p) => p.body.text.length <= 200), 'each part within maxMessageLength');
    assert.equal(parts.map((p) => p.body.text).join(' ').replace(/\s+/g, ' '), `Echo: ${long}`);
    assert.deepEqual(parts.map((p) => p.body.part), parts.map((_, i) => i + 1));
  });

  it('refuses a wrong or missing secret with 401, audits it, and passes nothing on', async () => {
    assert.equal((await post({ chat: 'room-3', sender: 'alice', text: 'forged message' }, 'webhook-test-secret-0123456789abcdeX')).status, 401);
    assert.equal((await post({ chat: 'room-3', sender: 'alice', text: 'forged message' }, null)).status, 401);
    assert.equal((await post({ chat: 'room-3', sender: 'alice', text: 'forged message' }, '')).status, 401);
    assert.equal((await post({ chat: 'room-3', text: 'no sender' })).status, 400, 'a malformed body is refused');
    assert.ok(!modelSaw('forged message'));
    assert.ok(readAuditLog(auditLogPath(h.home), { type: 'webhook.refused' }).length >= 3);
  });

  it('sends an unknown sender a pairing code through the callback, like any chat service', async () => {
    await post({ chat: 'room-4', sender: 'mallory', text: 'let me in' });
    const [reply] = await callbacks.forChat('room-4');
    assert.match(reply.body.text, /nanoclaw pair approve [A-Z2-9]{8}/);
    assert.ok(!modelSaw('let me in'));
  });
});

describe('channel plugins that cannot be used stop the start, naming the plugin', () => {
  const homes: string[] = [];
  after(() => { for (const h of homes) rmSync(h, { recursive: true, force: true }); });

  /** Starts a gateway with these plugins and returns the error it refused with. */
  async function startError(plugins: unknown[], files: Record<string, string> = {}): Promise<Error> {
    const home = mkdtempSync(join(tmpdir(), 'nct-plugin-'));
    homes.push(home);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(home, name), text);
    writeFileSync(join(home, 'config.json'), JSON.stringify({ channels: { plugins } }));
    try {
      const app = await startApp({ home, env: { PATH: process.env.PATH, ANTHROPIC_API_KEY: REAL_KEY, WEBHOOK_SECRET: SECRET, NANOCLAW_CHANNELS_API_PORT: '0', NANOCLAW_CONTAINER_PRESTART: '0', NANOCLAW_LOG: 'silent' } });
      await app.stop();
    } catch (err) {
      assert.equal((err as Error).name, 'StartError', String((err as Error).stack));
      return err as Error;
    }
    assert.fail('the gateway started');
  }
  const webhook = (options: object, name = 'webhook') => ({ module: EXAMPLE, name, options });

  it('a missing file', async () => {
    const err = await startError([{ module: './missing-plugin.js', name: 'ghost' }]);
    assert.match(err.message, /channel plugin "ghost" \(\.\/missing-plugin\.js\): no file at .*missing-plugin\.js/);
  });

  it('a module that throws while loading', async () => {
    const err = await startError([{ module: './throws.js', name: 'boomer' }], { 'throws.js': 'throw new Error("boom while loading");\n' });
    assert.match(err.message, /channel plugin "boomer" \(\.\/throws\.js\): loading it failed: boom while loading/);
  });

  it('a module that is not a plugin, and a package that is not installed', async () => {
    const err = await startError([{ module: './empty.js', name: 'empty' }], { 'empty.js': 'export const x = 1;\n' });
    assert.match(err.message, /channel plugin "empty" .*not a channel plugin: it lacks a default export/);
    const pkg = await startError([{ module: 'nanoclaw-channel-that-does-not-exist', name: 'absent' }]);
    assert.match(pkg.message, /channel plugin "absent" .*the package "nanoclaw-channel-that-does-not-exist" is not installed/);
  });

  it('options its own schema refuses, and a secret it requires that is missing', async () => {
    const err = await startError([webhook({ port: 'eighty' })]);
    assert.match(err.message, /channel plugin "webhook" .*invalid options: .*options\.port/);
    assert.match(err.message, /options\.callbackUrl/);
    const secret = await startError([webhook({ callbackUrl: 'http://127.0.0.1:9/x', secretName: 'MISSING_SECRET' })]);
    assert.match(secret.message, /channel plugin "webhook" .*create\(\) failed: the shared secret MISSING_SECRET is not set/);
  });

  it('a name a built-in channel has, or another plugin has', async () => {
    const err = await startError([webhook({ callbackUrl: 'http://127.0.0.1:9/x' }, 'telegram')]);
    assert.match(err.message, /channel plugin "telegram" .*a built-in channel's name/);
    const twice = await startError([webhook({ callbackUrl: 'http://127.0.0.1:9/x', port: 0 }, 'hook'), webhook({ callbackUrl: 'http://127.0.0.1:9/x', port: 0 }, 'hook')]);
    assert.match(twice.message, /two plugins are named "hook"/);
  });

  it('a plugin whose channel cannot start (its port is taken)', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const err = await startError([webhook({ callbackUrl: 'http://127.0.0.1:9/x', port: (taken.address() as AddressInfo).port })]);
      assert.match(err.message, /channel plugin "webhook" .* could not start: .*EADDRINUSE/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
