import type { Channel, ChannelCapabilities, ChannelHealth, ChannelHost, OutboundPayload, SendResult } from '../channel.ts';
import type { Config } from '../../config/schema.ts';
import type { Secrets } from '../../config/secrets.ts';
import type { Logger } from '../../core/logger.ts';
import type { Conversation } from '../../store/store.ts';
import { mailAuth } from './credentials.ts';
import { MailboxWatcher, type MailOutcome, type NewMail } from './mailbox.ts';
import { EmailOutbound, OWN_ID_PREFIX } from './outbound.ts';
import { parseMail, type InboundMail } from './parse.ts';
import { ThreadStore } from './threads.ts';

/** Longest text handed to the agent from one mail; the rest is cut with a note. */
const MAX_TEXT = 50_000;
/** Base64 makes attachments about 4/3 their size; the rest of a mail is small beside it. */
const rawLimit = (attachmentLimit: number) => Math.ceil(attachmentLimit * 1.4) + 1024 * 1024;

/**
 * Any mailbox over IMAP (IDLE) and SMTP. Every mail thread is its own
 * conversation: `chat` is the account, `thread` the root Message-ID of the
 * thread (found from References and In-Reply-To). Only owners and approved
 * senders reach the agent; mail from anyone else is left unread, audited as
 * `email.ignored` and never answered, since a reply to a stranger is a spam
 * and phishing vector (so there is no pairing by mail either).
 *
 *   const channel = new EmailChannel({ config: config.channels.email, secrets, log });
 *   await gateway.startChannel(channel); // health() says how the IMAP connection is
 */
export class EmailChannel implements Channel {
  readonly name = 'email';
  /** Anyone can send mail, and From can be forged: senders go through the access policy. */
  readonly trusted = false;
  readonly capabilities: ChannelCapabilities = {
    // One reply is one mail; mail has no practical length limit worth splitting at.
    maxMessageLength: 1_000_000, dialect: 'plain',
    // Most providers take 25 MB per mail, after base64: 18 MB of files leaves room.
    files: { in: true, out: true, maxOutBytes: 18 * 1024 * 1024 },
    buttons: false, typing: false, edits: false, threads: true, reactions: false,
  };
  private host?: ChannelHost;
  private watcher?: MailboxWatcher;
  private readonly outbound: EmailOutbound;
  private threads = new ThreadStore(undefined);
  private readonly account: string;

  constructor(private readonly opts: { config: Config['channels']['email']; secrets: Secrets; log: Logger }) {
    this.account = opts.config.user.toLowerCase();
    // The thread store is opened in start(), once the data folder is known.
    this.outbound = new EmailOutbound({ config: opts.config, auth: () => mailAuth(opts.config, opts.secrets), threads: () => this.threads });
  }

  async start(host: ChannelHost): Promise<void> {
    this.host = host;
    this.threads = new ThreadStore(host.dataDir);
    this.watcher = new MailboxWatcher({
      config: this.opts.config, auth: () => mailAuth(this.opts.config, this.opts.secrets),
      dataDir: host.dataDir, log: this.opts.log, onMail: (mail) => this.take(mail),
    });
    this.watcher.start();
  }

  health(): ChannelHealth { return this.watcher?.health() ?? { state: 'starting', since: Date.now() }; }

  send(conversation: Conversation, message: OutboundPayload): Promise<SendResult> {
    return this.outbound.send(conversation, message);
  }

  /** A new mail from the account (the `compose_mail` host tool, after the owner confirmed it). */
  compose(to: string[], subject: string, text: string): Promise<SendResult> {
    return this.outbound.compose(to, subject, text);
  }

  async stop(): Promise<void> {
    await this.watcher?.stop();
    this.outbound.close();
  }

  /**
   * One new mail: to the agent, ignored, or skipped. Only a dropped
   * connection throws (the mail is read again after the reconnect): a bad
   * mail must not hold up the ones after it.
   */
  private async take(newMail: NewMail): Promise<MailOutcome> {
    const host = this.host!;
    const log = this.opts.log;
    const limit = rawLimit(host.attachmentLimit);
    if (newMail.size > limit) {
      log.warn(`email: skipped mail UID ${newMail.uid}: ${newMail.size} bytes, over the ${limit} bytes the attachment limit allows`);
      host.audit({ type: 'email.skipped', data: { uid: newMail.uid, size: newMail.size, reason: 'too large' } });
      return 'leave';
    }
    const source = await newMail.read();
    if (!source) return 'leave'; // deleted before it could be read
    let mail: InboundMail;
    try {
      mail = await parseMail(source);
    } catch (err) {
      // MalformedMailError, or anything else a hostile mail can make the parser do.
      const reason = (err as Error).message;
      log.warn(`email: skipped mail UID ${newMail.uid}: ${reason}`);
      host.audit({ type: 'email.skipped', data: { uid: newMail.uid, reason } });
      return 'leave';
    }
    if (mail.messageId.startsWith(OWN_ID_PREFIX)) return 'leave';
    if (mail.automatic) {
      host.audit({ type: 'email.ignored', actor: `email:${mail.from}`, data: { reason: 'automatic mail (Auto-Submitted)', messageId: mail.messageId, subject: mail.subject } });
      return 'leave';
    }
    const where = { chat: this.account, thread: mail.threadRoot };
    const msg = { clientId: mail.messageId, sender: mail.from, senderName: mail.fromName, text: agentText(mail), attachments: mail.attachments };
    let result;
    try {
      result = host.receive(where, msg, { ignoreStrangers: true });
    } catch (err) {
      log.warn(`email: mail ${mail.messageId} from ${mail.from} was not taken: ${(err as Error).message}`);
      host.audit({ type: 'email.skipped', actor: `email:${mail.from}`, data: { messageId: mail.messageId, reason: (err as Error).message } });
      return 'leave';
    }
    if (!result.accepted) {
      log.info(`email: ignored mail from ${mail.from} (${result.reason})`);
      host.audit({ type: 'email.ignored', actor: `email:${mail.from}`, data: { reason: result.reason, messageId: mail.messageId, subject: mail.subject } });
      return 'leave';
    }
    // Replies go to the allowed sender's own address (From), never to a Reply-To it names:
    // a forged From then never brings the answer to the forger.
    this.threads.remember(mail.threadRoot, { to: mail.from, subject: mail.subject, inReplyTo: mail.messageId, references: mail.references });
    return 'seen';
  }
}

/** What the agent reads: the subject when the mail starts a thread, then the new text (a command such as /stop stays first). */
function agentText(mail: InboundMail): string {
  let text = mail.text.length > MAX_TEXT ? `${mail.text.slice(0, MAX_TEXT)}\n[… the rest of this mail (${mail.text.length - MAX_TEXT} characters) was cut]` : mail.text;
  const startsThread = mail.threadRoot === mail.messageId;
  if (startsThread && mail.subject && !text.startsWith('/')) text = `Subject: ${mail.subject}\n\n${text}`;
  return text || (mail.attachments.length ? '(attachments only)' : '(an empty mail)');
}
