import { z } from 'zod';

/** `channels.whatsapp`: the owner's own WhatsApp account as a linked device (`nanoclaw setup whatsapp`). */
export const WhatsappChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Connect WhatsApp as a linked device of your account (`nanoclaw setup whatsapp` links it and sets this).'),
  apiBaseUrl: z.string().default('wss://web.whatsapp.com/ws/chat').describe('WhatsApp Web websocket address; only for tests and proxies.'),
  pairStrangers: z.boolean().default(false).describe('Answer a direct message from someone NanoClaw does not know with a pairing code. Off by default: the account is your own number, and people who write to you should not get codes from it; list the people the agent serves in access.owners instead.'),
  watchdogSec: z.number().int().min(1).default(180).describe('Seconds without a single frame from WhatsApp (its keep-alive pings are answered every 30 s) before the connection counts as stalled and is opened again.'),
  maxReconnectDelaySec: z.number().int().min(1).default(60).describe('Longest wait between reconnection attempts after a dropped connection (the wait doubles from 1 s up to this).'),
}).prefault({});
