import { z } from 'zod';

/** `channels.telegram`: a Telegram bot (token in secrets.json as TELEGRAM_BOT_TOKEN, set by `nanoclaw setup telegram`). */
export const TelegramChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Connect the Telegram bot (`nanoclaw setup telegram` sets this and stores the token).'),
  apiBaseUrl: z.url().default('https://api.telegram.org').describe('Telegram Bot API server, without a trailing slash: a local Bot API server (larger files) or a stand-in.'),
}).prefault({});
