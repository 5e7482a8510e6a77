import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cleanup } from './cleanup.ts';
import { containerMemory, containersOf, waitUntilQuiet, type ContainerMemory } from './docker-probe.ts';

export interface GatewayRss {
  prestart: number;
  pid: number;
  /** From spawn to the HTTP API answering /health. */
  startMs: number;
  /** VmRSS from /proc/<pid>/status after the gateway sat idle. */
  rssKb: number;
  /** VmHWM: the highest RSS it reached, start-up included. */
  peakRssKb: number;
  /** The two parts of VmRSS: private memory (heap, stacks) and file pages (mostly the node binary's code). */
  anonKb: number;
  fileKb: number;
  /** With a pool: the memory of one pristine pre-started container. */
  poolContainer?: ContainerMemory;
}

/**
 * Idle memory of a real gateway: `node dist/src/cli/main.js start` as a child
 * process on its own temporary home, exactly as an operator would run it, so
 * the figure is the gateway's and not the benchmark's (which also holds the
 * stand-in model, dockerode and the samples).
 *
 *   const r = await measureGatewayRss({ root, fakeUrl, prestart: 0, settleMs: 5000, cleanup });
 */
export async function measureGatewayRss(opts: {
  root: string; fakeUrl: string; prestart: number; settleMs: number; cleanup: Cleanup;
  /** More environment for the gateway (chat channels pointed at their stand-ins). */
  env?: Record<string, string>;
  /** Puts files into the gateway's home before it starts (a channel's session). */
  prepare?: (home: string) => Promise<void>;
}): Promise<GatewayRss> {
  const gw = await startGatewayProcess({ ...opts, env: { NANOCLAW_CONTAINER_PRESTART: String(opts.prestart), ...opts.env } });
  let poolContainer: ContainerMemory | undefined;
  if (opts.prestart > 0) {
    const deadline = performance.now() + 60_000;
    while ((await containersOf(gw.home)).length < opts.prestart) {
      if (performance.now() > deadline) throw new Error(`the gateway did not pre-start ${opts.prestart} container(s) within 60 s: ${gw.stderr()}`);
      await sleep(100);
    }
    await waitUntilQuiet(gw.home);
  }
  await sleep(opts.settleMs);
  const status = gw.status();
  if (opts.prestart > 0) poolContainer = await containerMemory((await containersOf(gw.home))[0]);
  await gw.stop();
  return { prestart: opts.prestart, pid: gw.pid, startMs: gw.startMs, rssKb: status.rssKb, peakRssKb: status.peakKb, anonKb: status.anonKb, fileKb: status.fileKb, poolContainer };
}

/** A gateway process's memory from /proc/<pid>/status, in kB. */
export interface ProcStatus { rssKb: number; anonKb: number; fileKb: number; peakKb: number }

/**
 * `nanoclaw start` as a child process on a temporary home of its own,
 * through bin/nanoclaw as an operator starts it (it execs node with the
 * gateway's flags: same pid), answering its HTTP API on a free port. Stopped
 * by `stop()` or at cleanup.
 *
 *   const gw = await startGatewayProcess({ root, fakeUrl, cleanup });
 *   gw.status().rssKb; await gw.stop();
 */
export async function startGatewayProcess(opts: {
  root: string; fakeUrl: string; cleanup: Cleanup;
  env?: Record<string, string>;
  prepare?: (home: string) => Promise<void>;
}): Promise<{ home: string; port: number; pid: number; startMs: number; status(): ProcStatus; stderr(): string; stop(): Promise<void> }> {
  const home = opts.cleanup.tempHome();
  await opts.prepare?.(home);
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(join(opts.root, 'bin/nanoclaw'), ['start'], {
    cwd: opts.root,
    env: {
      PATH: process.env.PATH,
      DOCKER_SOCKET: process.env.DOCKER_SOCKET,
      NANOCLAW_HOME: home,
      ANTHROPIC_API_KEY: 'bench',
      ANTHROPIC_BASE_URL: opts.fakeUrl,
      NANOCLAW_CHANNELS_API_PORT: String(port),
      NANOCLAW_LOG: 'warn',
      NANOCLAW_CONTAINER_PRESTART: '0',
      ...opts.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    // The gateway stops its containers on SIGTERM (2 s grace each); then it is killed.
    if (await Promise.race([exit.then(() => true), sleep(15_000, false)])) return;
    child.kill('SIGKILL');
    await exit;
  };
  opts.cleanup.defer(stop);

  const url = `http://127.0.0.1:${port}/api/v1/health`;
  for (;;) {
    if (exited) throw new Error(`the gateway (nanoclaw start) exited during start-up: ${stderr.trim() || 'no output'}`);
    if (performance.now() - t0 > 30_000) throw new Error(`the gateway did not answer ${url} within 30 s: ${stderr.trim()}`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) break;
    await sleep(50);
  }
  return {
    home, port, pid: child.pid!, startMs: performance.now() - t0, stop,
    stderr: () => stderr.trim(),
    status: () => {
      if (exited) throw new Error(`the gateway exited during the measurement: ${stderr.trim()}`);
      const text = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
      return { rssKb: field('VmRSS'), anonKb: field('RssAnon'), fileKb: field('RssFile'), peakKb: field('VmHWM') };
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
