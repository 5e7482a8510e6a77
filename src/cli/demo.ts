import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeAnthropic } from '../devtools/fake-anthropic.ts';
import { startFakeOpenAI } from '../devtools/fake-openai.ts';
import { createRuntime, startApp } from '../app.ts';
import { LABEL_MANAGED } from '../sandbox/profile.ts';

const COMMAND = 'id; echo "root fs: $(touch /probe 2>&1 || true)"; ls /run/nanoclaw; ' +
  'env | grep -q ANTHROPIC_API_KEY=demo-real-key && echo "real key: PRESENT" || echo "real key: absent"; ' +
  'echo "internet: $(curl -s -m 5 http://example.com/ | head -c 160)"';

/**
 * `nanoclaw demo`: the whole pipeline, offline. A stand-in model server
 * scripts one shell tool call; the message goes in through the real HTTP API,
 * a real hardened container runs the Claude Agent SDK, the command runs
 * inside it, the reply comes back, and `/end` destroys the container. Then
 * the same in a second conversation switched (/model) to the built-in engine
 * on a stand-in OpenAI-compatible API.
 */
export async function runDemo(): Promise<void> {
  const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
  const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
  const home = mkdtempSync(join(tmpdir(), 'nanoclaw-demo-'));
  const fake = await startFakeAnthropic();
  const openai = await startFakeOpenAI();
  const app = await startApp({
    home,
    env: {
      ...process.env, ANTHROPIC_API_KEY: 'demo-real-key', ANTHROPIC_BASE_URL: fake.url, NANOCLAW_CHANNELS_API_PORT: '0', NANOCLAW_CONTAINER_PRESTART: '0', NANOCLAW_LOG: 'warn',
      NANOCLAW_PROVIDERS: JSON.stringify({ local: { kind: 'openai', baseUrl: openai.baseUrl, model: 'fake-gpt' } }),
    },
  });
  const api = (path: string, init: RequestInit = {}, conversation = 'demo') => fetch(`${app.http.url}/api/v1/conversations/${conversation}${path}`, {
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

    const say = async (conversation: string, text: string) => {
      console.log(`\n${bold('you>')} ${text}`);
      const body = await (await api('/messages', { method: 'POST', body: JSON.stringify({ text }) }, conversation)).json() as any;
      return body.replies as Array<{ text: string }>;
    };
    const check = async (conversation: string) => {
      const started = Date.now();
      for (const r of await say(conversation, `Please check your sandbox.\nrun: ${COMMAND}`)) console.log(`${bold('agent>')} ${r.text}`);
      console.log(dim(`  (turn took ${Date.now() - started} ms, including a fresh container)`));
      console.log(`${bold('nanoclaw>')} ${(await say(conversation, '/end'))[0].text}`);
    };

    await check('demo');
    console.log(dim('\n  The same with the built-in engine (any provider; here a stand-in OpenAI-compatible API, no key):'));
    console.log(`${bold('nanoclaw>')} ${(await say('demo-builtin', '/model builtin local'))[0].text}`);
    await check('demo-builtin');

    const left = await createRuntime(app.config).list({ [LABEL_MANAGED]: 'true' }).then((l) => l.filter((c) => c.labels['org.nanoclaw.home'] === home));
    console.log(dim(`\n  containers left for this demo: ${left.length}`));
    console.log(dim(`  the models saw ${fake.requests.length + openai.requests.length} request(s); none carried the container token upstream: ` +
      `${fake.requests.every((r) => r.headers['x-api-key'] === 'demo-real-key') && openai.requests.every((r) => !r.headers.authorization) ? 'yes, the proxy swapped in the real key (none for the keyless local provider)' : 'NO'}`));
  } finally {
    events.abort();
    await app.stop();
    await fake.close();
    await openai.close();
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
