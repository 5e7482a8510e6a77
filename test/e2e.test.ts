import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startHarness, REAL_KEY, type Harness } from './support/harness.ts';
import { assertTextStreams } from './support/turns.ts';

const runtimes = ['runc', ...(execFileSync('docker', ['info', '--format', '{{json .Runtimes}}'], { encoding: 'utf8' }).includes('runsc') ? ['runsc'] : [])];

for (const runtime of runtimes) describe(`end to end (${runtime}): HTTP API -> hardened container -> Claude Agent SDK -> reply`, () => {
  let h: Harness;
  before(async () => { h = await startHarness({ env: { NANOCLAW_CONTAINER_RUNTIME: runtime } }); });
  after(async () => { await h?.close(); });

  it('runs a Bash tool call inside the container and returns its output in the reply', async () => {
    const reply = await h.ask('e2e-basic', 'run: echo "answer=$((6*7))"; whoami');
    assert.match(reply, /answer=42/);
    assert.match(reply, /agent/);
  });

  it('sends follow-ups into the same live session and container', async () => {
    const containers: string[] = [];
    const onEvent = (ev: any) => { if (ev.type === 'turn_start') containers.push(ev.container); };
    h.app.gateway.on('event', onEvent);
    try {
      await h.ask('e2e-follow', 'first message');
      const before = h.fake.requests.length;
      const reply = await h.ask('e2e-follow', 'second message');
      assert.equal(reply, 'Echo: second message');
      assert.equal(containers.length, 2);
      assert.equal(containers[0], containers[1], 'both turns ran in one container');
      const turn = h.fake.requests.slice(before).find((r) => JSON.stringify(r.body).includes('second message'))!;
      assert.ok(JSON.stringify(turn.body?.messages).includes('first message'), 'the second request carries the first turn: one session');
    } finally {
      h.app.gateway.off('event', onEvent);
    }
  });

  it('streams progress and the reply as server-sent events', async () => {
    const ctrl = new AbortController();
    const res = await h.api('/api/v1/conversations/e2e-sse/events', { signal: ctrl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const seen: string[] = [];
    const reading = (async () => {
      const decoder = new TextDecoder();
      let text = '';
      for await (const chunk of res.body as any as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        if (text.includes('event: turn_end')) break;
      }
      seen.push(text);
    })();
    await h.ask('e2e-sse', 'run: echo streamed-output');
    await reading;
    ctrl.abort();
    const stream = seen.join('');
    assert.match(stream, /event: container\ndata: .*"state":"started"/);
    assert.match(stream, /event: progress\ndata: .*"tool":"Bash"/);
    assert.match(stream, /event: progress\ndata: .*streamed-output/);
    assert.match(stream, /event: outbound\ndata: .*Tool output/);
  });

  it('streams the agent\'s text as the model writes it (text_delta), then its whole text', async () => {
    await assertTextStreams(h, 'e2e-deltas');
  });

  it('keeps the real API key in the gateway: the model endpoint gets it, the container never does', async () => {
    const reply = await h.ask('e2e-key', 'run: echo "env-hits=$(env | grep -c sk-ant-test-REAL || true)"; echo "token-len=${#ANTHROPIC_API_KEY}"');
    assert.match(reply, /env-hits=0/);
    assert.match(reply, /token-len=\d+/);
    const turns = h.fake.requests.filter((r) => r.path === '/v1/messages');
    assert.ok(turns.length > 0);
    for (const r of turns) assert.equal(r.headers['x-api-key'], REAL_KEY, 'the proxy swapped the container token for the real key');
    for (const r of turns) assert.ok(!JSON.stringify(r.body).includes(REAL_KEY), 'the model never sees the key in a conversation');
  });

  it('records token usage per conversation from the proxied responses', async () => {
    await h.ask('e2e-usage', 'count me');
    const conv = h.app.gateway.status().conversations.find((c) => c.chat === 'e2e-usage')!;
    assert.ok(conv.usage.requests >= 1);
    assert.ok(conv.usage.inputTokens > 0 && conv.usage.outputTokens > 0);
  });

  it('saves attachments in the conversation\'s inbox under sanitised names the sender cannot steer', async () => {
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    const res = await h.api('/api/v1/conversations/e2e-files/messages', {
      method: 'POST',
      body: JSON.stringify({
        text: 'run: cd /workspace/inbox && ls -A && cat evil.sh notes.txt && find / -name "*.pwn" -not -path "/proc/*" 2>/dev/null | wc -l',
        attachments: [{ name: '../../../tmp/evil.sh', data: b64('echo pwned\n') }, { name: 'notes.txt', data: b64('plain notes') }, { name: '.hidden\u202Egpj.pwn', data: b64('x') }],
      }),
    });
    assert.equal(res.status, 200);
    const reply = (await res.json() as any).replies[0].text as string;
    assert.match(reply, /^evil\.sh$/m);
    assert.match(reply, /^notes\.txt$/m);
    assert.match(reply, /echo pwned/);
    assert.match(reply, /plain notes/);
    assert.match(reply, /^hiddengpj\.pwn$/m, 'leading dot and the bidi override are gone');
    const seen = h.fake.requests.map((r) => JSON.stringify(r.body ?? '')).find((b) => b.includes('Files attached to this message'));
    assert.ok(seen?.includes(JSON.stringify('Files attached to this message: "/workspace/inbox/evil.sh" (11 bytes)').slice(1, -1)), 'the engine is told where the files are, beside the text');
    const bad = await h.api('/api/v1/conversations/e2e-files/messages', { method: 'POST', body: JSON.stringify({ text: 'x', attachments: [{ name: 'a', data: '***' }] }) });
    assert.equal(bad.status, 400);
  });
});
