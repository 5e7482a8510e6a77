import { z } from 'zod';

/** `channels.api`: the local HTTP API. */
export const HttpChannelConfig = z.strictObject({
  enabled: z.boolean().default(true).describe('Serve the local HTTP API (also what `nanoclaw status` and the chat CLI use to reach a running gateway).'),
  host: z.string().default('127.0.0.1').describe('Address the local HTTP API listens on. Keep it on loopback unless a proxy with TLS sits in front.'),
  port: z.number().int().min(0).max(65535).default(7878).describe('Port of the local HTTP API (0 picks a free one).'),
  maxBodyBytes: z.number().int().min(1024).default(256 * 1024).describe('Largest request body the HTTP API accepts; larger ones get 413.'),
}).prefault({});
