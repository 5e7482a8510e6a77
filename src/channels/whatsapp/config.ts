import { z } from 'zod';

/** `channels.whatsapp`: the owner's own WhatsApp account as a linked device (`nanoclaw setup whatsapp`). */
export const WhatsappChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Connect WhatsApp as a linked device of your account (`nanoclaw setup whatsapp` links it and sets this).'),
  apiBaseUrl: z.string().default('wss://web.whatsapp.com/ws/chat').describe('WhatsApp Web websocket address; only for tests and proxies.'),
}).prefault({});
