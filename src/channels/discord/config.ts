import { z } from 'zod';

/** `channels.discord`: a Discord bot (token in secrets.json as DISCORD_BOT_TOKEN, set by `nanoclaw setup discord`). */
export const DiscordChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Connect the Discord bot (`nanoclaw setup discord` sets this and stores the token).'),
  apiBaseUrl: z.url().default('https://discord.com/api').describe('Discord REST API base URL (the gateway address is discovered from it), for a proxy or a stand-in.'),
  maxUploadBytes: z.number().int().min(1024).default(10 * 1024 * 1024)
    .describe('Largest file the bot sends, in bytes: 10 MiB on Discord by default; raise it only for a server whose boost level allows more.'),
  rateLimitWaitMs: z.number().int().min(0).default(5000)
    .describe('Longest Discord rate-limit wait taken inside one send; a longer one hands the message back to the delivery queue, which retries it after Discord\'s retry-after.'),
  stallTimeoutMs: z.number().int().min(1000).default(120_000)
    .describe('A gateway connection with no heartbeat acknowledgement, no event and no readiness for this long is torn down and logged in again (with backoff).'),
}).prefault({});
