import { z } from 'zod';

/** `channels.discord`: a Discord bot (token in secrets.json as DISCORD_BOT_TOKEN, set by `nanoclaw setup discord`). */
export const DiscordChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Connect the Discord bot (`nanoclaw setup discord` sets this and stores the token).'),
  apiBaseUrl: z.url().default('https://discord.com/api').describe('Discord REST API base URL (the gateway address is discovered from it), for a proxy or a stand-in.'),
}).prefault({});
