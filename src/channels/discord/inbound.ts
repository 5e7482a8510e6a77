import { MessageType, type Message } from 'discord.js';
import type { ChannelHost } from '../channel.ts';
import { AttachmentError } from '../../inbox/attachments.ts';

/** Message types that are people writing: a plain message and a reply. Joins, pins, boosts and the like are not. */
const WRITTEN = new Set<MessageType>([MessageType.Default, MessageType.Reply]);
/** How long one attachment download may take before the message is refused. */
const DOWNLOAD_TIMEOUT_MS = 60_000;

export interface InboundDeps {
  host(): ChannelHost | undefined;
  botId(): string | undefined;
  /** A short note to the sender in the channel the message came from (a refused file). */
  notice(channelId: string, text: string, replyTo: string): Promise<void>;
}

/**
 * One Discord message in: which conversation it belongs to (a DM or a server
 * channel by its id; a thread is a conversation of its own under its parent
 * channel), who wrote it, whether it mentions the bot (the leading mention is
 * cut, so "@bot /stop" is the command "/stop"), and its files, downloaded
 * after their announced size was checked against the channel's limit. Never
 * throws: whatever goes wrong is logged and, where the sender should know,
 * told to them.
 *
 *   client.on('messageCreate', (m) => void inbound.handle(m));
 */
export class DiscordInbound {
  constructor(private readonly deps: InboundDeps) {}

  async handle(m: Message): Promise<void> {
    const host = this.deps.host();
    if (!host) return;
    try {
      await this.receive(host, m);
    } catch (err) {
      host.log.error(`discord: message ${m?.id ?? '?'} skipped: ${(err as Error)?.stack ?? err}`);
    }
  }

  private async receive(host: ChannelHost, m: Message): Promise<void> {
    const botId = this.deps.botId();
    if (!m?.id || !m.author?.id || !m.channelId) { host.log.warn('discord: a message without id, author or channel was skipped'); return; }
    // Other bots (and webhooks) are never senders: two agents answering each other would never stop.
    if (m.author.bot || m.webhookId || m.author.id === botId || m.system) return;
    if (!WRITTEN.has(m.type)) return;

    const isGroup = m.guildId !== null;
    const channel = m.channel;
    const inThread = !!channel && 'isThread' in channel && channel.isThread();
    const where = inThread ? { chat: channel.parentId ?? m.channelId, thread: m.channelId } : { chat: m.channelId, thread: '' };

    const { text, mentioned } = withoutMention(typeof m.content === 'string' ? m.content : '', botId, m.mentions?.users?.has(botId ?? '') ?? false);
    const files = [...(m.attachments?.values() ?? [])];
    if (!text.trim() && !files.length) return; // a sticker, an embed only: nothing to answer
    // In a server channel, nobody is told anything about a message not meant for the bot.
    const addressed = !isGroup || mentioned;

    const limit = host.attachmentLimit;
    const tooBig = files.find((f) => typeof f.size === 'number' && f.size > limit);
    if (tooBig) {
      if (addressed) await this.tell(m, `"${tooBig.name}" is ${mib(tooBig.size)}; files up to ${mib(limit)} reach the agent. Your message was not passed on: send a smaller file.`);
      return;
    }
    const attachments: Array<{ name: string; data: Buffer }> = [];
    for (const f of files) {
      try {
        attachments.push({ name: f.name || 'file', data: await download(f.url, limit) });
      } catch (err) {
        host.log.warn(`discord: attachment ${f.id} of message ${m.id}: ${(err as Error).message}`);
        if (addressed) await this.tell(m, `"${f.name}" could not be fetched from Discord (${(err as Error).message}). Your message was not passed on: send it again.`);
        return;
      }
    }

    const senderName = m.member?.displayName || m.author.globalName || m.author.username || undefined;
    try {
      // Durable once this returns; a message not for the agent (an unaddressed group message) is simply not taken.
      host.receive(where, { clientId: m.id, sender: m.author.id, senderName, text, attachments }, { isGroup, mentioned });
    } catch (err) {
      if (err instanceof AttachmentError && err.kind === 'too_large') { if (addressed) await this.tell(m, `${err.message} Your message was not passed on.`); return; }
      throw err;
    }
  }

  private async tell(m: Message, text: string): Promise<void> {
    await this.deps.notice(m.channelId, text, m.id).catch((err: Error) => this.deps.host()?.log.warn(`discord: could not tell the sender in ${m.channelId}: ${err.message}`));
  }
}

/**
 * The text without the bot's leading mention, and whether the bot was
 * mentioned at all. A mention further in is kept as "@bot" text.
 *
 *   withoutMention('<@42> /stop', '42', false); // { text: '/stop', mentioned: true }
 */
export function withoutMention(content: string, botId: string | undefined, listed: boolean): { text: string; mentioned: boolean } {
  if (!botId) return { text: content, mentioned: listed };
  const tag = new RegExp(`<@!?${botId}>`, 'g');
  const mentioned = listed || new RegExp(`<@!?${botId}>`).test(content);
  const text = content.replace(new RegExp(`^\\s*<@!?${botId}>[\\s,:]*`), '').replace(tag, '@bot');
  return { text, mentioned };
}

/** Fetches an attachment, refusing it once more than `limit` bytes came (an announced size can be wrong). */
async function download(url: string, limit: number): Promise<Buffer> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error(`not an http(s) URL: ${parsed.protocol}`);
  const res = await fetch(parsed, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS), redirect: 'follow' });
  if (!res.ok || !res.body) throw new Error(`download answered ${res.status}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > limit) throw new Error(`larger than ${mib(limit)}`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(n < 1024 * 1024 ? 2 : 1)} MiB`;
