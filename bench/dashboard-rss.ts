import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromiumSkipReason, launchChromium } from '../test/support/browser.ts';
import type { Cleanup } from './cleanup.ts';

/** One reading of /proc/<pid>/status, in kB. */
export interface RssSample {
  rssKb: number;
  /** Private memory (heap, stacks) and file pages (mostly the node binary's code): the two parts of VmRSS. */
  anonKb: number;
  fileKb: number;
}

export interface DashboardRss {
  pid: number;
  /** After the gateway sat idle with the dashboard never opened: the cost of having it, unused. */
  idle: RssSample;
  /** With one logged-in page on the overview and its event stream open for `openMs`. */
  open: RssSample;
  /** After that page closed and the gateway sat idle again for `settleMs`. */
  closed: RssSample;
  /** VmHWM at the end: the highest RSS over the whole run, start-up included. */
  peakRssKb: number;
  openMs: number;
  /** What the event stream answered the page (200: it was open the whole time). */
  streamStatus: number;
}

/**
 * The gateway's memory with the dashboard unused, in use and after use: a
 * real `nanoclaw start` as a child process on its own temporary home (as in
 * gateway-rss.ts, through bin/nanoclaw so its flags and figures match the
 * idle gateway's), read from /proc after it idles; then Debian's Chromium
 * logs in with a link from the bearer API and keeps the overview open, event
 * stream included, and the RSS is read again; then once more after the page
 * closed. The dashboard's files are read from disk per request and never
 * cached, so `idle` should equal the plain gateway's figure.
 *
 *   const r = await measureDashboardRss({ root, fakeUrl: fake.url, settleMs: 5000, openMs: 10_000, cleanup });
 *   r.open.rssKb - r.idle.rssKb   // what one open dashboard costs
 */
export async function measureDashboardRss(opts: { root: string; fakeUrl: string; settleMs: number; openMs?: number; cleanup: Cleanup }): Promise<DashboardRss> {
  const skip = chromiumSkipReason();
  if (skip) throw new Error(`cannot measure the dashboard: ${skip}`);
  const openMs = opts.openMs ?? 10_000;
  const home = opts.cleanup.tempHome();
  const port = await freePort();
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
    if (await Promise.race([exit.then(() => true), sleep(15_000, false)])) return;
    child.kill('SIGKILL');
    await exit;
  };
  opts.cleanup.defer(stop);

  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  while (!(await fetch(`${base}/api/v1/health`).then((r) => r.ok, () => false))) {
    if (exited) throw new Error(`the gateway (nanoclaw start) exited during start-up: ${stderr.trim() || 'no output'}`);
    if (performance.now() - t0 > 30_000) throw new Error(`the gateway did not answer ${base}/api/v1/health within 30 s: ${stderr.trim()}`);
    await sleep(50);
  }
  const sample = (): RssSample & { peakKb: number } => {
    if (exited) throw new Error(`the gateway exited during the measurement: ${stderr.trim()}`);
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: field('VmRSS'), anonKb: field('RssAnon'), fileKb: field('RssFile'), peakKb: field('VmHWM') };
  };
  const reading = (): RssSample => {
    const { peakKb: _peak, ...rss } = sample();
    return rss;
  };
  await sleep(opts.settleMs);
  const idle = reading();

  // A login link as `nanoclaw dashboard --print` gets it (the token is the gateway's bearer token, made at start).
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim();
  const res = await fetch(`${base}/api/v1/dashboard/link`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
  if (!res.ok) throw new Error(`POST /api/v1/dashboard/link answered ${res.status}: ${await res.text()}`);
  const { url } = await res.json() as { url: string };

  const browser = await launchChromium();
  opts.cleanup.defer(() => browser.close());
  const page = await browser.newPage();
  const stream = page.waitForResponse((r) => new URL(r.url()).pathname === '/dash/api/events', { timeout: 30_000 });
  await page.goto(url);
  await page.getByTestId('page-overview').waitFor({ timeout: 30_000 });
  const streamStatus = (await stream).status();
  if (streamStatus !== 200) throw new Error(`the dashboard's event stream answered ${streamStatus}`);
  await sleep(openMs);
  const open = reading();
  await page.close();
  await browser.close();

  await sleep(opts.settleMs);
  const { peakKb, ...closed } = sample();
  await stop();
  return { pid: child.pid!, idle, open, closed, peakRssKb: peakKb, openMs, streamStatus };
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
