import { join } from 'node:path';
import { homeLayout, resolveHome } from '../../config/home.ts';
import type { ChatChannelModule } from '../registry.ts';
import { AuthStore } from './auth-store.ts';
import { sessionDir, WhatsappChannel } from './channel.ts';
import { linkDevice } from './device-link.ts';

export { WhatsappChannelConfig } from './config.ts';
export { WhatsappChannel, sessionDir } from './channel.ts';
export { AuthStore } from './auth-store.ts';
export { linkDevice } from './device-link.ts';
export type { WhatsappLink } from './link.ts';

/**
 * The WhatsApp channel for the registry: built from `channels.whatsapp`; its
 * only credential is the linked session under NANOCLAW_HOME/channels/whatsapp
 * (no secret in secrets.json).
 *
 *   const channel = whatsapp.createChannel({ config: config.channels.whatsapp, secrets, log });
 *   const { ok, detail } = await whatsapp.check({ config: config.channels.whatsapp, secrets });
 */
export const whatsapp: ChatChannelModule<'whatsapp'> = {
  createChannel({ config, log }) {
    return new WhatsappChannel({ config, log });
  },

  async check() {
    const dir = sessionDir(join(homeLayout(resolveHome()).channels, 'whatsapp'));
    const me = await AuthStore.linkedAccount(dir).catch(() => undefined);
    if (!me) return { ok: false, detail: `no linked WhatsApp session in ${dir}`, fix: 'run `nanoclaw setup whatsapp` and scan the QR code with your phone' };
    return {
      ok: true,
      detail: `a WhatsApp session linked to ${me} is stored in ${dir}. Whether WhatsApp still accepts it shows only when the gateway connects (checking would mean connecting, which takes the session from a running gateway): see \`nanoclaw status\``,
    };
  },

  setup: {
    intro: [
      'NanoClaw links to your own WhatsApp account as a linked device, like WhatsApp Web. It is an unofficial client (Baileys): WhatsApp may ban numbers it takes for automation. Use it for your own chats, at a person\'s pace, never for bulk messages.',
      'Have your phone at hand: WhatsApp, Settings, Linked devices, Link a device. You scan a QR code shown here, or enter a pairing code instead.',
      'The session\'s keys stay in NANOCLAW_HOME/channels/whatsapp/session (folder 0700, files 0600), never in a container. Removing the device on the phone ends it.',
      'Afterwards, list yourself as the owner (`access.owners: ["whatsapp:<your number with country code, digits only>"]`) and write in your chat with yourself ("Message yourself"); allow groups with `access.groups: ["whatsapp:<group jid>"]` and address the agent there with a mention or the trigger word.',
    ],
    secrets: [],
    async link(ctx) {
      const config = ctx.config as { apiBaseUrl: string };
      const dir = sessionDir(ctx.dataDir);
      const existing = await AuthStore.linkedAccount(dir).catch(() => undefined);
      if (existing) {
        const again = await ctx.ask(`A session linked to ${existing} is stored. Link again (the old one is removed)? [y/N]`, 'n');
        if (!/^y/i.test(again)) return;
      }
      const phone = (await ctx.ask('Your phone number with country code (digits only) for a pairing code, or press Enter for a QR code', '')).replace(/[^\d]/g, '');
      const me = await linkDevice({ dir, url: config.apiBaseUrl, phone, out: ctx.out, signal: ctx.signal });
      ctx.out.write(`Linked to ${me}.\n`);
    },
  },
};
