import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * A real Chromium for the dashboard's tests: Debian's build, driven by
 * playwright-core (which downloads no browser of its own). scripts/setup.sh
 * --for-tests installs it; where it is missing the tests skip, saying why.
 *
 *   const browser = await launchChromium();
 *   const page = await (await browser.newContext()).newPage();
 */
export const CHROMIUM = '/usr/bin/chromium';

/** Where screenshots go: test-artifacts/dashboard/ at the repository root (this file runs as dist/test/support/browser.js). */
export const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/dashboard/', import.meta.url));

/** Why the browser tests cannot run on this machine, or false when they can. */
export function chromiumSkipReason(): string | false {
  return existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (scripts/setup.sh --for-tests installs Debian's chromium)`;
}

/**
 * Headless Chromium without the sandbox (tests run as root in a container
 * here, where Chromium's own sandbox cannot start) and without its background
 * traffic (safe browsing, component updates), so every request a test sees is
 * one the page made.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/**
 * Saves a full-page screenshot as test-artifacts/dashboard/<name>.png and
 * returns its path. The pages are meant to be looked at by a person after a
 * run; the tests assert on the DOM, never on pixels.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Every URL a browser context requests, in order, from now on (fragments are never sent, so never seen here). */
export function recordRequests(context: BrowserContext): string[] {
  const urls: string[] = [];
  context.on('request', (r) => urls.push(r.url()));
  return urls;
}

/**
 * The CSP violations a page reports, as Chromium's console prints them
 * ("Refused to execute inline script because it violates ...") and as the
 * document's `securitypolicyviolation` events (directive and blocked URI),
 * gathered from before the page's first script runs.
 */
export async function watchCsp(page: Page): Promise<{ console: string[]; events: string[] }> {
  const seen = { console: [] as string[], events: [] as string[] };
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) seen.console.push(m.text()); });
  await page.exposeFunction('__reportCspViolation', (what: string) => { seen.events.push(what); });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as any).__reportCspViolation(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return seen;
}

/** A request the attacker's server received. */
export interface AttackerHit {
  method: string;
  url: string;
  host: string;
}

/**
 * The attacker: a web server on another loopback port, standing for any page
 * the victim's browser may have open (a local dev server, a malicious
 * site's iframe reached through DNS, a compromised tool's UI). It serves one
 * blank page; a test opens it in the logged-in victim's context and runs the
 * attack there with `page.evaluate`, which runs in the page's own origin with
 * exactly the powers of a script the page served itself.
 *
 *   const attacker = await startAttacker();
 *   await page.goto(attacker.urls[0]); await page.evaluate(() => fetch(...));
 */
export interface Attacker {
  /** The same server under two loopback names: http://127.0.0.1:<p>/ and http://localhost:<p>/. */
  urls: string[];
  hits: AttackerHit[];
  close(): Promise<void>;
}

export async function startAttacker(): Promise<Attacker> {
  const hits: AttackerHit[] = [];
  const handler = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '' });
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>another local page</title><p>Nothing to see here.</p>');
  };
  const listen = (server: Server, host: string, port: number) => new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
  const v4 = createServer(handler);
  const port = await listen(v4, '127.0.0.1', 0);
  // localhost may resolve to ::1 first; answer there too, on the same port, when this machine has IPv6 loopback.
  const v6 = createServer(handler);
  const hasV6 = await listen(v6, '::1', port).then(() => true, () => false);
  return {
    urls: [`http://127.0.0.1:${port}/`, `http://localhost:${port}/`],
    hits,
    async close() {
      await new Promise((r) => v4.close(r));
      if (hasV6) await new Promise((r) => v6.close(r));
    },
  };
}
