/**
 * NanoClaw messages out to Slack: text in mrkdwn split at 4000 characters, question buttons as
 * Block Kit, files through files.uploadV2, and the progress message edited and deleted in place.
 * A conversation is a Slack channel (`chat`) and, for a thread, its parent's ts (`thread`).
 */
import { readFile } from 'node:fs/promises';
import type { WebClient } from '@slack/web-api';
import { DeliveryError, type OutboundPayload, type SendResult } from '../channel.ts';
import { formatForChannel } from '../format/index.ts';
import type { Conversation } from '../../store/store.ts';
import { questionBlocks } from './blocks.ts';
import { toDeliveryError } from './errors.ts';

/** Slack truncates `text` at 40 000 characters but advises at most 4000 per message. */
export const SLACK_MAX_TEXT = 4000;
/** A section block's text holds at most 3000 characters: a question's text is split to that. */
const SECTION_MAX = 3000;

/**
 * Sends, edits and deletes messages with the bot token's WebClient.
 *
 *   const out = new SlackOutbound(web);
 *   const { platformIds } = await out.send(conversation, { kind: 'reply', text: 'Hi', files: [], buttons: [] });
 */
export class SlackOutbound {
  constructor(private readonly web: WebClient) {}

  async send(conversation: Conversation, payload: OutboundPayload): Promise<SendResult> {
    const where = place(conversation);
    const withButtons = payload.buttons.length > 0 && payload.questionId !== undefined;
    const parts = payload.text.trim() ? formatForChannel(payload.text, 'slack-mrkdwn', { maxLength: withButtons ? SECTION_MAX : SLACK_MAX_TEXT }) : [];
    if (withButtons && parts.length === 0) parts.push('');
    // One id per part (text parts, then files), so an attempt after a failure
    // skips what went out (`resumeAt`, kept by the core) and repeats nothing.
    const ids: string[] = [];
    const skip = payload.resumeAt ?? 0;
    const failed = (err: unknown, what: string) => {
      const e = toDeliveryError(err, what);
      return new DeliveryError(e.kind, e.message, { retryAfterMs: e.retryAfterMs, cause: e.cause, delivered: ids });
    };
    for (const [i, part] of parts.entries()) {
      if (i < skip) continue;
      const last = i === parts.length - 1;
      const blocks = withButtons && last ? questionBlocks(part, payload.buttons, payload.questionId!) : undefined;
      try {
        const res = await this.web.chat.postMessage({ ...where, text: part || payload.buttons.map((b) => b.label).join(' / '), ...(blocks ? { blocks } : {}) } as never);
        ids.push(typeof res.ts === 'string' ? res.ts : '');
      } catch (err) {
        throw failed(err, `chat.postMessage to ${conversation.chat}${i ? ` (after ${i} of ${parts.length} parts were sent)` : ''}`);
      }
    }
    for (const [j, file] of payload.files.entries()) {
      if (parts.length + j < skip) continue;
      let data: Buffer;
      try { data = await readFile(file.path); } catch (err) {
        throw failed(new Error(`cannot read ${file.name} (${(err as Error).message})`), 'files.uploadV2');
      }
      try {
        const res = await this.web.filesUploadV2({ channel_id: where.channel, ...(where.thread_ts ? { thread_ts: where.thread_ts } : {}), file: data, filename: file.name, title: file.name } as never);
        const uploaded = ((res as { files?: Array<{ files?: Array<{ id?: string }> }> }).files ?? []).flatMap((d) => d.files ?? []).map((f) => f.id).filter(Boolean);
        ids.push(uploaded[0] ?? '');
      } catch (err) {
        throw failed(err, `files.uploadV2 of ${file.name} to ${conversation.chat}`);
      }
    }
    return { platformIds: ids };
  }

  /** Replaces a sent message's text (the progress message); Markdown in, mrkdwn out, one message's worth. */
  async edit(conversation: Conversation, ts: string, text: string): Promise<void> {
    const [first = ''] = formatForChannel(text, 'slack-mrkdwn', { maxLength: SLACK_MAX_TEXT });
    try {
      await this.web.chat.update({ channel: conversation.chat, ts, text: first || '…' });
    } catch (err) {
      throw toDeliveryError(err, `chat.update of ${ts} in ${conversation.chat}`);
    }
  }

  async remove(conversation: Conversation, ts: string): Promise<void> {
    try {
      await this.web.chat.delete({ channel: conversation.chat, ts });
    } catch (err) {
      throw toDeliveryError(err, `chat.delete of ${ts} in ${conversation.chat}`);
    }
  }
}

/** Where a conversation's messages go: the channel, and the thread when it is one. */
function place(conversation: Conversation): { channel: string; thread_ts?: string } {
  return conversation.thread ? { channel: conversation.chat, thread_ts: conversation.thread } : { channel: conversation.chat };
}
