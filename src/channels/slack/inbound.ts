/**
 * Slack events in, as NanoClaw messages: which conversation (channel, thread), who wrote it,
 * whether it addresses the bot, what it says and which files it carries. Both transports
 * (Socket Mode, HTTP events) hand their events here and acknowledge them to Slack only after
 * this returns, that is once the core has stored the message. Anything malformed is logged and
 * skipped; only a failure of the core itself throws (then Slack delivers the event again).
 */
import type { WebClient } from '@slack/web-api';
import type { ChannelHost } from '../channel.ts';
import type { Logger } from '../../core/logger.ts';
import { downloadSlackFile, FileTooLargeError } from './download.ts';
import { describeSlackError } from './errors.ts';
import { answeredBlocks, answeredLine, parseAnswerValue } from './blocks.ts';

/** Who the bot is in its workspace (from auth.test): its own messages are never taken as input. */
export interface SlackIdentity { userId: string; botId?: string; name?: string; team?: string }

/** Longest text taken from one message; Slack itself truncates at 40 000. */
const MAX_TEXT = 40_000;
/** Threads the bot was addressed in, remembered so a reply in them needs no new @mention. */
const MAX_ACTIVE_THREADS = 5_000;
/** How long a display name is kept before users.info is asked again. */
const NAME_TTL_MS = 60 * 60 * 1000;
/** Message subtypes that are people writing; the others (edits, deletions, joins, bots) are skipped. */
const USER_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);

type SlackFile = { id?: string; name?: string; title?: string; size?: number; mode?: string; url_private_download?: string; url_private?: string };

export interface InboundDeps {
  host: ChannelHost;
  web: WebClient;
  identity: SlackIdentity;
  botToken: string;
  apiBaseUrl: string;
  log: Logger;
}

/**
 * Turns Events API events and interactive payloads into `host.receive` and `host.answer` calls.
 *
 *   const inbound = new SlackInbound({ host, web, identity, botToken, apiBaseUrl, log });
 *   await inbound.event(envelope.payload.event); await ack();
 */
export class SlackInbound {
  private readonly names = new Map<string, { name?: string; until: number }>();
  private readonly activeThreads = new Set<string>();
  /** Per Slack channel, the tail of its event handling: messages are filed in the order they came. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: InboundDeps) {}

  /** Files one Events API event (`message` or `app_mention`); resolves once it is stored or skipped. */
  event(raw: unknown): Promise<void> {
    const ev = raw as Record<string, unknown> | null;
    const chat = typeof ev?.channel === 'string' ? ev.channel : '';
    const prev = this.chains.get(chat) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.file(ev));
    this.chains.set(chat, next);
    void next.finally(() => { if (this.chains.get(chat) === next) this.chains.delete(chat); }).catch(() => {});
    return next;
  }

  private async file(ev: Record<string, unknown> | null): Promise<void> {
    const { host, identity, log } = this.deps;
    if (!ev || (ev.type !== 'message' && ev.type !== 'app_mention')) return;
    const subtype = typeof ev.subtype === 'string' ? ev.subtype : undefined;
    if (!USER_SUBTYPES.has(subtype) || ev.bot_id || ev.user === identity.userId) return;
    const { channel: chat, user, ts } = ev;
    if (typeof chat !== 'string' || !/^[A-Z0-9]{1,40}$/i.test(chat) || typeof user !== 'string' || !/^[A-Z0-9]{1,40}$/i.test(user)
      || typeof ts !== 'string' || !/^\d{1,12}\.\d{1,9}$/.test(ts)) {
      log.warn(`slack: skipped a ${String(ev.type).slice(0, 40)} event without a valid channel, user and ts`);
      return;
    }
    let text = typeof ev.text === 'string' ? ev.text : '';
    if (text.length > MAX_TEXT) {
      log.warn(`slack: skipped message ${ts} in ${chat}: ${text.length} characters, over ${MAX_TEXT}`);
      return;
    }
    const threadTs = typeof ev.thread_ts === 'string' && /^\d{1,12}\.\d{1,9}$/.test(ev.thread_ts) ? ev.thread_ts : undefined;
    const isDirect = ev.channel_type === 'im' || (ev.channel_type === undefined && chat.startsWith('D'));
    // In a channel every conversation is a thread: a top-level message addressing the bot starts
    // one (the reply goes under it), so two people's requests never share one agent session.
    const thread = isDirect ? (threadTs && threadTs !== ts ? threadTs : '') : (threadTs ?? ts);
    const mention = new RegExp(`<@${identity.userId}(?:\\|[^>]*)?>`);
    const explicit = ev.type === 'app_mention' || mention.test(text);
    const mentioned = explicit || (threadTs !== undefined && this.activeThreads.has(`${chat}:${threadTs}`));
    // The leading mention goes ("@bot /stop" is the command /stop); one later in the text reads as the bot's name.
    text = unescapeSlack(text.replace(new RegExp(`^\\s*${mention.source}[\\s,:]*`), '').replace(new RegExp(mention.source, 'g'), () => `@${identity.name ?? 'nanoclaw'}`));

    const files = Array.isArray(ev.files) ? (ev.files as SlackFile[]).filter((f) => f && typeof f === 'object' && f.mode !== 'tombstone' && f.mode !== 'hidden_by_limit') : [];
    if (!text.trim() && files.length === 0) return;
    const where = { chat, thread };
    const ctx = { isGroup: !isDirect, mentioned };
    const senderName = await this.senderName(user);

    let attachments: Array<{ name: string; data: Buffer }>;
    try {
      attachments = await this.download(files, where);
    } catch (err) {
      // Said to an addressed sender only: in a busy channel the bot stays silent about files not meant for it.
      if (err instanceof FileTooLargeError) {
        log.warn(`slack: refused message ${ts} in ${chat}: ${err.message}`);
        if (isDirect || mentioned) await this.tell(chat, threadTs, user, `Your message was not passed on: ${err.message}. Send a smaller file.`);
      } else {
        log.warn(`slack: refused message ${ts} in ${chat}: ${(err as Error).message}`);
        if (isDirect || mentioned) await this.tell(chat, threadTs, user, 'Your message was not passed on: its file could not be downloaded. Try sending it again.');
      }
      return;
    }
    let received;
    try {
      received = host.receive(where, { clientId: ts, sender: user, senderName, text, attachments }, ctx);
    } catch (err) {
      if ((err as Error).name !== 'AttachmentError') throw err;
      log.warn(`slack: refused message ${ts} in ${chat}: ${(err as Error).message}`);
      await this.tell(chat, threadTs, user, (err as Error).message);
      return;
    }
    if (received.accepted) this.remember(chat, threadTs ?? ts, explicit, isDirect);
  }

  /** The message's files, refused before any download when their declared sizes are over the limit. */
  private async download(files: SlackFile[], where: { chat: string; thread: string }): Promise<Array<{ name: string; data: Buffer }>> {
    const limit = this.deps.host.attachmentLimit;
    const declared = files.reduce((sum, f) => sum + (typeof f.size === 'number' && f.size > 0 ? f.size : 0), 0);
    if (declared > limit) {
      const names = files.map((f) => `"${fileName(f)}"`).join(', ');
      throw new FileTooLargeError(`${names} ${files.length > 1 ? 'are' : 'is'} ${declared} bytes, over the limit of ${limit} bytes for one message`);
    }
    const out: Array<{ name: string; data: Buffer }> = [];
    let used = 0;
    for (const f of files) {
      const url = f.url_private_download ?? f.url_private;
      if (typeof url !== 'string') { this.deps.log.warn(`slack: file ${String(f.id).slice(0, 40)} in ${where.chat} has no download URL; skipped`); continue; }
      const data = await downloadSlackFile(url, { token: this.deps.botToken, apiBaseUrl: this.deps.apiBaseUrl, maxBytes: limit - used, name: fileName(f) });
      used += data.length;
      out.push({ name: fileName(f), data });
    }
    return out;
  }

  /** A word only the sender sees (an ephemeral message), for a message that was not passed on. */
  private async tell(chat: string, threadTs: string | undefined, user: string, text: string): Promise<void> {
    try {
      await this.deps.web.chat.postEphemeral({ channel: chat, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) });
    } catch (err) {
      this.deps.log.warn(`slack: could not tell ${user} in ${chat} why their message was refused: ${describeSlackError(err)}`);
    }
  }

  /**
   * A tapped answer button (a `block_actions` payload): the answer goes to the waiting question,
   * then the message is edited to show the choice in place of the buttons. A tap on a question
   * that is closed is told to the tapper alone.
   */
  async interaction(raw: unknown): Promise<void> {
    const p = raw as { type?: string; user?: { id?: string }; actions?: Array<{ action_id?: string; value?: string; text?: { text?: string } }>; channel?: { id?: string }; container?: { channel_id?: string; message_ts?: string; thread_ts?: string }; message?: { ts?: string; text?: string; thread_ts?: string } } | null;
    if (p?.type !== 'block_actions') return;
    const user = p.user?.id;
    const chat = p.channel?.id ?? p.container?.channel_id;
    const action = Array.isArray(p.actions) ? p.actions[0] : undefined;
    const answer = parseAnswerValue(action?.value);
    if (typeof user !== 'string' || typeof chat !== 'string' || !answer) {
      this.deps.log.warn('slack: skipped an interactive payload that is not an answer button');
      return;
    }
    const choice = answer.value ?? action?.text?.text ?? '';
    const result = this.deps.host.answer(answer.questionId, choice, user);
    const ts = p.container?.message_ts ?? p.message?.ts;
    const threadTs = p.container?.thread_ts ?? p.message?.thread_ts;
    if (!result.ok) {
      this.deps.log.info(`slack: answer from ${user} not taken: ${result.reason}`);
      await this.tell(chat, threadTs, user, `That question is closed: ${result.reason}.`);
      return;
    }
    if (!ts) return;
    const question = typeof p.message?.text === 'string' ? p.message.text : '';
    try {
      await this.deps.web.chat.update({ channel: chat, ts, text: `${question}\n${answeredLine(choice, user)}`, blocks: answeredBlocks(question, choice, user) as never });
    } catch (err) {
      this.deps.log.warn(`slack: could not show the answer on message ${ts} in ${chat}: ${describeSlackError(err)}`);
    }
  }

  private remember(chat: string, threadTs: string, explicit: boolean, isDirect: boolean): void {
    if (!explicit || isDirect) return;
    this.activeThreads.add(`${chat}:${threadTs}`);
    if (this.activeThreads.size > MAX_ACTIVE_THREADS) this.activeThreads.delete(this.activeThreads.values().next().value!);
  }

  /** The user's display name (cached; undefined when Slack will not say). */
  private async senderName(user: string): Promise<string | undefined> {
    const cached = this.names.get(user);
    if (cached && cached.until > Date.now()) return cached.name;
    let name: string | undefined;
    try {
      const res = await this.deps.web.users.info({ user });
      const u = res.user;
      name = (u?.profile?.display_name || u?.real_name || u?.name || undefined)?.slice(0, 200);
      this.names.set(user, { name, until: Date.now() + NAME_TTL_MS });
    } catch (err) {
      this.deps.log.debug(`slack: users.info for ${user}: ${describeSlackError(err)}`);
      this.names.set(user, { name: undefined, until: Date.now() + NAME_TTL_MS / 12 });
    }
    if (this.names.size > 10_000) this.names.delete(this.names.keys().next().value!);
    return name;
  }
}

/** A file's name as the sender gave it (the core makes it safe to store). */
function fileName(f: SlackFile): string {
  const name = typeof f.name === 'string' && f.name ? f.name : typeof f.title === 'string' && f.title ? f.title : `file-${String(f.id ?? 'unnamed')}`;
  return name.slice(0, 255);
}

/** Slack escapes only these three in message text; the agent reads the characters themselves. */
export function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
