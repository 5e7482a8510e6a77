import { fileURLToPath } from 'node:url';
import { readAgentFile } from '../inbox/safe-fs.ts';

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
  let body: Buffer;
  try {
    // Links refused at every level and the size bounded, as for any file read from disk on a request.
    body = readAgentFile(dir, name === 'index.html' ? name : `assets/${name}`, MAX_BYTES);
  } catch {
    return undefined;
  }
  return { body: new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.length), type: TYPES[name.split('.').pop()!] };
}
