import { z } from 'zod';

/** `channels.telegram`: a Telegram bot (token in secrets.json as TELEGRAM_BOT_TOKEN, set by `nanoclaw setup telegram`). */
export const TelegramChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Connect the Telegram bot (`nanoclaw setup telegram` sets this and stores the token).'),
  apiBaseUrl: z.url().default('https://api.telegram.org').describe('Telegram Bot API server, without a trailing slash: your own Bot API server or a stand-in (files are still taken up to 20 MB).'),
  mode: z.enum(['polling', 'webhook']).default('polling')
    .describe('How updates arrive: "polling" asks Telegram (long polling, works behind NAT, no public address needed); "webhook" has Telegram POST them to channels.telegram.webhook.url.'),
  pollTimeoutSec: z.number().int().min(1).max(50).default(30)
    .describe('Long-poll timeout of one getUpdates call, in seconds. A poll that has not come back within twice this is taken as stalled and restarted.'),
  webhook: z.strictObject({
    url: z.union([z.literal(''), z.url()]).default('')
      .describe('Public HTTPS URL Telegram posts updates to (mode "webhook"), e.g. https://bot.example.com/telegram; it must reach the webhook listener (webhook.host, webhook.port, webhook.path), e.g. through a reverse proxy or tunnel.'),
    host: z.string().min(1).default('127.0.0.1').describe('Address the webhook listener binds to (mode "webhook").'),
    port: z.number().int().min(0).max(65535).default(8443).describe('Port the webhook listener binds to (mode "webhook"); 0 picks a free one.'),
    path: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, 'expected a path starting with "/"').default('/telegram')
      .describe('Path the webhook listener answers on (mode "webhook"); other paths get 404.'),
  }).prefault({}).describe('The webhook listener (mode "webhook"). Every request must carry the secret token registered with setWebhook (TELEGRAM_WEBHOOK_SECRET in secrets.json, or a fresh random one each start).'),
}).prefault({});
