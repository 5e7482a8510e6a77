// A NanoClaw channel plugin: messages come in as HTTP POSTs carrying a shared
// secret, replies go out as POSTs to a callback URL carrying the same secret.
// Load it from config.json (see docs/channels/plugins.md):
//
//   "channels": { "plugins": [{ "module": "/path/to/nanoclaw/examples/webhook-channel/index.js",
//     "name": "webhook", "options": { "port": 8787, "callbackUrl": "https://example.com/nanoclaw-replies" } }] }
//
// with the secret in secrets.json or the environment as WEBHOOK_SECRET.
import { z } from 'zod';
import { WebhookChannel } from './channel.js';

const options = z.strictObject({
  host: z.string().min(1).default('127.0.0.1').describe('Address the listener binds to; put a TLS reverse proxy in front of it for anything beyond this machine.'),
  port: z.number().int().min(0).max(65535).default(8787).describe('Port the listener binds to; 0 picks a free one.'),
  path: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/).default('/webhook').describe('Path messages are POSTed to.'),
  callbackUrl: z.url().describe('Where replies are POSTed, as JSON, with the same secret.'),
  secretName: z.string().regex(/^[A-Z][A-Z0-9_]*$/).default('WEBHOOK_SECRET').describe('Secret (secrets.json or environment) shared with the other side.'),
  maxBodyBytes: z.number().int().min(1024).max(1024 * 1024).default(64 * 1024).describe('Largest request body accepted.'),
  maxMessageLength: z.number().int().min(100).default(4000).describe('Longest text part of one callback; longer replies are split.'),
  timeoutMs: z.number().int().min(100).default(10_000).describe('A callback that has not answered by then is retried later.'),
});

/** @type {import('../../src/channels/plugins.ts').ChannelPlugin<z.infer<typeof options>>} */
const plugin = {
  name: 'webhook',
  configSchema: options,
  create(opts, ctx) {
    const secret = ctx.secrets.get(opts.secretName);
    if (!secret || secret.length < 16) {
      throw new Error(`the shared secret ${opts.secretName} is ${secret ? 'shorter than 16 characters' : 'not set'}; put a long random one in secrets.json or the environment (e.g. \`openssl rand -hex 32\`)`);
    }
    return new WebhookChannel({ ...opts, name: ctx.name, secret, log: ctx.log });
  },
};

export default plugin;
