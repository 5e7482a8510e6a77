import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeAnthropic } from '../../src/devtools/fake-anthropic.ts';
import { DockerRuntime } from '../../src/sandbox/docker/index.ts';
import { LABEL_HOME } from '../../src/sandbox/profile.ts';
import { REAL_KEY } from './harness.ts';

/** dist/src/cli/main.js, next to this compiled file's dist/test/support. */
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/**
 * `nanoclaw start` as a child process, for tests that kill the gateway the
 * way a crash or the OOM killer would (SIGKILL: no clean-up runs).
 *
 *   const gw = await spawnGateway({ home, port: await freePort(), modelUrl: fake.url });
 *   await gw.send('chat-1', 'hi', { 'Idempotency-Key': 'k1' });
 *   await gw.kill('SIGKILL');
 */
export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  token: string;
  /** POSTs a message; rejects if the connection breaks (for example when the gateway is killed). */
  send(chat: string, text: string, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Sends the signal and resolves once the process has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the gateway and resolves once it says it is running (its HTTP API is up by then). */
export async function spawnGateway(opts: { home: string; port: number; modelUrl: string; env?: Record<string, string> }): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [CLI, 'start'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NANOCLAW_HOME: opts.home,
      NANOCLAW_CHANNELS_API_PORT: String(opts.port),
      ANTHROPIC_API_KEY: REAL_KEY,
      ANTHROPIC_BASE_URL: opts.modelUrl,
      NANOCLAW_CONTAINER_PRESTART: '0',
      NANOCLAW_LOG: 'silent',
      // `NANOCLAW_CONTAINER_RUNNER_RUNTIME=bun bash scripts/run-tests.sh ...` runs the suite's runners on Bun.
      ...(process.env.NANOCLAW_CONTAINER_RUNNER_RUNTIME ? { NANOCLAW_CONTAINER_RUNNER_RUNTIME: process.env.NANOCLAW_CONTAINER_RUNNER_RUNTIME } : {}),
      ...opts.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = once(child, 'exit').catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`the gateway did not start within 30 s; stderr:\n${stderr}`)), 30_000);
    const onExit = (code: number | null, signal: string | null) => fail(new Error(`the gateway exited during start-up (${code ?? signal}); stderr:\n${stderr}`));
    function fail(err: Error) { clearTimeout(timer); child.off('exit', onExit); reject(err); }
    child.once('exit', onExit);
    child.once('error', (err) => fail(new Error(`could not run the gateway: ${err.message}`)));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      if (!stderr.includes('NanoClaw is running')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve();
    });
  }).catch((err) => { child.kill('SIGKILL'); throw err; });

  const url = `http://127.0.0.1:${opts.port}`;
  const token = readFileSync(join(opts.home, 'api-token'), 'utf8').trim();
  const api = (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, {
    ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> ?? {}) },
  });
  return {
    child, url, token, api,
    async send(chat, text, headers = {}) {
      const res = await api(`/api/v1/conversations/${chat}/messages`, { method: 'POST', body: JSON.stringify({ text }), headers });
      return { status: res.status, body: await res.json() };
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/**
 * Gateway processes on fresh homes for one test file, with a shared stand-in
 * model; `close` kills them all (SIGKILL) and removes their containers and
 * homes. Call `close` from `after`.
 *
 *   const gws = await gatewayProcesses('nct-crash-');
 *   const home = gws.newHome(); const gw = await gws.start(home, await freePort());
 */
export async function gatewayProcesses(prefix: string) {
  const fake = await startFakeAnthropic();
  const homes: string[] = [];
  const children: GatewayProcess[] = [];
  const docker = new DockerRuntime();
  return {
    fake,
    newHome(): string {
      const home = mkdtempSync(join(tmpdir(), prefix));
      homes.push(home);
      return home;
    },
    async start(home: string, port: number, env: Record<string, string> = {}): Promise<GatewayProcess> {
      const gw = await spawnGateway({ home, port, modelUrl: fake.url, env });
      children.push(gw);
      return gw;
    },
    async close(): Promise<void> {
      for (const gw of children) await gw.kill('SIGKILL');
      for (const home of homes) {
        for (const c of await docker.list({ [LABEL_HOME]: home })) await docker.destroy(c.name, 0).catch(() => {});
        rmSync(home, { recursive: true, force: true });
      }
      await fake.close();
    },
  };
}
