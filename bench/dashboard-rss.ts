import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromiumSkipReason, launchChromium } from '../test/support/browser.ts';
import type { Cleanup } from './cleanup.ts';
import { startGatewayProcess } from './gateway-rss.ts';

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
  const gw = await startGatewayProcess(opts);
  const base = `http://127.0.0.1:${gw.port}`;
  const reading = (): RssSample => {
    const { peakKb: _peak, ...rss } = gw.status();
    return rss;
  };
  await sleep(opts.settleMs);
  const idle = reading();

  // A login link as `nanoclaw dashboard --print` gets it (the token is the gateway's bearer token, made at start).
  const token = readFileSync(join(gw.home, 'api-token'), 'utf8').trim();
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
  const { peakKb, ...closed } = gw.status();
  await gw.stop();
  return { pid: gw.pid, idle, open, closed, peakRssKb: peakKb, openMs, streamStatus };
}
