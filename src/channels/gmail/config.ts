import { z } from 'zod';

/** `channels.gmail`: a Gmail mailbox through the Gmail API (OAuth refresh token in secrets.json, set by `nanoclaw setup gmail`). */
export const GmailChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Read and answer Gmail through the Gmail API with narrow scopes (`nanoclaw setup gmail`).'),
  apiBaseUrl: z.url().default('https://gmail.googleapis.com/').describe('Gmail API root URL, for a proxy or a stand-in.'),
  oauthTokenUrl: z.url().default('https://oauth2.googleapis.com/token').describe('Google OAuth token endpoint (refreshing the access token, exchanging the set-up code), for a proxy or a stand-in.'),
  pollIntervalSec: z.number().int().min(1).max(3600).default(30)
    .describe('Seconds between two looks at the mailbox history; Gmail needs no public URL this way. Each look is one cheap API call.'),
  resyncMessages: z.number().int().min(1).max(500).default(25)
    .describe('After a gap too long for the mailbox history (Gmail forgot the position), how many of the newest inbox messages are looked at again.'),
  requestTimeoutSec: z.number().int().min(1).max(600).default(60)
    .describe('Seconds one call to Google may take; a call that hangs longer is given up and the next poll starts over (the poller\'s watchdog).'),
}).prefault({});
