import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the build puts the client (scripts/build-dashboard.mjs): dist/dash, next to dist/src. */
export const CLIENT_DIR = fileURLToPath(new URL('../../dash/', import.meta.url));

const TYPES: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
  html: 'text/html; charset=utf-8',
};
const ASSET = /^[a-z0-9][a-z0-9.-]{0,80}\.(js|css|svg)$/;
const MAX_BYTES = 4 * 1024 * 1024;

/**
 * One file of the built client, read from disk for each request and never
 * kept: nobody has the dashboard open most of the time, and the gateway's
 * memory should not grow by the client's size for it. `name` is `index.html`
 * or an asset's file name; anything else (a path, `..`) is not found.
 *
 *   clientFile('app.js')   // { body, type: 'text/javascript; ...' } or undefined
 */
export function clientFile(name: string, dir = CLIENT_DIR): { body: Uint8Array<ArrayBuffer>; type: string } | undefined {
  if (name !== 'index.html' && !ASSET.test(name)) return undefined;
  const file = name === 'index.html' ? join(dir, name) : join(dir, 'assets', name);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_BYTES) return undefined;
    const body = Buffer.alloc(st.size);
    let at = 0;
    while (at < st.size) {
      const n = readSync(fd, body, at, st.size - at, at);
      if (n === 0) break;
      at += n;
    }
    return { body: new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, at), type: TYPES[name.split('.').pop()!] };
  } finally {
    closeSync(fd);
  }
}
