import type { ChatChannelModule } from '../registry.ts';
import { DiscordChannel } from './channel.ts';
import { checkDiscord } from './check.ts';

export { DiscordChannelConfig } from './config.ts';
export { DiscordChannel } from './channel.ts';

/** The secret that holds the bot token (secrets.json, or the environment). */
const TOKEN = 'DISCORD_BOT_TOKEN';

/**
 * The Discord channel for the registry: built from `channels.discord` and the
 * DISCORD_BOT_TOKEN secret; `check` asks Discord about the token and the
 * Message Content intent; `setup` walks through the Developer Portal.
 *
 *   const channel = discord.createChannel({ config: config.channels.discord, secrets, log });
 */
export const discord: ChatChannelModule<'discord'> = {
  createChannel({ config, secrets, log }) {
    return new DiscordChannel({ config, token: secrets.get(TOKEN), log });
  },
  check({ config, secrets, signal }) {
    return checkDiscord(config.apiBaseUrl, secrets.get(TOKEN), signal);
  },
  setup: {
    intro: [
      'Open https://discord.com/developers/applications and create an application (New Application).',
      'Under Bot: Reset Token and copy it (it is shown once). Under Privileged Gateway Intents turn on "Message Content Intent" and save.',
      'Under OAuth2 → URL Generator tick the scopes "bot" and "applications.commands", and the bot permissions View Channels, Send Messages, Send Messages in Threads, Read Message History, Attach Files and Embed Links; open the generated URL to add the bot to your server.',
      'Talk to the bot in a DM (you get a pairing code for `nanoclaw pair approve`), or allow a server channel with access.groups "discord:<channel id>" (Developer Mode on → right-click the channel → Copy Channel ID) and mention the bot there.',
    ],
    secrets: [{
      name: TOKEN,
      prompt: 'Discord bot token',
      pattern: /^[A-Za-z0-9_-]{18,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}$/,
      hint: 'A bot token has three parts separated by dots; copy it from your application\'s Bot page (Reset Token).',
    }],
  },
};
