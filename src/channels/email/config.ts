import { z } from 'zod';

const Tls = (implicitPort: number, starttlsPort: number) => z.enum(['auto', 'implicit', 'starttls']).default('auto')
  .describe(`"implicit": TLS from the first byte (port ${implicitPort}); "starttls": plain connection upgraded with STARTTLS (port ${starttlsPort}), required unless the server is on this machine; "auto": implicit on port ${implicitPort}, STARTTLS on any other.`);

/**
 * `channels.email`: one mailbox over IMAP (IDLE) and SMTP. The password is
 * the EMAIL_PASSWORD secret; with `auth: "oauth2"` an XOAUTH2 access token
 * (EMAIL_OAUTH_TOKEN) is used instead. Who may write to the agent comes from
 * `access.owners` ("email:alice@example.com") and approved senders: mail from
 * anyone else is never answered. Keys are flat so `nanoclaw setup email
 * --option imapHost=…` can set each of them.
 */
export const EmailChannelConfig = z.strictObject({
  enabled: z.boolean().default(false).describe('Read and answer mail of one mailbox over IMAP and SMTP (`nanoclaw setup email`).'),
  imapHost: z.string().default('').describe('IMAP server the mail is read from, e.g. imap.fastmail.com.'),
  imapPort: z.number().int().min(1).max(65535).default(993).describe('IMAP server port: 993 (TLS) or 143 (STARTTLS).'),
  imapTls: Tls(993, 143),
  smtpHost: z.string().default('').describe('SMTP server replies are sent through, e.g. smtp.fastmail.com.'),
  smtpPort: z.number().int().min(1).max(65535).default(465).describe('SMTP server port: 465 (TLS) or 587 (STARTTLS).'),
  smtpTls: Tls(465, 587),
  user: z.string().default('').describe('Login name for both servers, usually the full address; also the `chat` of every email conversation.'),
  auth: z.enum(['password', 'oauth2']).default('password')
    .describe('"password": the EMAIL_PASSWORD secret (an app password where the provider has them); "oauth2": XOAUTH2 with the access token in EMAIL_OAUTH_TOKEN.'),
  fromAddress: z.string().default('').describe('Address replies are sent from; empty means `user`.'),
  fromName: z.string().default('NanoClaw').describe('Display name on replies.'),
  mailbox: z.string().min(1).default('INBOX').describe('The folder watched for new mail.'),
  reconnectMaxDelayMs: z.number().int().min(100).default(60_000)
    .describe('Longest wait between attempts to reconnect to the IMAP server after a dropped connection (the wait doubles from 1 s up to this).'),
}).prefault({});

export type EmailConfig = z.infer<typeof EmailChannelConfig>;

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1|\[::1\])$/i;

/**
 * How one server is reached: TLS from the start, or STARTTLS (required,
 * except on loopback, so a password never crosses a network in the clear).
 *
 *   const { secure, requireTLS } = tlsMode(config.smtpHost, config.smtpPort, config.smtpTls, 465);
 */
export function tlsMode(host: string, port: number, tls: EmailConfig['imapTls'], implicitPort: number): { secure: boolean; requireTLS: boolean } {
  const secure = tls === 'implicit' || (tls === 'auto' && port === implicitPort);
  return { secure, requireTLS: !secure && !LOOPBACK.test(host) };
}
