import { GrammyError, HttpError, type Api } from 'grammy';
import type { CallbackQuery, Message, MessageEntity, Update, UserFromGetMe } from 'grammy/types';
import { safeFileName } from '../../inbox/attachments.ts';
import type { ChannelHost } from '../channel.ts';
import { describe, redactToken } from './errors.ts';
import type { QuestionKeyboards } from './questions.ts';

/** The Bot API lets a bot download files up to 20 MB (a local Bot API server allows more). */
export const BOT_API_DOWNLOAD_LIMIT = 20 * 1024 * 1024;
/** Telegram caps a text at 4096 characters; far more is not a real message. */
const MAX_TEXT = 64 * 1024;
/** A download that takes longer than this is given up (it would hold up polling). */
const DOWNLOAD_TIMEOUT_MS = 120_000;

export interface InboundDeps {
  api: Api;
  host: ChannelHost;
  me: UserFromGetMe;
  /** `${apiBaseUrl}/file/bot${token}`: where getFile's `file_path` is downloaded from. */
  fileRoot: string;
  /** The largest file downloaded when `host.attachmentLimit` is larger (the Bot API's 20 MB). */
  downloadLimit: number;
  questions: QuestionKeyboards;
  log: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

/** A file a message carries, before it is downloaded. */
interface IncomingFile { fileId: string; size?: number; name: string; voice?: true }

/**
 * Turns Telegram updates into messages for the core: one chat (or forum topic)
 * is one conversation, the sender is the user's numeric id, the message id is
 * the `clientId` (a redelivered update is dropped as a duplicate). Photos
 * (largest size), documents, voice notes and audio are downloaded and passed
 * as attachments. A tapped question button becomes `host.answer`. Nothing
 * here throws: what cannot be handled is logged and skipped, or refused with
 * a reply to the sender.
 *
 *   const inbound = new TelegramInbound({ api, host, me, fileRoot, downloadLimit, questions, log });
 *   await inbound.handle(update); // then confirm the update to Telegram
 */
export class TelegramInbound {
  private readonly refusedGroups = new Set<string>();

  constructor(private readonly deps: InboundDeps) {}

  async handle(update: Update): Promise<void> {
    try {
      if (update.message) await this.message(update.message);
      else if (update.callback_query) await this.tap(update.callback_query);
    } catch (err) {
      // The service's refusals and network errors are expected; anything else is a bug worth its stack.
      const expected = err instanceof GrammyError || err instanceof HttpError || (err as Error)?.name === 'TimeoutError';
      if (expected) this.deps.log.warn(`telegram: update ${update?.update_id} skipped: ${describe(err)}`);
      else this.deps.log.error(`telegram: update ${update?.update_id} skipped: ${redactToken(String((err as Error)?.stack ?? err))}`);
    }
  }

  private async message(m: Message): Promise<void> {
    const { host, log } = this.deps;
    if (typeof m.message_id !== 'number' || typeof m.chat?.id !== 'number' || typeof m.from?.id !== 'number') {
      log.warn(`telegram: a message without chat, sender or id was skipped`);
      return;
    }
    if (m.from.is_bot || m.chat.type === 'channel') return;
    const raw = typeof m.text === 'string' ? m.text : typeof m.caption === 'string' ? m.caption : '';
    if (raw.length > MAX_TEXT) {
      log.warn(`telegram: a message of ${raw.length} characters in chat ${m.chat.id} was skipped`);
      return;
    }
    const isGroup = m.chat.type === 'group' || m.chat.type === 'supergroup';
    const { text, mentioned } = addressing(raw, m.entities ?? m.caption_entities ?? [], this.deps.me, m.reply_to_message?.from?.id === this.deps.me.id);
    const addressed = !isGroup || mentioned;
    const where = { chat: String(m.chat.id), thread: m.is_topic_message && m.message_thread_id ? String(m.message_thread_id) : '' };

    const files = filesOf(m);
    // In a group, a file nobody addressed to the bot is not fetched: with
    // privacy mode off the bot sees every photo of the group. A caption may
    // still start with the trigger word, so those are fetched.
    const fetch = files.length > 0 && (addressed || text.trim() !== '');
    if (!text && !files.length) return; // stickers, joins, polls, ...
    if (!fetch && !text) return;
    const attachments: Array<{ name: string; data: Buffer; voice?: true }> = [];
    if (fetch) {
      const limit = Math.min(host.attachmentLimit, this.deps.downloadLimit);
      const big = files.find((f) => f.size !== undefined && f.size > limit);
      if (big) {
        log.info(`telegram: "${big.name}" (${big.size} bytes) in chat ${where.chat} is over the limit of ${limit} bytes; not downloaded`);
        if (addressed) await this.tell(where, m.message_id, `"${big.name}" is ${mb(big.size!)}, over the ${mb(limit)} I can take here${limit === this.deps.downloadLimit && limit < host.attachmentLimit ? ' (the Telegram Bot API lets bots download at most 20 MB)' : ''}. Your message was not passed on; send a smaller file or a link.`);
        return;
      }
      for (const f of files) {
        const data = await this.download(f, limit);
        if (data === 'too_large') {
          if (addressed) await this.tell(where, m.message_id, `"${f.name}" is over the ${mb(limit)} I can take here. Your message was not passed on.`);
          return;
        }
        attachments.push({ name: f.name, data, ...(f.voice ? { voice: true as const } : {}) });
      }
    }
    const senderName = [m.from.first_name, m.from.last_name].filter(Boolean).join(' ') || m.from.username || undefined;
    try {
      const result = host.receive(where, { clientId: String(m.message_id), sender: String(m.from.id), senderName, text, attachments }, { isGroup, mentioned });
      // The owner needs the group's id to allow it; say it once per group.
      if (!result.accepted && isGroup && mentioned && /group not allowed/.test(result.reason) && !this.refusedGroups.has(where.chat)) {
        this.refusedGroups.add(where.chat);
        log.info(`telegram: the bot was addressed in group ${where.chat} ("${'title' in m.chat ? m.chat.title : ''}"), which is not allowed; add "telegram:${where.chat}" to access.groups to let it in`);
      }
    } catch (err) {
      const e = err as Error & { kind?: string };
      if (e.name === 'AttachmentError' && e.kind === 'too_large') {
        if (addressed) await this.tell(where, m.message_id, e.message);
        return;
      }
      throw err;
    }
  }

  /** A tapped question button: the answer goes to the core, the tap is acknowledged, the question shows the choice. */
  private async tap(q: CallbackQuery): Promise<void> {
    const { api, host, log, questions } = this.deps;
    if (typeof q.id !== 'string' || typeof q.from?.id !== 'number') return;
    const message = q.message && 'text' in q.message ? q.message as Message : undefined;
    const chat = q.message?.chat?.id;
    const choice = typeof q.data === 'string' && chat !== undefined ? questions.decode(q.data, String(chat), message?.reply_markup) : undefined;
    if (!choice) {
      await api.answerCallbackQuery(q.id).catch(() => {});
      return;
    }
    const result = host.answer(choice.questionId, choice.value, String(q.from.id));
    await api.answerCallbackQuery(q.id, result.ok ? { text: `Chosen: ${choice.value}`.slice(0, 200) } : { text: 'This question is no longer open.' })
      .catch((err) => log.warn(`telegram: answerCallbackQuery failed: ${describe(err)}`));
    if (!result.ok || !message || chat === undefined) return;
    questions.forget(choice.questionId);
    // The question keeps its formatting (its entities still fit, the choice is
    // appended) and loses its buttons, so the chat shows what was chosen.
    const shown = `${message.text ?? ''}\n\n✓ ${choice.value}`;
    await api.editMessageText(chat, message.message_id, shown.slice(0, 4096), { entities: message.entities })
      .catch((err) => log.warn(`telegram: could not mark the question as answered: ${describe(err)}`));
  }

  /** The file's bytes, or 'too_large' when it turns out bigger than `limit` while downloading. */
  private async download(f: IncomingFile, limit: number): Promise<Buffer | 'too_large'> {
    const file = await this.deps.api.getFile(f.fileId);
    if (file.file_size !== undefined && file.file_size > limit) return 'too_large';
    if (!file.file_path) throw new Error(`Telegram gave no file_path for "${f.name}" (over the download limit?)`);
    const res = await fetch(`${this.deps.fileRoot}/${file.file_path.split('/').map(encodeURIComponent).join('/')}`, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (!res.ok || !res.body) throw new Error(`downloading "${f.name}" answered ${res.status}`);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > limit) return 'too_large';
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }

  /** A short reply to the sender's message (a refusal); failures are only logged. */
  private async tell(where: { chat: string; thread: string }, replyTo: number, text: string): Promise<void> {
    await this.deps.api.sendMessage(where.chat, text, {
      ...(where.thread ? { message_thread_id: Number(where.thread) } : {}),
      reply_parameters: { message_id: replyTo, allow_sending_without_reply: true },
    }).catch((err) => this.deps.log.warn(`telegram: could not tell chat ${where.chat}: ${describe(err)}`));
  }
}

/**
 * Whether a message addresses the bot (a @mention of it, a /command@bot, a
 * reply to one of its messages), and the text without the leading mention,
 * so "@bot /stop" is the command "/stop" and "/stop@bot" is "/stop".
 *
 *   addressing('@nanoclaw_bot hi', [{ type: 'mention', offset: 0, length: 13 }], me, false)  // { text: 'hi', mentioned: true }
 */
export function addressing(text: string, given: MessageEntity[], me: UserFromGetMe, replyToBot: boolean): { text: string; mentioned: boolean } {
  const handle = `@${me.username}`.toLowerCase();
  const entities = Array.isArray(given) ? given.filter((e) => e && typeof e.offset === 'number' && typeof e.length === 'number') : [];
  let mentioned = replyToBot;
  let out = text;
  for (const e of entities) {
    const part = text.slice(e.offset, e.offset + e.length).toLowerCase();
    if (e.type === 'mention' && part === handle) mentioned = true;
    else if (e.type === 'text_mention' && e.user?.id === me.id) mentioned = true;
    else if (e.type === 'bot_command' && part.endsWith(handle)) mentioned = true;
  }
  const lead = /^\s*/.exec(out)![0].length;
  const first = entities.find((e) => e.offset === lead);
  if (first && (first.type === 'mention' || first.type === 'text_mention') && mentioned) {
    const part = out.slice(first.offset, first.offset + first.length);
    if (first.type === 'text_mention' ? first.user?.id === me.id : part.toLowerCase() === handle) out = out.slice(first.offset + first.length).replace(/^[\s,:]+/, '');
  } else if (first?.type === 'bot_command') {
    const part = out.slice(first.offset, first.offset + first.length);
    if (part.toLowerCase().endsWith(handle)) out = out.slice(0, first.offset) + part.slice(0, part.length - handle.length) + out.slice(first.offset + first.length);
  }
  return { text: out.trim(), mentioned };
}

/** The files a message carries: the largest photo size, a document, a voice note or an audio file. */
function filesOf(m: Message): IncomingFile[] {
  const files: IncomingFile[] = [];
  const id = m.message_id;
  if (Array.isArray(m.photo) && m.photo.length) {
    const largest = m.photo.reduce((a, b) => ((b.width ?? 0) * (b.height ?? 0) > (a.width ?? 0) * (a.height ?? 0) ? b : a));
    if (typeof largest.file_id === 'string') files.push({ fileId: largest.file_id, size: largest.file_size, name: `photo-${id}.jpg` });
  }
  if (typeof m.document?.file_id === 'string') files.push({ fileId: m.document.file_id, size: m.document.file_size, name: safeFileName(m.document.file_name ?? '', `document-${id}`) });
  if (typeof m.voice?.file_id === 'string') files.push({ fileId: m.voice.file_id, size: m.voice.file_size, name: `voice-${id}.ogg`, voice: true });
  if (typeof m.audio?.file_id === 'string') files.push({ fileId: m.audio.file_id, size: m.audio.file_size, name: safeFileName(m.audio.file_name ?? '', `audio-${id}.${audioExtension(m.audio.mime_type)}`) });
  return files;
}

function audioExtension(mime: string | undefined): string {
  if (mime === 'audio/mpeg') return 'mp3';
  if (mime === 'audio/mp4' || mime === 'audio/x-m4a') return 'm4a';
  if (mime === 'audio/ogg') return 'ogg';
  return 'audio';
}

/** A size as people read it: bytes below a megabyte, where rounding would hide the difference. */
function mb(bytes: number): string {
  return bytes < 1024 * 1024 ? `${bytes} bytes` : `${(bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, '')} MB`;
}
