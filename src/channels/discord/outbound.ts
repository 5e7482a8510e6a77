import { readFile } from 'node:fs/promises';
import { ButtonStyle, ComponentType, Routes, type REST } from 'discord.js';
import { DeliveryError, type OutboundPayload, type SendResult } from '../channel.ts';
import { formatForChannel } from '../format/index.ts';
import { deliveryError } from './errors.ts';

/** Discord's limits for a bot message: characters of content, files per message, buttons per row and rows. */
export const DISCORD_MAX_CHARS = 2000;
const FILES_PER_MESSAGE = 10;
const BUTTONS_PER_ROW = 5;
const ROWS_PER_MESSAGE = 5;
const BUTTON_LABEL_MAX = 80;

/** Nothing the agent writes pings anyone: no @everyone, no role, no user mention. */
const NO_PINGS = { parse: [] as never[] };

/** A button's custom_id: the question and the choice's index; the tap comes back with it (at most 100 chars). */
export function buttonId(questionId: number, index: number): string {
  return `nanoclaw:q:${questionId}:${index}`;
}

/** The question and choice index a tapped button carries, or null for a custom_id that is not ours. */
export function parseButtonId(customId: string): { questionId: number; index: number } | null {
  const m = /^nanoclaw:q:(\d{1,15}):(\d{1,3})$/.exec(customId);
  return m ? { questionId: Number(m[1]), index: Number(m[2]) } : null;
}

/** Where a conversation's messages go: the thread when it is one, else the channel (a DM is a channel too). */
export function targetOf(conversation: { chat: string; thread: string }): string {
  return conversation.thread || conversation.chat;
}

/**
 * Everything the bot writes to Discord, over REST (the gateway only
 * listens): replies split at 2000 characters in Discord's own Markdown,
 * files (10 per message), question buttons, the typing indicator, and the
 * progress message's edits and removal. Every failure leaves as a
 * `DeliveryError` the delivery worker understands.
 *
 *   const out = new DiscordOutbound(rest);
 *   await out.send({ chat: '123', thread: '' }, { kind: 'reply', text: 'hi', files: [], buttons: [] });
 */
export class DiscordOutbound {
  /** The values behind each question's buttons, by question id: a tap carries only the index. */
  readonly choices = new Map<number, string[]>();

  constructor(private readonly rest: REST) {}

  async send(conversation: { chat: string; thread: string }, payload: OutboundPayload): Promise<SendResult> {
    const target = targetOf(conversation);
    const messages = await this.compose(payload);
    // Parts an earlier attempt posted (the core keeps their ids, `resumeAt`): when part 3 of 4 hit a
    // long rate limit, the retry goes on from part 3 instead of posting parts 1 and 2 again.
    const done: string[] = [];
    try {
      for (let i = payload.resumeAt ?? 0; i < messages.length; i++) {
        const { body, files } = messages[i];
        const sent = await this.rest.post(Routes.channelMessages(target), { body, files }) as { id: string };
        done.push(sent.id);
      }
    } catch (err) {
      const failure = deliveryError(err, `message to channel ${target}`);
      throw new DeliveryError(failure.kind, failure.message, { retryAfterMs: failure.retryAfterMs, cause: failure.cause, delivered: done });
    }
    if (payload.questionId !== undefined && payload.buttons.length) this.choices.set(payload.questionId, payload.buttons.map((b) => b.value));
    return { platformIds: done };
  }

  /**
   * The platform messages for one payload: the text's parts in order; the
   * first ten files and the buttons ride on the last part (so the question
   * and its buttons are one message); further files follow ten at a time.
   */
  private async compose(payload: OutboundPayload): Promise<Array<{ body: Record<string, unknown>; files?: Array<{ name: string; data: Buffer }> }>> {
    const parts = payload.text.trim() ? formatForChannel(payload.text, 'discord', { maxLength: DISCORD_MAX_CHARS }) : [];
    const files = await Promise.all(payload.files.map(async (f) => ({ name: f.name, data: await readFile(f.path) })));
    const batches: Array<typeof files> = [];
    for (let i = 0; i < files.length; i += FILES_PER_MESSAGE) batches.push(files.slice(i, i + FILES_PER_MESSAGE));
    const components = payload.questionId !== undefined && payload.buttons.length ? buttonRows(payload.questionId, payload.buttons) : undefined;
    if (!parts.length && !batches.length && !components) return [];
    if (!parts.length) parts.push('');
    const messages = parts.map((content) => ({ body: { content, allowed_mentions: NO_PINGS } as Record<string, unknown>, files: undefined as typeof files | undefined }));
    const last = messages[messages.length - 1];
    if (components) last.body.components = components;
    const [first, ...rest] = batches;
    if (first) attach(last, first);
    for (const batch of rest) messages.push(attach({ body: { content: '', allowed_mentions: NO_PINGS }, files: undefined }, batch));
    return messages;
  }

  /** Replaces a message's text (the progress message); only its first 2000 characters show. */
  async edit(conversation: { chat: string; thread: string }, messageId: string, text: string): Promise<void> {
    const content = formatForChannel(text, 'discord', { maxLength: DISCORD_MAX_CHARS })[0] ?? '…';
    try {
      await this.rest.patch(Routes.channelMessage(targetOf(conversation), messageId), { body: { content, allowed_mentions: NO_PINGS } });
    } catch (err) { throw deliveryError(err, `edit of message ${messageId}`); }
  }

  /** Deletes a message the bot sent; one that is already gone counts as removed. */
  async remove(conversation: { chat: string; thread: string }, messageId: string): Promise<void> {
    try {
      await this.rest.delete(Routes.channelMessage(targetOf(conversation), messageId));
    } catch (err) {
      const failure = deliveryError(err, `removal of message ${messageId}`);
      if ((err as { code?: unknown }).code === 10008) return;
      throw failure;
    }
  }

  /** Shows "<bot> is typing…" in the channel for about ten seconds, or until the bot's next message. */
  async typing(conversation: { chat: string; thread: string }): Promise<void> {
    try {
      await this.rest.post(Routes.channelTyping(targetOf(conversation)));
    } catch (err) { throw deliveryError(err, `typing in channel ${targetOf(conversation)}`); }
  }

  /** A short note straight to a channel, outside the delivery queue (a refused file, a closed question). */
  async notice(channelId: string, text: string, replyTo?: string): Promise<void> {
    const body: Record<string, unknown> = { content: formatForChannel(text, 'discord', { maxLength: DISCORD_MAX_CHARS })[0], allowed_mentions: NO_PINGS };
    if (replyTo) body.message_reference = { message_id: replyTo, fail_if_not_exists: false };
    await this.rest.post(Routes.channelMessages(channelId), { body });
  }
}

function attach<T extends { body: Record<string, unknown>; files?: Array<{ name: string; data: Buffer }> }>(message: T, files: Array<{ name: string; data: Buffer }>): T {
  message.files = files;
  message.body.attachments = files.map((f, id) => ({ id, filename: f.name }));
  return message;
}

/** Up to 25 buttons, five to a row; a label longer than Discord's 80 characters is shortened (the value is kept apart). */
function buttonRows(questionId: number, buttons: OutboundPayload['buttons']) {
  const rows = [];
  const shown = buttons.slice(0, BUTTONS_PER_ROW * ROWS_PER_MESSAGE);
  for (let i = 0; i < shown.length; i += BUTTONS_PER_ROW) {
    rows.push({
      type: ComponentType.ActionRow,
      components: shown.slice(i, i + BUTTONS_PER_ROW).map((b, j) => ({
        type: ComponentType.Button, style: ButtonStyle.Primary, custom_id: buttonId(questionId, i + j),
        label: [...b.label].length > BUTTON_LABEL_MAX ? [...b.label].slice(0, BUTTON_LABEL_MAX - 1).join('') + '…' : b.label || '…',
      })),
    });
  }
  return rows;
}
