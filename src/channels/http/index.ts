import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Channel, ChannelCapabilities, ChannelHost, SendResult } from '../channel.ts';
import type { Store } from '../../store/store.ts';
import { createApi, type ApiAdmin } from './handler.ts';

export { HttpChannelConfig } from './config.ts';
export type { ApiAdmin } from './handler.ts';

/** Reads the API token, creating it (mode 0600) on first use. */
export function ensureApiToken(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = `ncl_${randomBytes(32).toString('base64url')}`;
  writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  return token;
}

/**
 * The local HTTP API as a channel. Replies reach API clients through the
 * waiting POST, the event stream and /messages (files through /files), so
 * `send` has nothing left to do: the message is already stored. Nothing is
 * sent, so nothing can be sent twice.
 *
 *   const http = new HttpChannel({ host: '127.0.0.1', port: 7878, token, store, maxBodyBytes, admin });
 *   gateway.addChannel(http); await gateway.start(); console.log(http.url);
 */
export class HttpChannel implements Channel {
  readonly name = 'api';
  /** Whoever holds the bearer token is the owner. */
  readonly trusted = true;
  readonly capabilities: ChannelCapabilities = {
    maxMessageLength: 1_000_000, dialect: 'plain', files: { in: true, out: true, maxOutBytes: 100 * 1024 * 1024 },
    buttons: true, typing: false, edits: false, threads: false, reactions: false,
  };
  private server?: ServerType;
  url = '';

  /** `routes`: more routes on this listener (the dashboard's); under `/api` they sit behind the bearer token like the API's own. */
  constructor(private readonly opts: { host: string; port: number; token: string; store: Store; maxBodyBytes: number; admin: ApiAdmin; routes?: Hono<any> }) {}

  async start(host: ChannelHost): Promise<void> {
    const app = createApi({ host, admin: this.opts.admin, store: this.opts.store, token: this.opts.token, maxBodyBytes: this.opts.maxBodyBytes, routes: this.opts.routes });
    await new Promise<void>((resolve, reject) => {
      this.server = serve({ fetch: app.fetch, hostname: this.opts.host, port: this.opts.port }, (info: AddressInfo) => {
        this.url = `http://${info.address.includes(':') ? `[${info.address}]` : info.address}:${info.port}`;
        resolve();
      });
      this.server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(
        err.code === 'EADDRINUSE' ? `port ${this.opts.port} on ${this.opts.host} is in use: is another gateway running? Set NANOCLAW_CHANNELS_API_PORT to use another.` : err.message, { cause: err })));
    });
  }

  async send(): Promise<SendResult> { return { platformIds: [] }; }

  async stop(): Promise<void> {
    const server = this.server as any;
    server?.closeAllConnections?.();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
