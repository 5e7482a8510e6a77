import { randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { HomeLayout } from '../config/home.ts';

const ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
const NAME = /^nanoclaw-[a-z0-9]{10}\.localhost$/;

/**
 * The dashboard's host name, one per install: `nanoclaw-<10 random
 * characters>.localhost`. Browsers resolve every `*.localhost` name to
 * loopback and treat it as a secure context, and they keep cookies per host
 * name but not per port: on `127.0.0.1` any other local web server (a dev
 * server, another tool's dashboard) would be sent the session cookie. A
 * name of its own keeps the `__Host-` cookie to the dashboard, and the exact
 * Host check refuses DNS-rebinding pages, which arrive under their own name.
 *
 *   dashboardName(layout)   // 'nanoclaw-k3x9q2mf7d.localhost', the same every time
 */
export function dashboardName(layout: Pick<HomeLayout, 'dashboardName'>): string {
  const file = layout.dashboardName;
  try {
    const name = readFileSync(file, 'utf8').trim();
    if (NAME.test(name)) return name;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const name = `nanoclaw-${Array.from({ length: 10 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('')}.localhost`;
  writeFileSync(file, name + '\n', { mode: 0o600 });
  return name;
}
