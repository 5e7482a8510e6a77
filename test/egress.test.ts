import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { readAuditLog, auditLogPath } from '../src/audit/audit-log.ts';
import { startHarness, type Harness } from './support/harness.ts';

/**
 * Egress from inside a real container, through the host's egress proxy. The
 * only server reached is one this test runs on the host's loopback, standing
 * in for an internet host; the operator must open it explicitly (profile
 * "standard", egress.allowPrivate). Inside the container 127.0.0.1 is the
 * container's own loopback and NO_PROXY keeps it local, so the probes clear
 * NO_PROXY to send that address through the proxy to the host.
 */
describe('egress: deny by default, allow per conversation', () => {
  let h: Harness;
  let server: Server;
  let port = 0;
  const hits: string[] = [];
  before(async () => {
    server = createServer((req, res) => { hits.push(req.url ?? ''); res.end('hello from the host'); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
    h = await startHarness({ config: { security: { profile: 'standard' }, egress: { allowPrivate: ['127.0.0.1/32'] } } });
  });
  after(async () => { await h?.close(); server?.close(); });

  const curl = (conv: string, url: string) => h.ask(conv, `run: curl -sS -m 10 --noproxy '' -w " status=%{http_code}" ${url} 2>&1; echo`);

  it('refuses a host that is not on the allowlist, with a reason the agent can read', async () => {
    const reply = await curl('egress-a', `http://127.0.0.1:${port}/before`);
    assert.match(reply, /status=403/);
    assert.match(reply, /not on this conversation's allowlist/);
    assert.match(reply, /\/allow 127\.0\.0\.1/);
    assert.deepEqual(hits, [], 'nothing reached the server');
  });

  it('lets the owner allow a host for one conversation with /allow, taking effect in the live container', async () => {
    assert.match(await h.ask('egress-a', `/allow 127.0.0.1:${port}`), /now reachable/);
    const reply = await curl('egress-a', `http://127.0.0.1:${port}/after`);
    assert.match(reply, /hello from the host status=200/);
    assert.deepEqual(hits, ['/after']);
    const viaNode = await h.ask('egress-a', `run: NO_PROXY= no_proxy= node -e "fetch('http://127.0.0.1:${port}/node').then(r => r.text()).then(t => console.log('node got: ' + t))"`);
    assert.match(viaNode, /node got: hello from the host/, 'Node\'s own fetch uses the proxy too');
  });

  it('keeps the allowance to that conversation', async () => {
    const reply = await curl('egress-b', `http://127.0.0.1:${port}/other`);
    assert.match(reply, /status=403/);
    assert.ok(!hits.includes('/other'));
  });

  it('refuses CONNECT tunnels to hosts not on the list', async () => {
    const reply = await h.ask('egress-a', 'run: curl -sS -m 10 -o /dev/null -w "status=%{http_code}" https://example.com/ 2>&1; echo');
    assert.match(reply, /403|CONNECT tunnel failed/);
  });

  it('records every decision in the audit log', async () => {
    const records = readAuditLog(auditLogPath(h.home), { type: 'egress' });
    assert.ok(records.some((r) => r.type === 'egress.denied' && (r.data as any).host === 'example.com'));
    assert.ok(records.some((r) => r.type === 'egress.allowed' && (r.data as any).host === '127.0.0.1' && (r.data as any).port === port));
    assert.ok(readAuditLog(auditLogPath(h.home), { type: 'admin.allow_domain' }).length >= 1);
  });
});
