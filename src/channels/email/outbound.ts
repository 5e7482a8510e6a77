import { randomUUID } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import { DeliveryError, type OutboundPayload, type SendResult } from '../channel.ts';
import { toDialect } from '../format/index.ts';
import type { Config } from '../../config/schema.ts';
import type { Conversation } from '../../store/store.ts';
import { tlsMode } from './config.ts';
import { smtpAuth, type MailAuth } from './credentials.ts';
import type { ThreadStore } from './threads.ts';

/** The start of every Message-ID this channel makes: its own replies are recognised when they come back in (a copy to self). */
export const OWN_ID_PREFIX = '<nanoclaw.';

/**
 * Sends the agent's replies over SMTP, always in the thread they answer:
 * to the last sender of the thread, "Re: <subject>", In-Reply-To the last
 * mail and References the chain (RFC 5322 §3.6.4), so every mail client
 * files it under the conversation. The agent never chooses a recipient.
 *
 *   const ids = await outbound.send(conversation, { text: 'Done.', files: [] … });
 */
export class EmailOutbound {
  private transport?: Transporter;

  constructor(private readonly opts: { config: Config['channels']['email']; auth: () => MailAuth | { missing: string; fix: string }; threads: () => ThreadStore }) {}

  async send(conversation: Conversation, payload: OutboundPayload): Promise<SendResult> {
    const config = this.opts.config;
    const threads = this.opts.threads();
    const ctx = threads.get(conversation.thread);
    if (!ctx) throw new DeliveryError('permanent', `no mail of the thread ${conversation.thread} is known to reply to (threads.json in the email channel's data folder lost it)`);
    const auth = this.opts.auth();
    if ('missing' in auth) throw new DeliveryError('permanent', `${auth.missing}; ${auth.fix}`);
    const address = config.fromAddress || config.user;
    const domain = address.split('@')[1] || 'nanoclaw.invalid';
    const messageId = `${OWN_ID_PREFIX}${randomUUID()}@${domain}>`;
    // Parts of an earlier attempt: a mail is one part, so a resumed send has nothing left.
    if ((payload.resumeAt ?? 0) > 0) return { platformIds: [] };
    try {
      await this.smtp(auth).sendMail({
        from: { name: config.fromName, address },
        to: ctx.to,
        subject: `Re: ${ctx.subject || '(no subject)'}`,
        text: toDialect(payload.text, 'plain'),
        messageId,
        inReplyTo: ctx.inReplyTo,
        references: ctx.references.join(' '),
        // RFC 3834: out-of-office robots do not answer an automatic reply, so two robots cannot loop.
        headers: { 'Auto-Submitted': 'auto-replied' },
        attachments: payload.files.map((f) => ({ filename: f.name, path: f.path })),
      });
    } catch (err) {
      throw deliveryError(err as SmtpError, config.smtpHost);
    }
    threads.replied(conversation.thread, messageId);
    return { platformIds: [messageId] };
  }

  /**
   * A new mail, not a reply: from the account's address to `to`, in a thread
   * of its own. Without Auto-Submitted, since a person wrote it (confirmed
   * by the owner): the recipient's auto-responders may answer it as they
   * would any mail. The Message-ID carries OWN_ID_PREFIX, so a copy that comes
   * back in is recognised as this channel's own.
   *
   *   await outbound.compose(['bob@example.com'], 'Lunch', 'Are you free on Friday?');
   */
  async compose(to: string[], subject: string, text: string): Promise<SendResult> {
    const config = this.opts.config;
    const auth = this.opts.auth();
    if ('missing' in auth) throw new Error(`${auth.missing}; ${auth.fix}`);
    const address = config.fromAddress || config.user;
    const messageId = `${OWN_ID_PREFIX}${randomUUID()}@${address.split('@')[1] || 'nanoclaw.invalid'}>`;
    try {
      await this.smtp(auth).sendMail({ from: { name: config.fromName, address }, to, subject, text: toDialect(text, 'plain'), messageId });
    } catch (err) {
      throw deliveryError(err as SmtpError, config.smtpHost);
    }
    return { platformIds: [messageId] };
  }

  close(): void { this.transport?.close(); this.transport = undefined; }

  private smtp(auth: MailAuth): Transporter {
    const config = this.opts.config;
    // OAuth2 tokens change: a new transport per send takes the current one.
    if (this.transport && 'pass' in auth) return this.transport;
    this.transport?.close();
    this.transport = nodemailer.createTransport({
      host: config.smtpHost, port: config.smtpPort,
      // Without TLS from the start, STARTTLS is required: a password is never sent in the clear, except to this machine.
      ...tlsMode(config.smtpHost, config.smtpPort, config.smtpTls, 465),
      auth: smtpAuth(auth),
      connectionTimeout: 30_000, greetingTimeout: 30_000, socketTimeout: 60_000,
    });
    return this.transport;
  }
}

type SmtpError = Error & { code?: string; responseCode?: number; response?: string };

/** SMTP's answer as the delivery worker needs it: 4xx and network trouble are worth another try, 5xx is not. */
function deliveryError(err: SmtpError, host: string): DeliveryError {
  const said = err.response ?? err.message;
  if (err.code === 'EAUTH') return new DeliveryError('permanent', `the SMTP server ${host} refused the login (${said}); run \`nanoclaw setup email\` with the right password or token`, { cause: err });
  if (err.responseCode && err.responseCode >= 500) return new DeliveryError('permanent', `the SMTP server ${host} refused the mail: ${said}`, { cause: err });
  return new DeliveryError('transient', `sending by SMTP through ${host} failed: ${said}`, { cause: err });
}
