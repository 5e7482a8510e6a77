import { gmail, type gmail_v1 } from '@googleapis/gmail';
import type { Channel, ChannelCapabilities, ChannelHealth, ChannelHost, OutboundPayload, ReceiveResult, SendResult } from '../channel.ts';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import type { Conversation, Outbound } from '../../store/store.ts';
import { DeliveryError } from '../channel.ts';
import { deliveryError, isAuthFailure, RELINK_ACTION, statusOf } from './errors.ts';
import { parseMessage } from './inbound.ts';
import { MailboxState } from './mailbox-state.ts';
import { oauthClient } from './oauth.ts';
import { buildNewMail, buildReply, OUTBOUND_HEADER } from './outbound.ts';

export interface GmailCredentials { clientId: string; clientSecret: string; refreshToken: string }

/** The longest wait between two polls after failures. */
const MAX_BACKOFF_MS = 5 * 60_000;
/** Raw `messages.send` bodies travel as JSON; attachments past this would need the upload endpoint. */
const MAX_OUT_BYTES = 5 * 1024 * 1024;
/** Labels of mail that is not new mail to someone else's agent: our own replies, drafts, spam. */
const SKIPPED_LABELS = ['SENT', 'DRAFT', 'SPAM', 'TRASH'];

/**
 * A Gmail mailbox as a channel. New mail is found by polling the mailbox
 * history from the last history id (Google's recommended sync for one user's
 * device, and no public URL); each Gmail thread is a conversation of its own
 * (chat = the account's address, thread = Gmail's threadId); replies go into
 * the thread. Only owners and approved senders reach the agent: mail from
 * anyone else is audited as `email.ignored` and never answered, and the
 * access policy is told never to send it a pairing code (`ignoreStrangers`).
 *
 *   const channel = new GmailChannel(config.channels.gmail, { clientId, clientSecret, refreshToken }, log);
 *   await gateway.startChannel(channel);
 */
export class GmailChannel implements Channel {
  readonly name = 'gmail';
  readonly trusted = false;
  readonly capabilities: ChannelCapabilities = {
    // One mail holds any reply: nothing is split.
    maxMessageLength: 1_000_000,
    dialect: 'plain',
    files: { in: true, out: true, maxOutBytes: MAX_OUT_BYTES },
    buttons: false,
    typing: false,
    edits: false,
    threads: true,
    reactions: false,
  };

  private readonly api: gmail_v1.Gmail;
  private host?: ChannelHost;
  private state?: MailboxState;
  /** The mailbox's own address (users.getProfile), the `chat` of every conversation. */
  private account?: string;
  private status: ChannelHealth = { state: 'starting', since: Date.now() };
  private stopped = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private failures = 0;

  constructor(private readonly config: Config['channels']['gmail'], credentials: GmailCredentials, private readonly log: Logger) {
    const timeoutMs = config.requestTimeoutSec * 1000;
    const auth = oauthClient({ ...credentials, tokenUrl: config.oauthTokenUrl, timeoutMs });
    // The timeout is the poller's watchdog: a call that hangs fails, and the next poll starts over.
    this.api = gmail({ version: 'v1', auth, rootUrl: config.apiBaseUrl, timeout: timeoutMs });
  }

  async start(host: ChannelHost): Promise<void> {
    this.host = host;
    this.state = MailboxState.load(host.dataDir);
    this.loop = this.run();
  }

  health(): ChannelHealth { return this.status; }

  /** Polls until stopped or until Google refuses the credentials (then `failed`, no retry loop). */
  private async run(): Promise<void> {
    while (!this.stopped) {
      let waitMs = this.config.pollIntervalSec * 1000;
      try {
        await this.poll();
        this.failures = 0;
        if (this.status.state !== 'connected') this.setStatus({ state: 'connected', detail: `reading ${this.account}` });
      } catch (err) {
        if (this.stopped) return;
        if (isAuthFailure(err)) {
          const detail = `Google refused the Gmail credentials (${describeError(err)})`;
          this.setStatus({ state: 'failed', detail, action: RELINK_ACTION });
          this.host?.log.error(`gmail: ${detail}; ${RELINK_ACTION}`);
          return;
        }
        this.failures++;
        waitMs = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(this.failures, 10));
        this.setStatus({ state: 'reconnecting', detail: `Gmail did not answer: ${describeError(err)}` });
        this.host?.log.warn(`gmail: polling failed (${describeError(err)}); trying again in ${Math.round(waitMs / 1000)} s`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  /** One look at the mailbox: what arrived in the inbox since the stored history id. */
  private async poll(): Promise<void> {
    const state = this.state!;
    if (!this.account) {
      const profile = (await this.api.users.getProfile({ userId: 'me' })).data;
      this.account = (profile.emailAddress ?? '').toLowerCase();
      // First start: mail already there is not new; begin from now.
      if (!state.historyId) { state.historyId = String(profile.historyId); state.since = Date.now(); state.save(); }
    }
    let ids: string[];
    let latest: string;
    try {
      ({ ids, latest } = await this.history(state.historyId!));
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      ({ ids, latest } = await this.resync());
    }
    for (const id of ids) {
      if (this.stopped) return;
      if (state.hasSeen(id)) continue;
      await this.take(id);
      state.markSeen(id);
      state.save();
    }
    state.historyId = latest;
    state.save();
  }

  /** Messages added to the inbox since `start`, oldest first, and the history id to continue from. */
  private async history(start: string): Promise<{ ids: string[]; latest: string }> {
    const ids: string[] = [];
    let latest = start;
    let pageToken: string | undefined;
    do {
      const res = (await this.api.users.history.list({ userId: 'me', startHistoryId: start, historyTypes: ['messageAdded'], labelId: 'INBOX', pageToken })).data;
      for (const h of res.history ?? []) for (const added of h.messagesAdded ?? []) if (added.message?.id && !ids.includes(added.message.id)) ids.push(added.message.id);
      if (res.historyId) latest = String(res.historyId);
      pageToken = res.nextPageToken ?? undefined;
    } while (pageToken);
    return { ids, latest };
  }

  /**
   * The stored history id is too old (Gmail keeps about a week; 404): start
   * again from the current position and look at the newest inbox messages,
   * so mail that came during the gap is not lost. What was already handled
   * is recognised (the seen list here, the message id in the core).
   */
  private async resync(): Promise<{ ids: string[]; latest: string }> {
    this.host?.log.warn('gmail: the stored mailbox position is too old for Gmail\'s history; resyncing from the newest inbox messages');
    const profile = (await this.api.users.getProfile({ userId: 'me' })).data;
    const list = (await this.api.users.messages.list({ userId: 'me', labelIds: ['INBOX'], maxResults: this.config.resyncMessages })).data;
    const ids = (list.messages ?? []).map((m) => m.id!).filter(Boolean).reverse();
    return { ids, latest: String(profile.historyId) };
  }

  /** Fetches, checks and hands on one message; anything malformed is logged and skipped. */
  private async take(id: string): Promise<void> {
    const host = this.host!;
    let msg: gmail_v1.Schema$Message;
    try {
      msg = (await this.api.users.messages.get({ userId: 'me', id, format: 'raw' })).data;
    } catch (err) {
      // Deleted between the history and now: nothing to read.
      if (statusOf(err) === 404) return;
      throw err;
    }
    if (!msg.raw || !msg.threadId) { host.log.warn(`gmail: message ${id} came without its content; skipped`); return; }
    if ((msg.labelIds ?? []).some((l) => SKIPPED_LABELS.includes(l))) return;
    if (Number(msg.internalDate ?? Date.now()) < this.state!.since) return;
    let mail: Awaited<ReturnType<typeof parseMessage>>;
    try {
      mail = await parseMessage(Buffer.from(msg.raw, 'base64url'));
    } catch (err) {
      host.log.warn(`gmail: message ${id} could not be parsed (${describeError(err)}); skipped`);
      return;
    }
    // Our own address: a note to self or one of our replies; answering it could loop.
    if (!mail.from || mail.from === this.account) return;
    const ignored = (reason: string) => host.audit({ type: 'email.ignored', actor: `gmail:${mail.from}`, data: { reason, messageId: id, threadId: msg.threadId, subject: mail.subject.slice(0, 200) } });
    if (mail.forged) { ignored('DMARC failed: the From address is forged'); return; }

    const { kept, refused } = this.withinLimit(mail.attachments);
    const isNewThread = !this.state!.thread(msg.threadId);
    const body = mail.text || '(no text)';
    const text = [
      isNewThread && !body.startsWith('/') ? `Subject: ${mail.subject}\n\n${body}` : body,
      ...refused.map((a) => `[attachment "${a.name}" (${a.data.length} bytes) is over the limit and was not kept]`),
    ].join('\n');
    let result: ReceiveResult;
    try {
      result = host.receive(
        { chat: this.account!, thread: msg.threadId },
        { clientId: id, sender: mail.from, senderName: mail.fromName, text, attachments: kept },
        { ignoreStrangers: true },
      );
    } catch (err) {
      // One mail the core cannot take (its attachments could not be stored) must not block the ones after it.
      host.log.error(`gmail: message ${id} from ${mail.from} could not be taken in (${describeError(err)}); skipped, it stays in the mailbox`);
      return;
    }
    if (!result.accepted) { ignored(result.reason); return; }
    this.state!.setThread(msg.threadId, {
      to: mail.from,
      subject: mail.subject,
      messageId: mail.messageId,
      references: mail.messageId ? [...mail.references, mail.messageId] : mail.references,
      at: Date.now(),
    });
  }

  private withinLimit(files: Array<{ name: string; data: Buffer }>) {
    const limit = this.host!.attachmentLimit;
    return { kept: files.filter((f) => f.data.length <= limit), refused: files.filter((f) => f.data.length > limit) };
  }

  /** Sends the answer as one reply in the conversation's Gmail thread. */
  async send(conversation: Conversation, payload: OutboundPayload): Promise<SendResult> {
    const reply = this.state?.thread(conversation.thread);
    if (!this.account || !reply) {
      throw new DeliveryError('permanent', `no mail to reply to in Gmail thread ${conversation.thread || '(none)'}: this channel only answers mail it received`);
    }
    if ((payload.resumeAt ?? 0) > 0) return { platformIds: [] };
    const mark = payload.outboundId === undefined ? undefined : outboundMark(conversation, payload.outboundId);
    const raw = await buildReply({ from: this.account, reply, markdown: payload.text, files: payload.files, mark });
    try {
      const sent = (await this.api.users.messages.send({ userId: 'me', requestBody: { raw: raw.toString('base64url'), threadId: conversation.thread } })).data;
      return { platformIds: sent.id ? [sent.id] : [] };
    } catch (err) {
      throw deliveryError(err);
    }
  }

  /** A new mail in a thread of its own (the `compose_mail` host tool, after the owner confirmed it). */
  async compose(to: string[], subject: string, text: string): Promise<SendResult> {
    if (!this.account) throw new Error('the Gmail channel has not reached Gmail yet (see `nanoclaw status`); try again once it is connected');
    const raw = await buildNewMail({ from: this.account, to, subject, markdown: text });
    try {
      const sent = (await this.api.users.messages.send({ userId: 'me', requestBody: { raw: raw.toString('base64url') } })).data;
      return { platformIds: sent.id ? [sent.id] : [] };
    } catch (err) {
      throw new Error(`Gmail refused the mail (${describeError(err)})${isAuthFailure(err) ? `; ${RELINK_ACTION}` : ''}`, { cause: err });
    }
  }

  /**
   * After a crash between sending and recording it: is a reply carrying this
   * row's mark among the thread's sent messages? Then it is not sent twice.
   */
  async wasDelivered(conversation: Conversation, message: Outbound): Promise<boolean> {
    const thread = (await this.api.users.threads.get({ userId: 'me', id: conversation.thread, format: 'metadata', metadataHeaders: [OUTBOUND_HEADER] })).data;
    const mark = outboundMark(conversation, message.id);
    return (thread.messages ?? []).some((m) => (m.labelIds ?? []).includes('SENT')
      && (m.payload?.headers ?? []).some((h) => h.name?.toLowerCase() === OUTBOUND_HEADER.toLowerCase() && h.value === mark));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop?.catch(() => {});
  }

  private setStatus(s: Omit<ChannelHealth, 'since'>): void {
    this.status = { ...s, since: Date.now() };
    if (s.state !== 'failed') this.log.info(`gmail: ${s.state}${s.detail ? ` (${s.detail})` : ''}`);
  }
}

/** The value of the outbound header: the conversation and the stored row. */
function outboundMark(conversation: Conversation, outboundId: number): string {
  return `${conversation.id}/${outboundId}`;
}

function describeError(err: unknown): string {
  const data = (err as { response?: { data?: { error?: unknown; error_description?: unknown } } })?.response?.data;
  if (data && typeof data.error === 'string') return `${data.error}${data.error_description ? `: ${data.error_description}` : ''}`;
  const status = statusOf(err);
  return `${status ? `${status} ` : ''}${(err as Error)?.message ?? String(err)}`.slice(0, 300);
}
