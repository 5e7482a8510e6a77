import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeAnthropic } from '../devtools/fake-anthropic.ts';
import { createRuntime, startApp } from '../app.ts';
import { LABEL_MANAGED } from '../sandbox/profile.ts';

const COMMAND = 'id; echo "root fs: $(touch /probe 2>&1 || true)"; ls /run/nanoclaw; ' +
  'env | grep -q ANTHROPIC_API_KEY=demo-real-key && echo "real key: PRESENT" || echo "real key: absent"; ' +
  'echo "internet: $(curl -s -m 5 http://example.com/ | head -c 160)"';

/**
 * `nanoclaw demo`: the whole pipeline, offline. A stand-in model server
 * scripts one Bash tool call; the message goes in through the real HTTP API,
 * a real hardened container runs the Claude Agent SDK, the command runs
 * inside it, the reply comes back, and `/end` destroys the container.
 */
export async function runDemo(): Promise<void> {
  const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
  const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
  const home = mkdtempSync(join(tmpdir(), 'nanoclaw-demo-'));
  const fake = await startFakeAnthropic();
  const app = await startApp({
    home,
    env: { ...process.env, ANTHROPIC_API_KEY: 'demo-real-key', ANTHROPIC_BASE_URL: fake.url, NANOCLAW_CHANNELS_API_PORT: '0', NANOCLAW_CONTAINER_PRESTART: '0', NANOCLAW_LOG: 'warn' },
  });
  const api = (path: string, init: RequestInit = {}) => fetch(`${app.http.url}/api/v1/conversations/demo${path}`, {
    ...init, headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
  });
  const events = new AbortController();
  try {
    console.log(bold('NanoClaw offline demo'));
    console.log(dim(`  gateway ${app.http.url}, stand-in model ${fake.url}, data ${home}`));
    void followEvents(await api('/events', { signal: events.signal }), (event, data) => {
      if (event === 'container') console.log(dim(`  [container] ${data.container} ${data.state}${data.reason ? ` (${data.reason})` : ''}`));
      if (event === 'progress') console.log(dim(`  [${data.kind}${data.tool ? ` ${data.tool}` : ''}] ${String(data.text).trim().replace(/\n/g, '\n      ')}`));
    });

    const text = `Please check your sandbox.\nrun: ${COMMAND}`;
    console.log(`\n${bold('you>')} ${text}`);
    const started = Date.now();
    const res = await api('/messages', { method: 'POST', body: JSON.stringify({ text }) });
    const body = await res.json() as any;
    for (const r of body.replies) console.log(`${bold('agent>')} ${r.text}`);
    console.log(dim(`  (turn took ${Date.now() - started} ms, including a fresh container)`));

    console.log(`\n${bold('you>')} /end`);
    const end = await (await api('/messages', { method: 'POST', body: JSON.stringify({ text: '/end' }) })).json() as any;
    console.log(`${bold('nanoclaw>')} ${end.replies[0].text}`);
    const left = await createRuntime(app.config).list({ [LABEL_MANAGED]: 'true' }).then((l) => l.filter((c) => c.labels['org.nanoclaw.home'] === home));
    console.log(dim(`  containers left for this demo: ${left.length}`));
    console.log(dim(`  the model saw ${fake.requests.length} request(s); none carried the container token upstream: ` +
      `${fake.requests.every((r) => r.headers['x-api-key'] === 'demo-real-key') ? 'yes, the proxy swapped in the real key' : 'NO'}`));
  } finally {
    events.abort();
    await app.stop();
    await fake.close();
    rmSync(home, { recursive: true, force: true });
  }
}

async function followEvents(res: Response, on: (event: string, data: any) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body as any as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let sep: number;
      while ((sep = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, sep);
        buffer = buffer.slice(sep + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data) on(event, JSON.parse(data));
      }
    }
  } catch { /* aborted at the end of the demo */ }
}
