import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Update } from 'grammy/types';

/** Telegram's updates are small; anything bigger is not from Telegram. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface WebhookOptions {
  host: string;
  port: number;
  path: string;
  /** The secret registered with setWebhook: Telegram sends it in X-Telegram-Bot-Api-Secret-Token. */
  secret: string;
  /** Handles one update; never throws. Telegram gets its 200 only after it returned (the message is stored). */
  handle(update: Update): Promise<void>;
  log: { warn(msg: string): void };
}

/**
 * The listener Telegram posts updates to in webhook mode. Only POSTs to
 * `path` carrying the registered secret token are handled: the URL is
 * public, so anyone may post to it, and without the secret an attacker could
 * inject messages under any sender id. The answer waits for `handle`, so an
 * update Telegram saw answered 200 is durable; a crash before that makes
 * Telegram send it again.
 *
 *   const hook = await listenForUpdates({ host: '127.0.0.1', port: 8443, path: '/telegram', secret, handle, log });
 *   // ... await hook.close();
 */
export async function listenForUpdates(opts: WebhookOptions): Promise<{ url: string; close(): Promise<void> }> {
  const expected = Buffer.from(opts.secret);
  const server: Server = createServer((req, res) => {
    const answer = (status: number, body = '') => { res.writeHead(status, { 'content-type': 'text/plain' }).end(body); };
    const path = (req.url ?? '').split('?')[0];
    if (path !== opts.path) return answer(404, 'not found');
    if (req.method !== 'POST') return answer(405, 'POST only');
    const given = Buffer.from(String(req.headers['x-telegram-bot-api-secret-token'] ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      opts.log.warn(`telegram webhook: refused a request from ${req.socket.remoteAddress} without the right secret token`);
      return answer(401, 'wrong secret token');
    }
    readBody(req).then(async (body) => {
      if (body === undefined) return answer(413, 'too large');
      let update: Update;
      try {
        update = JSON.parse(body.toString('utf8'));
      } catch {
        opts.log.warn('telegram webhook: a request body that is not JSON was skipped');
        return answer(200);
      }
      if (update && typeof update === 'object') await opts.handle(update);
      answer(200);
    }).catch((err) => {
      opts.log.warn(`telegram webhook: ${(err as Error).message}`);
      if (!res.headersSent) answer(400);
    });
  });
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}${opts.path}`,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

/** The body, or undefined when it is over MAX_BODY_BYTES. */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) { resolve(undefined); req.destroy(); return; }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
