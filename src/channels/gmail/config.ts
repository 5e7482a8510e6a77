import { z } from 'zod';

/** `channels.gmail`: a Gmail mailbox through the Gmail API (OAuth refresh token in secrets.json, set by `nanoclaw setup gmail`). */
export const GmailChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Read and answer Gmail through the Gmail API with narrow scopes (`nanoclaw setup gmail`).'),
  apiBaseUrl: z.url().default('https://gmail.googleapis.com/').describe('Gmail API root URL, for a proxy or a stand-in.'),
}).prefault({});
