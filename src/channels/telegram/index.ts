import { Bot } from 'grammy';
import type { ChatChannelModule } from '../registry.ts';
import { TelegramChannel } from './channel.ts';
import { describe, needsUser } from './errors.ts';

export { TelegramChannelConfig } from './config.ts';
export { TelegramChannel } from './channel.ts';

/**
 * The Telegram channel for the registry: built from `channels.telegram` and
 * the TELEGRAM_BOT_TOKEN secret (TELEGRAM_WEBHOOK_SECRET too, in webhook mode,
 * if set; otherwise a fresh one is registered at every start).
 *
 *   const channel = telegram.createChannel({ config: config.channels.telegram, secrets, log });
 *   const { ok, detail, fix } = await telegram.check({ config: config.channels.telegram, secrets });
 */
export const telegram: ChatChannelModule<'telegram'> = {
  createChannel({ config, secrets, log }) {
    return new TelegramChannel({ config, token: secrets.get('TELEGRAM_BOT_TOKEN'), webhookSecret: secrets.get('TELEGRAM_WEBHOOK_SECRET'), log });
  },

  async check({ config, secrets, signal }) {
    const token = secrets.get('TELEGRAM_BOT_TOKEN');
    if (!token) return { ok: false, detail: 'TELEGRAM_BOT_TOKEN is not set', fix: 'run `nanoclaw setup telegram` and paste the token @BotFather gave you' };
    if (config.mode === 'webhook' && !config.webhook.url) {
      return { ok: false, detail: 'channels.telegram.mode is "webhook" but channels.telegram.webhook.url is empty', fix: 'set channels.telegram.webhook.url to the public HTTPS URL of the listener, or use mode "polling"' };
    }
    try {
      const me = await new Bot(token, { client: { apiRoot: config.apiBaseUrl.replace(/\/+$/, '') } }).api.getMe(signal as never);
      const groups = me.can_read_all_group_messages
        ? 'it sees every group message (privacy mode off)'
        : 'in groups it sees only messages that mention it, reply to it or are commands (privacy mode on)';
      return { ok: true, detail: `Telegram bot @${me.username} (id ${me.id}) answers; ${groups}` };
    } catch (err) {
      const problem = needsUser(err, config.mode);
      if (problem) return { ok: false, detail: problem.detail, fix: problem.action };
      return { ok: false, detail: `could not reach the Telegram Bot API at ${config.apiBaseUrl}: ${describe(err)}`, fix: 'check the network (and a proxy, if any) or channels.telegram.apiBaseUrl, then try again' };
    }
  },

  setup: {
    intro: [
      'In Telegram, open a chat with @BotFather and send /newbot.',
      'Give the bot a display name, then a username ending in "bot" (e.g. my_nanoclaw_bot).',
      'BotFather answers with the bot\'s token (digits, a colon, then letters): paste it below. It is stored in secrets.json (mode 0600).',
      'To use the bot in groups: add it to the group, then allow the group with `access.groups: ["telegram:<chat id>"]`. By default (privacy mode) the bot sees only messages that mention it; send /setprivacy to @BotFather and choose Disable to let it see every message.',
      'Then send your bot a message from your own account: it answers with a pairing code for `nanoclaw pair approve <code>` (or list yourself as an owner: `access.owners: ["telegram:<your user id>"]`).',
    ],
    secrets: [{
      name: 'TELEGRAM_BOT_TOKEN',
      prompt: 'Bot token from @BotFather',
      pattern: /^\d+:[A-Za-z0-9_-]{30,}$/,
      hint: 'It looks like 123456789:AAE... (from @BotFather: /mybots, your bot, API Token).',
    }],
  },
};
