import { z } from 'zod';

/** `channels.email`: any mailbox over IMAP (IDLE) and SMTP (password in secrets.json as EMAIL_PASSWORD). */
export const EmailChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Read and answer mail of one mailbox over IMAP and SMTP (`nanoclaw setup email`).'),
}).prefault({});
