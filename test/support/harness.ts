import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp, type App } from '../../src/app.ts';
import { startFakeAnthropic, type FakeAnthropic, type ScriptFn } from '../../src/devtools/fake-anthropic.ts';

/** The real key the gateway holds in tests; no container may ever see it. */
export const REAL_KEY = 'sk-ant-test-REAL-KEY-0123456789abcdef';

export interface Harness {
  app: App;
  fake: FakeAnthropic;
  home: string;
  /** POSTs a message to an API conversation and returns the parsed answer. */
  send(conversation: string, text: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  /** The text of the first reply, asserting the turn answered. */
  ask(conversation: string, text: string): Promise<string>;
  api(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

/**
 * A gateway on a fresh temporary NANOCLAW_HOME, talking to a stand-in model,
 * with real containers. Each test file gets its own, so their containers
 * never mix (orphan clean-up is scoped to the home folder).
 */
export async function startHarness(opts: { env?: Record<string, string>; config?: object; script?: ScriptFn; home?: string; fake?: FakeAnthropic; clock?: () => number } = {}): Promise<Harness> {
  const home = opts.home ?? mkdtempSync(join(tmpdir(), 'nct-'));
  if (opts.config) writeFileSync(join(home, 'config.json'), JSON.stringify(opts.config));
  const fake = opts.fake ?? await startFakeAnthropic({ script: opts.script });
  const app = await startApp({
    home,
    clock: opts.clock,
    env: {
      PATH: process.env.PATH,
      ANTHROPIC_API_KEY: REAL_KEY,
      ANTHROPIC_BASE_URL: fake.url,
      NANOCLAW_CHANNELS_API_PORT: '0',
      NANOCLAW_CONTAINER_PRESTART: '0',
      NANOCLAW_LOG: process.env.NANOCLAW_LOG ?? 'silent',
      // `NANOCLAW_CONTAINER_RUNNER_RUNTIME=bun bash scripts/run-tests.sh ...` runs the suite's runners on Bun.
      ...(process.env.NANOCLAW_CONTAINER_RUNNER_RUNTIME ? { NANOCLAW_CONTAINER_RUNNER_RUNTIME: process.env.NANOCLAW_CONTAINER_RUNNER_RUNTIME } : {}),
      ...opts.env,
    },
  });
  const api = (path: string, init: RequestInit = {}) => fetch(`${app.http.url}${path}`, {
    ...init, headers: { authorization: `Bearer ${app.token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> ?? {}) },
  });
  const send = async (conversation: string, text: string, headers: Record<string, string> = {}) => {
    const res = await api(`/api/v1/conversations/${conversation}/messages`, { method: 'POST', body: JSON.stringify({ text }), headers });
    return { status: res.status, body: await res.json() };
  };
  return {
    app, fake, home, api, send,
    async ask(conversation, text) {
      const { status, body } = await send(conversation, text);
      if (status !== 200) throw new Error(`POST answered ${status}: ${JSON.stringify(body)}`);
      if (!body.replies?.length) throw new Error(`no reply: ${JSON.stringify(body)}`);
      return body.replies.map((r: any) => r.text).join('\n');
    },
    async close() {
      await app.stop();
      if (!opts.fake) await fake.close();
      if (!opts.home) rmSync(home, { recursive: true, force: true });
    },
  };
}
