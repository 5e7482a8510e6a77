import { basename } from 'node:path';
import { areJidsSameUser, isJidGroup, isLidUser, isPnUser, jidDecode, jidNormalizedUser, normalizeMessageContent, type proto, type WAMessage } from 'baileys';
import type { ChannelHost } from '../channel.ts';
import type { WhatsappLink } from './link.ts';

/** Longer texts are no chat message a person typed: logged and skipped. */
const MAX_TEXT = 100_000;

/** Who this device is: the account's phone-number jid and, since WhatsApp's LIDs, its LID. */
export interface OwnIdentity { pn: string; lid?: string }

/**
 * Turns WhatsApp messages (`messages.upsert`, type "notify") into messages
 * for the core. A chat is a conversation: the direct chat's jid, or the
 * group's. Senders are phone numbers ("15551234567"; "<id>@lid" when WhatsApp
 * hides the number), so owners are configured as "whatsapp:15551234567".
 *
 * The account is the owner's own, so the owner's messages arrive as "from
 * me": they count in the chat with themselves ("Message yourself") and in
 * groups, never in the owner's direct chats with other people (those are
 * the owner talking to a friend). The channel's own replies are recognised by
 * their ids and skipped. Nothing is marked read: the account is a person's.
 * For the same reason a stranger's direct message is only ignored, unless
 * `pairStrangers` asks for pairing codes.
 *
 *   const inbound = new WhatsappInbound({ host, link: () => link, me: () => ({ pn: '15551234567@s.whatsapp.net' }), sentByUs, pairStrangers: false });
 *   sock.ev.on('messages.upsert', ({ messages, type }) => type === 'notify' && messages.forEach((m) => inbound.handle(m)));
 */
export class WhatsappInbound {
  constructor(private readonly opts: {
    host: ChannelHost;
    /** The current socket's link (a new one after each reconnect). */
    link: () => WhatsappLink | undefined;
    me: () => OwnIdentity | undefined;
    sentByUs: (id: string) => boolean;
    /** Answer unknown senders with a pairing code (channels.whatsapp.pairStrangers); otherwise only ignore them. */
    pairStrangers: boolean;
  }) {}

  /** Never throws: a message it cannot read is logged and skipped. */
  async handle(msg: WAMessage): Promise<void> {
    const { host } = this.opts;
    try {
      await this.receive(msg);
    } catch (err) {
      host.log.warn(`whatsapp: skipped message ${msg?.key?.id ?? '(no id)'}: ${(err as Error).message}`);
    }
  }

  private async receive(msg: WAMessage): Promise<void> {
    const { host } = this.opts;
    const link = this.opts.link();
    const me = this.opts.me();
    const key = msg.key;
    const id = key?.id;
    const chatJid = key?.remoteJid ? jidNormalizedUser(key.remoteJid) : '';
    if (!link || !me || !id || !chatJid || !msg.message) return;
    if (chatJid === 'status@broadcast' || chatJid.endsWith('@newsletter') || chatJid.endsWith('@broadcast')) return;
    if (this.opts.sentByUs(id)) return;
    const isGroup = !!isJidGroup(chatJid);
    const isMine = (jid: string | null | undefined) => !!jid && (areJidsSameUser(jid, me.pn) || (!!me.lid && areJidsSameUser(jid, me.lid)));
    if (key.fromMe && !isGroup && !isMine(chatJid)) return;

    // WhatsApp addresses people by LID or by phone number and gives the other
    // form as "Alt"; owners are configured by number, so the number wins.
    const senderJid = key.fromMe ? me.pn : isGroup ? phoneFirst(key.participant, key.participantAlt) : phoneFirst(chatJid, key.remoteJidAlt);
    if (!senderJid) return;
    const content = normalizeMessageContent(msg.message);
    if (!content) return;
    const context = contextOf(content);
    let text = content.conversation ?? content.extendedTextMessage?.text ?? content.imageMessage?.caption
      ?? content.videoMessage?.caption ?? content.documentMessage?.caption ?? '';
    if (text.length > MAX_TEXT) throw new Error(`a text of ${text.length} characters (over ${MAX_TEXT})`);

    const mentioned = (context?.mentionedJid ?? []).some(isMine)
      || (!!context?.stanzaId && this.opts.sentByUs(context.stanzaId));
    if (isGroup) text = stripLeadingMention(text, me);

    const media = mediaOf(content, id);
    if (!text && !media) return; // reactions, receipts, protocol messages
    const where = { chat: chatJid, thread: '' };
    const ctx = { isGroup, mentioned, ignoreStrangers: !this.opts.pairStrangers };
    const attachments: Array<{ name: string; data: Buffer; voice?: true }> = [];
    if (media) {
      if (media.size > host.attachmentLimit) {
        host.log.warn(`whatsapp: refused ${media.name} (${media.size} bytes, over ${host.attachmentLimit}) from ${senderId(senderJid)}`);
        // The channel cannot tell an approved sender from a stranger before the
        // core decides, and a stranger must not learn the agent exists: only
        // the owner's own messages, or direct chats when strangers are paired anyway, get the reason.
        if (key.fromMe || (!isGroup && this.opts.pairStrangers)) {
          await link.sendMessage(chatJid, { text: `That file is too large for me (${mb(media.size)}; the limit is ${mb(host.attachmentLimit)}). Please send a smaller one.` });
        }
        return;
      }
      // A voice note (push-to-talk audio) is marked so the gateway transcribes it; music and other audio stay files.
      attachments.push({ name: media.name, data: await link.download(msg), ...(media.voice ? { voice: true as const } : {}) });
    }
    const result = host.receive(where, {
      clientId: id,
      sender: senderId(senderJid),
      senderName: msg.pushName ?? undefined,
      text,
      attachments,
    }, ctx);
    if (!result.accepted) host.log.info(`whatsapp: message ${id} in ${chatJid} not passed on: ${result.reason}`);
  }
}

/** "15551234567" for a phone-number jid; the whole "<id>@lid" when WhatsApp gives only a LID. */
export function senderId(jid: string): string {
  const decoded = jidDecode(jid);
  if (!decoded) return jid;
  return isLidUser(jid) ? `${decoded.user}@lid` : decoded.user;
}

function phoneFirst(jid: string | null | undefined, alt: string | null | undefined): string {
  if (alt && isPnUser(alt) && !isPnUser(jid ?? undefined)) return alt;
  return jid || alt || '';
}

function contextOf(content: proto.IMessage): proto.IContextInfo | null | undefined {
  return content.extendedTextMessage?.contextInfo ?? content.imageMessage?.contextInfo ?? content.documentMessage?.contextInfo
    ?? content.audioMessage?.contextInfo ?? content.videoMessage?.contextInfo;
}

/** "@15551234567 /stop" reads as "/stop": the mention addressed the agent, the rest is the message. */
function stripLeadingMention(text: string, me: OwnIdentity): string {
  const users = [jidDecode(me.pn)?.user, me.lid ? jidDecode(me.lid)?.user : undefined].filter(Boolean) as string[];
  for (const user of users) {
    const match = new RegExp(`^\\s*@${user}\\b[\\s,:]*`).exec(text);
    if (match) return text.slice(match[0].length);
  }
  return text;
}

interface Media { name: string; size: number; voice?: boolean }

/** The file a message carries, its name made safe (no directories, no control characters) and its size as WhatsApp states it. */
function mediaOf(content: proto.IMessage, id: string): Media | undefined {
  const safeId = id.replace(/[^A-Za-z0-9]/g, '').slice(0, 40) || 'file';
  const size = (n: unknown) => Number(n ?? 0) || 0;
  if (content.imageMessage) return { name: `image-${safeId}.${extension(content.imageMessage.mimetype, 'jpg')}`, size: size(content.imageMessage.fileLength) };
  if (content.videoMessage) return { name: `video-${safeId}.${extension(content.videoMessage.mimetype, 'mp4')}`, size: size(content.videoMessage.fileLength) };
  if (content.audioMessage) {
    const a = content.audioMessage;
    return { name: `${a.ptt ? 'voice' : 'audio'}-${safeId}.${extension(a.mimetype, 'ogg')}`, size: size(a.fileLength), voice: !!a.ptt };
  }
  if (content.documentMessage) {
    const d = content.documentMessage;
    return { name: safeFileName(d.fileName) ?? `document-${safeId}.${extension(d.mimetype, 'bin')}`, size: size(d.fileLength) };
  }
  return undefined;
}

function safeFileName(name: string | null | undefined): string | undefined {
  if (!name) return undefined;
  const clean = basename(name.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f]/g, '').replace(/^\.+/, '').slice(0, 200).trim();
  return clean || undefined;
}

function extension(mimetype: string | null | undefined, fallback: string): string {
  const sub = (mimetype ?? '').split(';')[0].split('/')[1] ?? '';
  const known: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', ogg: 'ogg', mpeg: 'mp3', mp4: 'mp4', pdf: 'pdf', 'x-m4a': 'm4a', aac: 'aac', plain: 'txt' };
  return known[sub] ?? fallback;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
